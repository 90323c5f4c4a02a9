/**
 * The relayer: the paper's back end carrying prosumers' and meters' signed messages to the market, so
 * they never need ether for gas. Each message is validated (shape), its signature checked, its effect
 * simulated from the signer's account (a call the market would refuse is refused here, with the
 * market's own error), then queued; queues become one batch transaction per kind (and interval) per
 * flush, sent and paid for by the operator's Sender. Every message gets a receipt that moves from
 * queued to sent (transaction hash) to included (block) or skipped (the entry's EntrySkipped reason).
 * The HTTP face is lib/relay-http.ts (used by the portal's server and by cycle:run).
 */
import { Interface, TypedDataDomain, verifyTypedData } from "ethers";
import { z } from "zod";
import type { EnergyMarket } from "../typechain-types";
import { explainRevert } from "./errors";
import { decodeRevert } from "./market";
import { TYPES, ZERO_HASH } from "./signed";
import { sleep, type Sender, type SenderEvent, type Sent } from "./sender";

// ------------------------------------------------------------------ message shapes

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "expected 0x and 64 hex digits");
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "expected an address (0x and 40 hex digits)");
const uint = (bits: number) =>
  z
    .union([z.string().regex(/^\d+$/, "expected a whole number"), z.number().int().nonnegative()])
    .transform((v) => BigInt(v))
    .refine((v) => v < 1n << BigInt(bits), `expected a number below 2^${bits}`);

const signature = { r: hex32, vs: hex32 };

export const SCHEMAS = {
  commit: z.strictObject({ interval: uint(32), participant: uint(32), commitment: hex32, replaces: hex32.optional(), ...signature }),
  reveal: z.strictObject({
    interval: uint(32),
    participant: uint(32),
    side: z.enum(["sell", "buy"]),
    energyWh: uint(64),
    priceWeiPerKWh: uint(64),
    salt: hex32,
    hintPrevId: uint(32).optional(),
  }),
  reading: z.strictObject({ meterNumber: uint(64), interval: uint(32), importWh: uint(64), exportWh: uint(64), ...signature }),
  registration: z.strictObject({ account: address, name: z.string().min(1).max(64), green: z.boolean(), ...signature }),
  acceptance: z.strictObject({ participant: uint(32), proposal: hex32, ...signature }),
  withdrawal: z.strictObject({ participant: uint(32), amount: uint(256), nonce: uint(32), ...signature }),
};
export type RelayKind = keyof typeof SCHEMAS;
export const RELAY_KINDS = Object.keys(SCHEMAS) as RelayKind[];
type Message<K extends RelayKind> = z.output<(typeof SCHEMAS)[K]>;

/** A message refused before anything was sent: `status` is the HTTP status a server answers with. */
export class RelayRefused extends Error {
  override readonly name = "RelayRefused";

  constructor(
    readonly status: 400 | 403 | 409 | 413 | 429,
    message: string,
  ) {
    super(message);
  }

  /**
   * Whether `e` is a refusal, also one thrown by another copy of this module: an ES-module program
   * (the portal's server under tsx) may load this file twice, once as it imports it and once as
   * lib/relay-http.ts requires it, and `instanceof` tells the two classes apart.
   */
  static is(e: unknown): e is RelayRefused {
    return e instanceof Error && e.name === "RelayRefused" && typeof (e as { status?: unknown }).status === "number";
  }
}

// ------------------------------------------------------------------ receipts

export type RelayStatus = "queued" | "sent" | "included" | "skipped" | "failed";

export interface RelayReceipt {
  id: string;
  kind: RelayKind;
  status: RelayStatus;
  /** The batch transaction carrying it (once sent). */
  hash?: string;
  /** Its position in that batch. */
  index?: number;
  block?: number;
  /** Why it was skipped or failed, in words. */
  reason?: string;
  /** The market's custom error behind it, as `Name(args)`. */
  error?: string;
}

interface Pending<K extends RelayKind = RelayKind> {
  receipt: RelayReceipt;
  message: Message<K>;
}

export interface RelayerOptions {
  market: EnergyMarket;
  /** The operator's sender: pays for every batch. */
  sender: Sender;
  domain: TypedDataDomain;
  /** Entries per batch transaction (default 100, at most the market's maxBatch). */
  maxBatch?: number;
  /** How long a queue waits for more entries before it is sent (default 1000 ms: about a block). */
  flushMs?: number;
  /** Receipts kept for lookups (default 100,000). */
  keepReceipts?: number;
  log?: (e: Record<string, unknown>) => void;
}

