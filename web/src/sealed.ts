/**
 * Sealed bids between commit and reveal, kept in this browser's localStorage (per chain, market and
 * account) before the commit is sent, so a reload or a new tab still reveals. The reveal runs by
 * itself once the reveal window opens, while the owner is signed in in any tab: through the
 * portal's relayer when there is one (an opening needs no signature), else, or when the relayer
 * cannot carry it, as the account's own transaction (carry.ts).
 */
import { signal } from "@preact/signals";
import { SealedBid, Side, SideValue, commitmentOf, decodeRevert } from "../../lib/market";
import { Carriage, carry } from "./carry";
import type { MarketClient } from "./chain";
import { explain } from "./errors";
import { session } from "./session";
import { now } from "./store";

export type BidState = "committed" | "revealed" | "missed";

/** What opens a commitment. */
export interface Opening {
  side: SideValue;
  energyWh: string;
  priceWeiPerKWh: string;
  salt: string;
}

export interface StoredBid extends Opening {
  interval: number;
  state: BidState;
  /**
   * Bids this one replaced, kept while it is not sure which the chain holds (a replacing commit
   * that failed, or that the relayer still holds): the reveal opens whichever does.
   */
  previous?: Opening[];
  /** The receipts of its commit and reveal (transaction, block, who carried it). */
  commit?: Carriage;
  reveal?: Carriage;
  error?: string;
}

export const storedBids = signal<StoredBid[]>([]);

const key = (client: MarketClient, address: string) => `grid-ledger/bids/${client.config.chainId}/${client.config.market}/${address}`.toLowerCase();

export function loadBids(client: MarketClient, address: string) {
  try {
    storedBids.value = JSON.parse(localStorage.getItem(key(client, address)) ?? "[]") as StoredBid[];
  } catch {
    storedBids.value = [];
  }
}

function saveBids(client: MarketClient, address: string, bids: StoredBid[]) {
  const keep = bids.sort((a, b) => b.interval - a.interval).slice(0, 200);
  localStorage.setItem(key(client, address), JSON.stringify(keep));
  storedBids.value = keep;
}

/** Keep the sealed bid (before the commit is sent: a lost salt forfeits the bid), with the ones it replaces. */
export function keepBid(client: MarketClient, address: string, bid: SealedBid, previous: Opening[] = []) {
  const others = storedBids.value.filter((b) => b.interval !== bid.interval);
  saveBids(client, address, [
    ...others,
    {
      interval: bid.interval,
      side: bid.side,
      energyWh: bid.energyWh.toString(),
      priceWeiPerKWh: bid.priceWeiPerKWh.toString(),
      salt: bid.salt,
      state: "committed",
      previous: previous.length ? previous.map((o) => ({ side: o.side, energyWh: o.energyWh, priceWeiPerKWh: o.priceWeiPerKWh, salt: o.salt })) : undefined,
    },
  ]);
}

/** The sealed bid a stored opening stands for. */
export const sealedOf = (interval: number, o: Opening): SealedBid => ({ interval, side: o.side, energyWh: BigInt(o.energyWh), priceWeiPerKWh: BigInt(o.priceWeiPerKWh), salt: o.salt });

export function updateBid(client: MarketClient, address: string, interval: number, change: Partial<StoredBid>) {
  saveBids(
    client,
    address,
    storedBids.value.map((b) => (b.interval === interval ? { ...b, ...change } : b)),
  );
}

export function forgetBid(client: MarketClient, address: string, interval: number) {
  saveBids(
    client,
    address,
    storedBids.value.filter((b) => b.interval !== interval),
  );
}

const inFlight = new Set<number>();

/** Called every clock tick: reveal what is due, mark what was missed. */
export async function revealDue(client: MarketClient) {
  const s = session.value;
  if (!s) return;
  const t = now.value;
  for (const b of storedBids.value) {
    if (b.state !== "committed" || inFlight.has(b.interval)) continue;
    const w = client.times(b.interval);
    if (t < w.revealStart) continue;
    inFlight.add(b.interval);
    void (async () => {
      try {
        const id = await client.market.idOf(s.address);
        const onChain = await client.market.bidOf(b.interval, id);
        if (onChain.revealed) return updateBid(client, s.address, b.interval, { state: "revealed" });
        if (now.value >= w.revealEnd) return updateBid(client, s.address, b.interval, { state: "missed" });
        const p = await client.market.participant(id);
        const opening = await openingOnChain(client, s.address, id, p.green, b);
        // the replacement never took effect: the table shows the bid the chain holds
        if (opening.open !== b) updateBid(client, s.address, b.interval, { ...opening.open, previous: undefined });
        const { open, hint } = opening;
        const reveal = await carry(client, {
          label: `revealing the bid for interval ${b.interval}`,
          kind: "reveal",
          message: async () => ({
            interval: b.interval,
            participant: id,
            side: open.side === Side.Sell ? "sell" : "buy",
            energyWh: open.energyWh,
            priceWeiPerKWh: open.priceWeiPerKWh,
            salt: open.salt,
            hintPrevId: hint,
          }),
          direct: (m) => m.revealBid(b.interval, open.side, BigInt(open.energyWh), BigInt(open.priceWeiPerKWh), open.salt, hint),
          done: async () => (await client.market.bidOf(b.interval, id)).revealed,
          onUpdate: (c) => updateBid(client, s.address, b.interval, { reveal: c }),
        });
        updateBid(client, s.address, b.interval, { state: "revealed", reveal, previous: undefined, error: undefined });
      } catch (e) {
        // too early by the node's clock, or the node is away: the next tick tries again
        updateBid(client, s.address, b.interval, { error: explain(e) });
      } finally {
        inFlight.delete(b.interval);
      }
    })();
  }
}

/**
 * Which stored opening the chain's commitment takes, with its position hint: the bid itself, or,
 * when it keeps bids it replaced and only one of those opens the commitment (the replacement never
 * took effect), that one. Asked with calls from the account, nothing sent.
 */
async function openingOnChain(client: MarketClient, address: string, id: bigint, green: boolean, b: StoredBid) {
  const candidate = async (open: Opening) => ({ open, hint: await client.market.revealHint(b.interval, id, open.side, green, BigInt(open.priceWeiPerKWh)) });
  const opens = (c: Awaited<ReturnType<typeof candidate>>) =>
    client.market.revealBid
      .staticCall(b.interval, c.open.side, BigInt(c.open.energyWh), BigInt(c.open.priceWeiPerKWh), c.open.salt, c.hint, { from: address })
      .then(() => true)
      .catch((e) => decodeRevert(e)?.name !== "BadReveal");
  const mine = await candidate(b);
  if (!b.previous || (await opens(mine))) return mine;
  for (const o of b.previous) {
    const c = await candidate(o);
    if (await opens(c)) return c;
  }
  return mine;
}

/**
 * The stored opening (the bid, or one it replaced) of the commitment the chain holds for `d`: the
 * newest BidCommitted of the interval. Undefined when none of them is (another browser bid).
 */
export async function heldOpening(client: MarketClient, address: string, id: number, b: StoredBid): Promise<Opening | undefined> {
  const held = (await client.logs(["BidCommitted"], [b.interval, id])).at(-1)?.args.commitment;
  const of = (o: Opening) => commitmentOf(BigInt(client.config.chainId), client.config.market, address, sealedOf(b.interval, o));
  return [b, ...(b.previous ?? [])].find((o) => of(o) === held);
}
