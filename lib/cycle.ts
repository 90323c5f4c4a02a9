/**
 * The market's cycle: what is due now, derived from chain state only, and the transactions that do
 * it. Used by the `cycle:run` daemon and by the `clear` and `settle` tasks.
 *
 * Due, in this order:
 * - clear every delivery interval whose reveal window has closed, from the first interval that can
 *   have bids on (including intervals without bids: settlement needs them cleared), continuing
 *   clearing that needs several transactions;
 * - settle every metered participant at its settlement cursor (`settlementOf(id).nextInterval`) once
 *   that interval's settlement has opened and its reading is posted, or the grace period is over
 *   (missing-reading rule);
 * - settle the grid for every interval where it bid and its bid is not closed yet.
 * Nothing is remembered between runs: a restart re-reads the chain, and the contract rejects any
 * repeated effect (AlreadySettled, WrongPhase), so a transaction sent just before a kill can never be
 * applied twice.
 */
import type { Interface, Log, TransactionReceipt } from "ethers";
import type { EnergyMarket } from "../typechain-types";
import { PHASES, STAGES, STAGE_DONE } from "./market";
import { RevertError, SendAborted, Sender, formatRevert, isUnreachable, sleep } from "./sender";
import type { ScheduleTimes } from "./deployment";
import { intervalAt, lastRevealClosed, nextSettleStart, settleStart } from "./clock";


/** One structured log line: what was done (action) and what happened (event). */
export type CycleRecord = { action: string; event: string; interval?: number } & Record<string, unknown>;
export type CycleLog = (r: CycleRecord) => void;

export type { ScheduleTimes };

/** The market, the operator's sender and a log: all a cycle step needs. */
export interface CycleContext {
  market: EnergyMarket;
  sender: Sender;
  schedule: ScheduleTimes;
  log: CycleLog;
}

/** The block a decision is made on: views are read at it, time is its timestamp. */
export interface Head {
  block: number;
  time: number;
}

export async function readHead(market: EnergyMarket): Promise<Head> {
  const block = await market.runner!.provider!.getBlock("latest");
  if (!block) throw new Error("the node returned no latest block");
  return { block: block.number, time: block.timestamp };
}

const iso = (t: number) => new Date(t * 1000).toISOString().replace(".000Z", "Z");

// ------------------------------------------------------------------ clearing

export interface ClearResult {
  interval: number;
  done: boolean;
  transactions: { tx: string; gasUsed: bigint; stage: string }[];
  /** Set when nothing was sent because another transaction had cleared it already. */
  alreadyCleared?: boolean;
  /** The custom error of a rejected clear (it is retried at the next tick). */
  revert?: string;
}

/** Run clearing transactions for `d` until its stage is Done, logging each. */
export async function clearDelivery(ctx: CycleContext, d: number, steps: number, shouldStop: () => boolean = () => false): Promise<ClearResult> {
  const result: ClearResult = { interval: d, done: false, transactions: [] };
  while (!shouldStop()) {
    const stage = Number((await ctx.market.intervalOf(d)).stage);
    if (stage === STAGE_DONE) {
      result.done = true;
      result.alreadyCleared = result.transactions.length === 0;
      return result;
    }
    try {
      const sent = await ctx.sender.send(await call(ctx.market, "clear", [d, steps]), { action: "clear", interval: d });
      const progress = clearingOutcome(ctx.market, sent.receipt);
      result.transactions.push({ tx: sent.hash, gasUsed: sent.receipt.gasUsed, stage: String(progress.stage) });
      ctx.log({ action: "clear", event: "mined", interval: d, tx: sent.hash, gasUsed: sent.receipt.gasUsed, block: sent.receipt.blockNumber, ...progress });
    } catch (e) {
      if (!(e instanceof RevertError)) throw e;
      const alreadyDone = e.revert.name === "WrongPhase" && Number(e.revert.args[1]) > PHASES.indexOf("Clearing");
      logRevert(ctx, "clear", d, e, alreadyDone ? "skipped: already cleared" : "retry next tick");
      if (alreadyDone) result.done = true;
      else result.revert = formatRevert(e.revert);
      return result;
    }
  }
  return result;
}