type Batch = { kind: RelayKind; id: string; entries: Pending[] };

/** How often a flush waiting for the next block asks for the head. */
const BLOCK_POLL_MS = 200;

/** Batches per kind: commits and reveals per interval, the rest together. */
const BATCHED: Partial<Record<RelayKind, true>> = { commit: true, reveal: true, reading: true, registration: true };

export class Relayer {
  private readonly receipts = new Map<string, RelayReceipt>();
  private readonly queues = new Map<string, Pending[]>();
  private readonly byBatch = new Map<string, Pending[]>();
  /**
   * Participants' accounts by ID: an ID is never given to another account, so one read each (a call
   * saved per message). Should a reorg ever re-number registrations, a message checked against
   * a stale entry is still checked by the market itself, which skips it with EntrySkipped.
   */
  private readonly accounts = new Map<bigint, string>();
  private readonly iface: Interface;
  private timer: NodeJS.Timeout | undefined;
  private nextId = 0;
  private nextBatch = 0;
  /** The last dispatch to the sender: the next one goes once it is broadcast. */
  private dispatching: Promise<unknown> = Promise.resolve();
  /** Full batches waiting for the dispatch that takes them. */
  private readonly fullBatches: Batch[] = [];
  private fullDispatch: Promise<void> | undefined;
  /** Dispatched batches not yet mined and confirmed (or failed). */
  private readonly inFlight = new Set<Promise<void>>();
  /** The chain's head when the last dispatch was broadcast. */
  private lastSentAtBlock = -1;
  /** The flush waiting for the batches in flight; later calls join it instead of queueing another. */
  private nextFlush: Promise<void> | undefined;
  private readonly o: Required<Omit<RelayerOptions, "log">> & Pick<RelayerOptions, "log">;

  constructor(options: RelayerOptions) {
    this.o = { maxBatch: 100, flushMs: 1000, keepReceipts: 100_000, ...options };
    this.iface = options.market.interface as unknown as Interface;
  }

  /** The sender's log, to be passed as its `log` option: it moves a batch's receipts to "sent". */
  readonly onSenderEvent = (e: SenderEvent) => {
    const batch = typeof e.batch === "string" ? this.byBatch.get(e.batch) : undefined;
    if (!batch || (e.event !== "sent" && e.event !== "replaced")) return;
    for (const p of batch) Object.assign(p.receipt, { status: "sent", hash: String(e.tx) });
  };

  /** Validate, check and queue one message; resolves with its receipt (status "queued"). */
  async submit(kind: RelayKind, body: unknown): Promise<RelayReceipt> {
    if (!RELAY_KINDS.includes(kind)) throw new RelayRefused(400, `unknown message kind ${JSON.stringify(kind)}: expected one of ${RELAY_KINDS.join(", ")}`);
    const parsed = SCHEMAS[kind].safeParse(body);
    if (!parsed.success) throw new RelayRefused(400, `bad ${kind}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ")}`);
    const message = parsed.data as Message<RelayKind>;
    const signer = await this.check(kind, message);
    const receipt: RelayReceipt = { id: `${kind}-${++this.nextId}-${signer.slice(2, 10).toLowerCase()}`, kind, status: "queued" };
    this.remember(receipt);
    this.enqueue(kind, { receipt, message });
    return { ...receipt };
  }

  receipt(id: string): RelayReceipt | undefined {
    const r = this.receipts.get(id);
    return r && { ...r };
  }

