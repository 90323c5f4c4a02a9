/**
 * Sealed bids between commit and reveal, kept in this browser's localStorage (per chain, market and
 * account) before the commit is sent, so a reload or a new tab still reveals. The reveal runs by
 * itself once the reveal window opens, while the owner is signed in in any tab: through the
 * portal's relayer when there is one (an opening needs no signature), else, or when the relayer
 * cannot carry it, as the account's own transaction (carry.ts).
 */
import { signal } from "@preact/signals";
import { SealedBid, Side, SideValue } from "../../lib/market";
import { Carriage, carry } from "./carry";
import type { MarketClient } from "./chain";
import { explain } from "./errors";
import { session } from "./session";
import { now } from "./store";

export type BidState = "committed" | "revealed" | "missed";

export interface StoredBid {
  interval: number;
  side: SideValue;
  energyWh: string;
  priceWeiPerKWh: string;
  salt: string;
  state: BidState;
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

/** Keep the sealed bid (before the commit is sent: a lost salt forfeits the bid). */
export function keepBid(client: MarketClient, address: string, bid: SealedBid) {
  const others = storedBids.value.filter((b) => b.interval !== bid.interval);
  saveBids(client, address, [
    ...others,
    { interval: bid.interval, side: bid.side, energyWh: bid.energyWh.toString(), priceWeiPerKWh: bid.priceWeiPerKWh.toString(), salt: bid.salt, state: "committed" },
  ]);
}

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
        const hint = await client.market.revealHint(b.interval, id, b.side, p.green, BigInt(b.priceWeiPerKWh));
        const reveal = await carry(client, {
          label: `revealing the bid for interval ${b.interval}`,
          kind: "reveal",
          message: async () => ({
            interval: b.interval,
            participant: id,
            side: b.side === Side.Sell ? "sell" : "buy",
            energyWh: b.energyWh,
            priceWeiPerKWh: b.priceWeiPerKWh,
            salt: b.salt,
            hintPrevId: hint,
          }),
          direct: (m) => m.revealBid(b.interval, b.side, BigInt(b.energyWh), BigInt(b.priceWeiPerKWh), b.salt, hint),
          done: async () => (await client.market.bidOf(b.interval, id)).revealed,
          onUpdate: (c) => updateBid(client, s.address, b.interval, { reveal: c }),
        });
        updateBid(client, s.address, b.interval, { state: "revealed", reveal, error: undefined });
      } catch (e) {
        // too early by the node's clock, or the node is away: the next tick tries again
        updateBid(client, s.address, b.interval, { error: explain(e) });
      } finally {
        inFlight.delete(b.interval);
      }
    })();
  }
}