function clearingOutcome(market: EnergyMarket, receipt: TransactionReceipt): Record<string, unknown> {
  let out: Record<string, unknown> = {};
  for (const ev of marketEvents(market, receipt.logs)) {
    if (ev.name === "ClearingProgressed") out = { ...out, stage: STAGES[Number(ev.args.stage)], steps: Number(ev.args.steps) };
    if (ev.name === "IntervalCleared") {
      out = { ...out, stage: "Done", trades: Number(ev.args.trades), tradedWh: ev.args.tradedWh, averagePriceWeiPerKWh: ev.args.averagePriceWeiPerKWh };
    }
  }
  return out;
}

// ------------------------------------------------------------------ settlement

/** One participant's next settlement: due now (`ready`) or why not. */
export interface SettlementDue {
  id: number;
  interval: number;
  ready: boolean;
  reason?: string;
  /** Not ready because its settlement opens only then (unix seconds). */
  opensAt?: number;
  /** The grid's open bid (the grid has no settlement cursor). */
  grid?: boolean;
}

/**
 * Every metered participant at its settlement cursor, and the grid for each interval in
 * [`gridFrom`, `clearedBelow`) where its bid is open; `clearedBelow` bounds the intervals known
 * cleared. Read at `head`.
 */
export async function settlementsDue(ctx: CycleContext, head: Head, gridFrom: number, clearedBelow: number): Promise<SettlementDue[]> {
  const at = { blockTag: head.block };
  const grid = Number(await ctx.market.gridId(at));
  const count = Number(await ctx.market.participantCount(at));
  const ids = Array.from({ length: count }, (_, i) => i + 1).filter((id) => id !== grid);
  const cursors = await mapInChunks(ids, (id) => ctx.market.settlementOf(id, at));
  const metered = ids.map((id, i) => ({ id, cursor: cursors[i] })).filter((p) => p.cursor.started);
  const dues = await mapInChunks(metered, (p) => participantDue(ctx, head, p.id, Number(p.cursor.nextInterval), clearedBelow));
  if (grid === 0) return dues;
  return [...dues, ...(await gridDues(ctx, head, grid, gridFrom, clearedBelow))];
}

async function participantDue(ctx: CycleContext, head: Head, id: number, d: number, clearedBelow: number): Promise<SettlementDue> {
  const opens = settleStart(ctx.schedule, d);
  if (d >= clearedBelow) return { id, interval: d, ready: false, reason: "interval not cleared yet" };
  if (head.time < opens) return { id, interval: d, ready: false, reason: `settlement opens at ${iso(opens)}`, opensAt: opens };
  const graceEnd = opens + ctx.schedule.readingGraceSeconds;
  if (head.time >= graceEnd) return { id, interval: d, ready: true };
  const [posted] = await ctx.market.readingOf(id, d, { blockTag: head.block });
  return posted ? { id, interval: d, ready: true } : { id, interval: d, ready: false, reason: `waiting for the reading until ${iso(graceEnd)}` };
}

/** The grid's open bids (committed, or revealed and not closed) in settled-phase intervals. */
async function gridDues(ctx: CycleContext, head: Head, grid: number, from: number, clearedBelow: number): Promise<SettlementDue[]> {
  const intervals: number[] = [];
  for (let d = from; d < clearedBelow && head.time >= settleStart(ctx.schedule, d); d++) intervals.push(d);
  const bids = await mapInChunks(intervals, (d) => ctx.market.bidOf(d, grid, { blockTag: head.block }));
  return intervals.filter((_, i) => bids[i].committed || (bids[i].revealed && !bids[i].closed)).map((d) => ({ id: grid, interval: d, ready: true, grid: true }));
}

export interface SettleResult {
  interval: number;
  settled: number[];
  readingMissing: number[];
  transactions: { tx: string; gasUsed: bigint; ids: number[] }[];
  /** Ids not settled, with the custom error that rejected them (a reverted batch, or entries skipped with EntrySkipped). */
  rejected: { ids: number[]; revert: string; outcome: string }[];
}