  /**
   * Send whatever is queued, every batch at once (consecutive nonces), and wait for them. While
   * batches are in flight, a flush waits for the next block (those batches are then in it, or will
   * not be in any sooner); messages keep queueing meanwhile and are cut into batches only when its
   * turn comes, so at a low rate one flush carries all of them, in batches as full as maxBatch
   * allows. A queue that fills a whole batch does not wait (see enqueue).
   */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.nextFlush) {
      const run = this.nextBlock().then(() => {
        this.nextFlush = undefined;
        return this.dispatch(() => this.takeQueued());
      });
      this.nextFlush = run;
    }
    return this.nextFlush;
  }

  /**
   * Resolves once no batch is in flight, or a block came after the last batch was broadcast. Never
   * rejects: while the node does not answer it keeps waiting (the batches in flight end either way).
   */
  private async nextBlock(): Promise<void> {
    const provider = this.o.market.runner!.provider!;
    const head = () => provider.getBlockNumber().catch(() => -1);
    while (this.inFlight.size && (await head()) <= this.lastSentAtBlock) await sleep(BLOCK_POLL_MS);
  }

  /** Everything queued, cut into batches of at most maxBatch entries of one kind; the queues empty. */
  private takeQueued(): Batch[] {
    const batches: Batch[] = this.fullBatches.splice(0);
    for (const [key, entries] of this.queues) {
      const kind = key.split(":")[0] as RelayKind;
      for (let i = 0; i < entries.length; i += this.o.maxBatch) batches.push({ kind, id: `relay-${++this.nextBatch}`, entries: entries.slice(i, i + this.o.maxBatch) });
    }
    this.queues.clear();
    return batches;
  }

  /** Stop the flush timer (queued messages stay queued). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  // ---------------------------------------------------------------- checks

  /**
   * The signature is the right key's, and the market would take the message now: returns the signer.
   * Reads that do not depend on each other go to the node together (a commit's held bid with its
   * participant's account, then with the simulation); nothing is simulated before the signature is
   * found right, and the refusals are judged in order (participant, signature, what is held, the
   * market's answer), so a message gets the same reason whichever answer comes back first.
   */
  private async check(kind: RelayKind, m: Message<RelayKind>): Promise<string> {
    const market = this.o.market;
    switch (kind) {
      case "commit": {
        const c = m as Message<"commit">;
        const held = settledLater(market.bidOf(c.interval, c.participant));
        const account = await this.participantAccount(c.participant);
        this.requireSigner(account, "Commit", { participant: c.participant, interval: c.interval, commitment: c.commitment, replaces: c.replaces ?? ZERO_HASH }, c);
        const simulated = settledLater(this.simulate(() => market.commitBid.staticCall(c.interval, c.commitment, { from: account })));
        const { committed } = await held;
        if (committed !== ((c.replaces ?? ZERO_HASH) !== ZERO_HASH)) {
          throw new RelayRefused(409, committed ? "a commitment is already held for this interval: name it in `replaces` to replace it" : "`replaces` names a commitment, but none is held");
        }
        await simulated;
        return account;
      }
      case "reveal": {
        const o = m as Message<"reveal">;
        const account = await this.participantAccount(o.participant);
        const side = o.side === "sell" ? 0 : 1;
        await this.simulate(() => market.revealBid.staticCall(o.interval, side, o.energyWh, o.priceWeiPerKWh, o.salt, o.hintPrevId ?? 0n, { from: account }));
        return account;
      }
      case "reading": {
        const r = m as Message<"reading">;
        const meter = verifyTypedData(this.o.domain, { Reading: TYPES.Reading }, { meterNumber: r.meterNumber, interval: r.interval, importWh: r.importWh, exportWh: r.exportWh }, this.join(r));
        if ((await market.participantOfMeter(meter)) === 0n) throw new RelayRefused(403, `the reading is signed by ${meter}, which is no bound meter's key`);
        await this.simulate(() => market.postReading.staticCall(r.meterNumber, r.interval, r.importWh, r.exportWh, { from: meter }));
        return meter;
      }
      case "registration": {
        const g = m as Message<"registration">;
        this.requireSigner(g.account, "Registration", { account: g.account, name: g.name, green: g.green }, g);
        await this.simulate(() => market.register.staticCall(g.name, g.green, { from: g.account }));
        return g.account;
      }
      case "acceptance": {
        const a = m as Message<"acceptance">;
        const account = await this.participantAccount(a.participant);
        this.requireSigner(account, "MeterAcceptance", { participant: a.participant, proposal: a.proposal }, a);
        await this.simulate(() => market.acceptMeter.staticCall(a.proposal, { from: account }));
        return account;
      }
      case "withdrawal": {
        const w = m as Message<"withdrawal">;
        const account = await this.participantAccount(w.participant);
        this.requireSigner(account, "Withdrawal", { participant: w.participant, amount: w.amount, nonce: w.nonce }, w);
        const expected = await market.withdrawalNonce(w.participant);
        if (w.nonce !== expected) throw new RelayRefused(409, `withdrawal nonce ${w.nonce} is not the participant's next one (${expected}): a replay, or an older message`);
        await this.simulate(() => market.withdraw.staticCall(w.amount, { from: account }));
        return account;
      }
    }
  }

  /** The account of participant `id`, read once (see `accounts`); an unknown ID is refused. */
  private async participantAccount(id: bigint): Promise<string> {
    const known = this.accounts.get(id);
    if (known) return known;
    let account: string;
    try {
      account = (await this.o.market.participant(id)).account;
    } catch (e) {
      if (decodeRevert(e)?.name === "UnknownParticipant") throw new RelayRefused(409, `no participant with ID ${id}`);
      throw e;
    }
    this.accounts.set(id, account);
    return account;
  }

  private join(s: { r: string; vs: string }): string {
    const vs = BigInt(s.vs);
    const v = vs >> 255n ? 28 : 27;
    const sValue = vs & ((1n << 255n) - 1n);
    return s.r + sValue.toString(16).padStart(64, "0") + v.toString(16);
  }

  private requireSigner(account: string, type: keyof typeof TYPES, value: Record<string, unknown>, sig: { r: string; vs: string }) {
    let signer: string;
    try {
      signer = verifyTypedData(this.o.domain, { [type]: TYPES[type] }, value, this.join(sig));
    } catch {
      throw new RelayRefused(400, "the signature is malformed");
    }
    if (signer.toLowerCase() !== account.toLowerCase()) throw new RelayRefused(403, `the ${type} is signed by ${signer}, not by the participant's account ${account}`);
  }

  /** The market's answer to the message's effect, from the signer's account; a refusal is refused here. */
  private async simulate(call: () => Promise<unknown>) {
    try {
      await call();
    } catch (e) {
      const revert = decodeRevert(e);
      if (revert) throw new RelayRefused(409, `the market refuses it: ${explainRevert(revert)} (${revert.name})`);
      throw e;
    }
  }

  // ---------------------------------------------------------------- batches

  private enqueue(kind: RelayKind, p: Pending) {
    const interval = "interval" in p.message && (kind === "commit" || kind === "reveal") ? `:${p.message.interval}` : "";
    const key = BATCHED[kind] ? `${kind}${interval}` : `${kind}:${p.receipt.id}`;
    const queue = this.queues.get(key) ?? [];
    queue.push(p);
    this.queues.set(key, queue);
    // a full batch leaves at once, even while others wait for their block: at a high rate the
    // relayer keeps several in flight rather than one flush per block or two
    if (queue.length >= this.o.maxBatch) {
      this.fullBatches.push({ kind, id: `relay-${++this.nextBatch}`, entries: queue.splice(0, this.o.maxBatch) });
      // one dispatch waiting for its turn at a time: it takes every full batch made until then
      this.fullDispatch ??= this.dispatch(() => {
        this.fullDispatch = undefined;
        return this.fullBatches.splice(0);
      });
    } else if (!this.timer) this.timer = setTimeout(() => void this.flush().catch((e) => this.o.log?.({ event: "flush-failed", error: String(e) })), this.o.flushMs);
  }

  /**
   * Send the batches `take` cuts once the dispatch before is broadcast (so they are as full as the
   * wait allowed); resolves once they are mined and recorded.
   */
  private dispatch(take: () => Batch[]): Promise<void> {
    let batches: Batch[] = [];
    const fail = (e: Error) => batches.map(() => e);
    const turn = this.dispatching.then(async () => {
      batches = take();
      if (!batches.length) return { results: Promise.resolve([]) };
      for (const b of batches) this.byBatch.set(b.id, b.entries);
      const to = await this.o.market.getAddress();
      const sent = await this.o.sender.dispatchMany(
        batches.map((b) => ({ to, data: this.encode(b.kind, b.entries) })),
        batches.map((b) => ({ action: `relay ${b.kind}`, batch: b.id, entries: b.entries.length })),
      );
      // unknown (node not answering): the next flush then waits until these are mined
      this.lastSentAtBlock = await this.o.market.runner!.provider!.getBlockNumber().catch(() => Number.MAX_SAFE_INTEGER);
      return sent;
    });
    this.dispatching = turn.catch(() => undefined);
    const done = turn
      .then(({ results }) => results, fail)
      .catch(fail)
      .then((results) => results.forEach((result, i) => this.record(batches[i], result)));
    this.inFlight.add(done);
    void done.finally(() => this.inFlight.delete(done));
    return done;
  }

  /** A batch's outcome on each of its entries' receipts. */
  private record(b: Batch, result: Sent | Error) {
    this.byBatch.delete(b.id);
    if (result instanceof Error) {
      const revert = decodeRevert(result);
      const reason = revert ? explainRevert(revert) : String(result.message ?? result).split("\n")[0];
      const error = revert ? `${revert.name}(${revert.args.map(String).join(", ")})` : undefined;
      for (const p of b.entries) Object.assign(p.receipt, { status: "failed", reason, error });
      this.o.log?.({ event: "relay-failed", kind: b.kind, batch: b.id, entries: b.entries.length, reason });
      return;
    }
    const skipped = new Map<number, { reason: string; error: string }>();
    for (const log of result.receipt.logs) {
      const parsed = safeParse(this.iface, log);
      if (parsed?.name === "EntrySkipped") skipped.set(Number(parsed.args.index), describeReason(this.iface, parsed.args.reason));
    }
    b.entries.forEach((p, i) => {
      const why = BATCHED[b.kind] ? skipped.get(i) : undefined;
      Object.assign(p.receipt, { status: why ? "skipped" : "included", hash: result.hash, index: i, block: result.receipt.blockNumber, ...why });
    });
    this.o.log?.({ event: "relayed", kind: b.kind, batch: b.id, tx: result.hash, block: result.receipt.blockNumber, entries: b.entries.length, skipped: skipped.size, gasUsed: result.receipt.gasUsed });
  }

  private encode(kind: RelayKind, entries: Pending[]): string {
    const m = entries.map((p) => p.message);
    const market = this.o.market.interface;
    switch (kind) {
      case "commit": {
        const c = m as Message<"commit">[];
        return market.encodeFunctionData("commitBatch", [
          c[0].interval,
          c.map((x) => ({ participant: x.participant, commitment: x.commitment, replaces: x.replaces ?? ZERO_HASH, r: x.r, vs: x.vs })),
        ]);
      }
      case "reveal": {
        const o = m as Message<"reveal">[];
        return market.encodeFunctionData("revealBatch", [
          o[0].interval,
          o.map((x) => ({ participant: x.participant, side: x.side === "sell" ? 0 : 1, energyWh: x.energyWh, priceWeiPerKWh: x.priceWeiPerKWh, salt: x.salt, hintPrevId: x.hintPrevId ?? 0n })),
        ]);
      }
      case "reading":
        return market.encodeFunctionData("postReadings", [m as Message<"reading">[]]);
      case "registration":
        return market.encodeFunctionData("registerBatch", [m as Message<"registration">[]]);
      case "acceptance": {
        const a = m[0] as Message<"acceptance">;
        return market.encodeFunctionData("acceptMeterFor", [a.participant, a.proposal, a.r, a.vs]);
      }
      case "withdrawal": {
        const w = m[0] as Message<"withdrawal">;
        return market.encodeFunctionData("withdrawFor", [w.participant, w.amount, w.nonce, w.r, w.vs]);
      }
    }
  }

  private remember(r: RelayReceipt) {
    this.receipts.set(r.id, r);
    if (this.receipts.size > this.o.keepReceipts) this.receipts.delete(this.receipts.keys().next().value!);
  }
}

function safeParse(iface: Interface, log: { topics: readonly string[]; data: string }) {
  try {
    return iface.parseLog(log);
  } catch {
    return null;
  }
}

/** An EntrySkipped reason (an ABI-encoded custom error): in words, and as `Name(args)`. */
export function describeReason(iface: Interface, reason: string): { reason: string; error: string } {
  const parsed = iface.parseError(reason);
  if (!parsed) return { reason: `skipped (${reason})`, error: reason };
  return { reason: explainRevert({ name: parsed.name, args: [...parsed.args] }), error: `${parsed.name}(${parsed.args.map(String).join(", ")})` };
}

/** `promise`, awaited later: a rejection meanwhile is not "unhandled" (it is thrown where it is awaited). */
function settledLater<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}