export interface SettleOptions {
  /** Participant IDs per transaction. */
  batch: number;
  /** Split a batch the contract rejects to settle the rest (default); false: all or nothing. */
  split?: boolean;
  shouldStop?: () => boolean;
}

/**
 * Settle `ids` for `d` in batches. A batch the contract rejects at estimation (nothing sent) is split
 * in halves until the ids it cannot settle are found; those are logged and left for the next tick.
 */
export async function settleDelivery(ctx: CycleContext, d: number, ids: number[], o: SettleOptions): Promise<SettleResult> {
  const { batch, split = true, shouldStop = () => false } = o;
  const result: SettleResult = { interval: d, settled: [], readingMissing: [], transactions: [], rejected: [] };
  const queue: number[][] = [];
  for (let i = 0; i < ids.length; i += batch) queue.push(ids.slice(i, i + batch));
  while (queue.length && !shouldStop()) {
    const chunk = queue.shift()!;
    try {
      const sent = await ctx.sender.send(await call(ctx.market, "settle", [d, chunk]), { action: "settle", interval: d, ids: chunk });
      const { settled, readingMissing, skipped } = settlementOutcome(ctx.market, sent.receipt);
      result.settled.push(...settled);
      result.readingMissing.push(...readingMissing);
      result.transactions.push({ tx: sent.hash, gasUsed: sent.receipt.gasUsed, ids: chunk });
      ctx.log({ action: "settle", event: "mined", interval: d, ids: chunk, tx: sent.hash, gasUsed: sent.receipt.gasUsed, block: sent.receipt.blockNumber, readingMissing });
      // the market settles what it can and skips the rest (EntrySkipped): those wait for the next tick
      for (const x of skipped) {
        const outcome = settleRefusalOutcome(x.revert.name);
        ctx.log({ action: "settle", event: "skipped", interval: d, ids: [x.id], tx: sent.hash, error: formatRevert(x.revert), outcome });
        result.rejected.push({ ids: [x.id], revert: formatRevert(x.revert), outcome });
      }
    } catch (e) {
      if (!(e instanceof RevertError)) throw e;
      if (split && !e.receipt && chunk.length > 1) {
        logRevert(ctx, "settle", d, e, "splitting the batch", { ids: chunk });
        const half = Math.ceil(chunk.length / 2);
        queue.unshift(chunk.slice(0, half), chunk.slice(half));
        continue;
      }
      const outcome = settleRefusalOutcome(e.revert.name);
      logRevert(ctx, "settle", d, e, outcome, { ids: chunk });
      result.rejected.push({ ids: chunk, revert: formatRevert(e.revert), outcome });
    }
  }
  return result;
}

function settleRefusalOutcome(name: string): string {
  switch (name) {
    case "AlreadySettled":
      return "skipped: already settled";
    case "WrongPhase":
    case "ReadingPending":
    case "SettleOutOfOrder":
      return "skipped: not yet; retry next tick";
    default:
      return "retry next tick";
  }
}

function settlementOutcome(market: EnergyMarket, receipt: TransactionReceipt) {
  const settled: number[] = [];
  const readingMissing: number[] = [];
  const skipped: { id: number; revert: { name: string; args: unknown[] } }[] = [];
  for (const ev of marketEvents(market, receipt.logs)) {
    if (ev.name === "EntrySkipped") {
      const reason = market.interface.parseError(ev.args.reason);
      skipped.push({ id: Number(ev.args.subject), revert: reason ? { name: reason.name, args: [...reason.args] } : { name: "unknown", args: [ev.args.reason] } });
    }
    if (ev.name !== "ParticipantSettled") continue;
    settled.push(Number(ev.args.id));
    if (ev.args.readingMissing) readingMissing.push(Number(ev.args.id));
  }
  return { settled, readingMissing, skipped };
}

// ------------------------------------------------------------------ shared helpers

async function call(market: EnergyMarket, method: "clear" | "settle", args: unknown[]) {
  const data = (market.interface as Interface).encodeFunctionData(method, args);
  return { to: await market.getAddress(), data };
}

function marketEvents(market: EnergyMarket, logs: readonly Log[]) {
  const address = String(market.target).toLowerCase();
  return logs.filter((l) => l.address.toLowerCase() === address).flatMap((l) => market.interface.parseLog(l) ?? []);
}

function logRevert(ctx: CycleContext, action: string, d: number, e: RevertError, outcome: string, extra: Record<string, unknown> = {}): void {
  const onChain = e.receipt ? { tx: e.receipt.hash, gasUsed: e.receipt.gasUsed, block: e.receipt.blockNumber } : {};
  ctx.log({ action, event: "reverted", interval: d, ...extra, error: formatRevert(e.revert), ...onChain, outcome });
}

// ------------------------------------------------------------------ the daemon

export interface CycleOptions {
  /** First delivery interval to clear (see firstTradedInterval in lib/clock). */
  fromInterval: number;
  /** Participant IDs per settle transaction. */
  batch: number;
  /** Clearing steps per clear transaction. */
  clearSteps: number;
  /** Pause between ticks when nothing was due. */
  pollMs: number;
}

/**
 * Keeps the market moving: each tick reads the chain at its latest block and does everything due,
 * then sleeps until the next poll. Two cursors only save reading old intervals again; they are
 * rebuilt from chain state at every start.
 */
export class CycleDaemon {
  private clearFrom: number;
  private gridFrom: number;
  private stopping = false;
  private readonly wake = new AbortController();
  private nodeDown = false;
  private lastSeenInterval = -1;
  /**
   * Set when the last settlement scan found nothing due and nothing that could become due before
   * `until` other than by clearing (`clearedBelow` moving): ticks before then skip the scan, which
   * reads every participant's cursor (N calls; at 10,000 participants most of the daemon's CPU).
   */
  private settleQuiet: { until: number; clearedBelow: number } | undefined;

  constructor(
    private readonly ctx: CycleContext,
    private readonly o: CycleOptions,
  ) {
    this.clearFrom = o.fromInterval;
    this.gridFrom = o.fromInterval;
  }

  /** Finish the step in flight, start nothing new. */
  stop(): void {
    this.stopping = true;
    this.wake.abort();
  }

  isStopping(): boolean {
    return this.stopping;
  }

  /** Tick until stopped; with `once`, until a tick finds nothing due. */
  async run(once = false): Promise<void> {
    const { log } = this.ctx;
    log({ action: "daemon", event: "start", market: String(this.ctx.market.target), operator: this.ctx.sender.address, fromInterval: this.o.fromInterval, once });
    try {
      await this.ctx.sender.start();
      while (!this.stopping) {
        const acted = await this.safeTick();
        if (once && acted === 0) break;
        if (acted === 0) await sleep(this.o.pollMs, this.wake.signal).catch(() => undefined);
      }
      log({ action: "daemon", event: "stopped", clearedBelow: this.clearFrom });
    } catch (e) {
      if (!(e instanceof SendAborted)) throw e;
      log({ action: "daemon", event: "stopped", note: e.message, tx: e.hash, clearedBelow: this.clearFrom });
    }
  }

  /** One tick; node outages and unexpected errors are logged (once per outage) and retried. */
  private async safeTick(): Promise<number> {
    try {
      const acted = await this.tick();
      if (this.nodeDown) this.ctx.log({ action: "daemon", event: "node-back" });
      this.nodeDown = false;
      return acted;
    } catch (e) {
      if (e instanceof SendAborted) throw e;
      if (isUnreachable(e)) {
        if (!this.nodeDown) this.ctx.log({ action: "daemon", event: "node-unreachable", error: String((e as Error).message).split("\n")[0], note: "retrying every poll" });
        this.nodeDown = true;
      } else {
        this.ctx.log({ action: "daemon", event: "tick-failed", error: String((e as Error)?.message ?? e).split("\n")[0], note: "retrying next tick" });
      }
      return 0;
    }
  }

  /** Do everything due at the latest block; returns the number of steps taken. */
  async tick(): Promise<number> {
    await this.ctx.sender.checkReorgs(); // a clear or settle whose block a reorg dropped is sent again
    const head = await readHead(this.ctx.market);
    this.noteInterval(head);
    const cleared = await this.clearDue(head);
    if (this.stopping) return cleared;
    return cleared + (await this.settleDue(head));
  }

  private noteInterval(head: Head): void {
    const current = intervalAt(this.ctx.schedule, head.time);
    if (current === this.lastSeenInterval) return;
    this.lastSeenInterval = current;
    this.ctx.log({ action: "watch", event: "new-interval", interval: current, block: head.block, clearedBelow: this.clearFrom });
  }

  private async clearDue(head: Head): Promise<number> {
    const last = lastRevealClosed(this.ctx.schedule, head.time);
    const intervals = range(this.clearFrom, last);
    const stages = await mapInChunks(intervals, (d) => this.ctx.market.intervalOf(d, { blockTag: head.block }).then((v) => Number(v.stage)));
    let steps = 0;
    let contiguous = true;
    for (const [i, d] of intervals.entries()) {
      if (this.stopping) break;
      let done = stages[i] === STAGE_DONE;
      if (!done) {
        const r = await clearDelivery(this.ctx, d, this.o.clearSteps, () => this.stopping);
        steps += r.transactions.length;
        done = r.done;
      }
      contiguous &&= done;
      if (contiguous) this.clearFrom = d + 1;
    }
    return steps;
  }

  private async settleDue(head: Head): Promise<number> {
    const quiet = this.settleQuiet;
    if (quiet && head.time < quiet.until && quiet.clearedBelow === this.clearFrom) return 0;
    const dues = await settlementsDue(this.ctx, head, this.gridFrom, this.clearFrom);
    this.settleQuiet = quietUntil(this.ctx.schedule, head, dues, this.clearFrom);
    this.advanceGridFrom(head, dues);
    const byInterval = new Map<number, number[]>();
    for (const due of dues.filter((x) => x.ready)) byInterval.set(due.interval, [...(byInterval.get(due.interval) ?? []), due.id]);
    let steps = 0;
    for (const d of [...byInterval.keys()].sort((a, b) => a - b)) {
      if (this.stopping) break;
      const r = await settleDelivery(this.ctx, d, byInterval.get(d)!, { batch: this.o.batch, shouldStop: () => this.stopping });
      steps += r.transactions.length;
    }
    return steps;
  }

  /** The grid has nothing open below its first open bid, or below the first interval not yet settleable. */
  private advanceGridFrom(head: Head, dues: SettlementDue[]): void {
    let next = this.gridFrom;
    while (next < this.clearFrom && head.time >= settleStart(this.ctx.schedule, next)) next++;
    this.gridFrom = Math.min(next, ...dues.filter((x) => x.grid).map((x) => x.interval));
  }
}

/**
 * Until when nothing can become due if `dues` hold nothing ready and nothing waiting for a reading:
 * the earliest settlement opening among them, or the next interval's (a meter bound since, or the
 * grid's next bid); clearing moving on is watched apart. Undefined when the next tick must look again.
 */
export function quietUntil(schedule: ScheduleTimes, head: Head, dues: SettlementDue[], clearedBelow: number): { until: number; clearedBelow: number } | undefined {
  let until = nextSettleStart(schedule, head.time);
  for (const due of dues) {
    if (due.ready || (due.opensAt === undefined && due.interval < clearedBelow)) return undefined;
    if (due.opensAt !== undefined) until = Math.min(until, due.opensAt);
  }
  return { until, clearedBelow };
}

/** `fn` over `items`, at most `chunk` calls in flight: a first scan of a long-running market stays gentle on the node. */
async function mapInChunks<T, R>(items: T[], fn: (item: T) => Promise<R>, chunk = 200): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += chunk) out.push(...(await Promise.all(items.slice(i, i + chunk).map(fn))));
  return out;
}

function range(from: number, to: number): number[] {
  return to < from ? [] : Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
