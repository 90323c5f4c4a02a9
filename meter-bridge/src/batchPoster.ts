/**
 * Posts the gateway's journaled readings in batches: one `postReadings` transaction per port
 * and interval, each reading signed off-chain by its meter's own key (EIP-712 `Reading` in the
 * market's domain), the transaction sent and paid for by the gateway's relayer account, so the
 * meters' accounts need no ether.
 *
 * A batch holds, for each meter of a port, its oldest unsettled reading (a meter's readings reach
 * the market in interval order), once the port's read round is over and the chain's clock has
 * passed the interval's end. It is signed, journaled and only then broadcast. Each reading's fate
 * comes from the batch's receipt: a ReadingPosted event (posted), an EntrySkipped event with the
 * market's reason (too late or rejected for good; any other reason is journaled as a skip and the
 * reading goes into a later batch, with backoff), or neither (the chain holds that reading already).
 * One batch is in flight at a time: it is broadcast again while pending, replaced under the same
 * nonce with 12.5% higher fees when stuck, and sent again (the same signed transaction) when a
 * chain reorganization takes it off the chain.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Contract, JsonRpcProvider, Signature, Transaction, TransactionReceipt, Wallet } from "ethers";
import { READING_TYPES, isBindingRefusal, marketDomain, refusalKind } from "./abi";
import { readBatchSupport } from "./chain";
import { IntervalClock, boundaryMs } from "./clock";
import { Entry, Journal, TxRecord } from "./journal";
import { Logger } from "./log";
import { Outcomes, recheckPosts } from "./outcomes";
import { PosterOptions, PosterSettings, posterSettings } from "./poster";
import { SettingsError } from "./settings";
import { Broadcaster, MARKET, canonicalReceipt, decodeReason, describe, signCall } from "./transactions";

/** A port's meters and their signing keys. */
export interface PortMeters {
  path: string;
  meters: Array<{ address: string; wallet: Wallet }>;
}

export interface BatchPosterOptions extends PosterOptions {
  /** the most entries a batch may hold; default and at most the market's maxBatch() */
  maxBatch?: number;
}

/** One batch transaction (and its replacements) still deciding the fate of some readings. */
interface Attempt {
  /** the original batch transaction's hash */
  root: string;
  /** the original and its replacements, oldest first */
  txs: TxRecord[];
  /** its readings still unsettled */
  entries: Entry[];
}

type Step = { next: "now" } | { next: "poll" } | { next: "idle"; untilMs?: number };

/** Gas added to the node's estimate of a batch: entries refused at the estimate may be accepted when mined. */
const GAS_MARGIN_PER_ENTRY = 25_000n;

export class BatchPoster {
  private readonly settings: PosterSettings;
  private readonly signer: Wallet;
  private readonly outcomes: Outcomes;
  private readonly broadcaster: Broadcaster;
  private readonly domain: ReturnType<typeof marketDomain>;
  private readonly contract: Contract;
  /** meter -> its key, and the port it is on */
  private readonly meters = new Map<string, { wallet: Wallet; port: string }>();
  private readonly participantIds = new Map<string, number>();
  private wakeUp: (() => void) | undefined;
  private readonly reorgs: Array<{ forkBlock: number; depth?: number }> = [];
  /** batches (by their original hash) a reorganization took off the chain, not yet sent again */
  private readonly reorged = new Set<string>();
  /** the most entries a batch holds, once the market was asked */
  private maxBatch: number | undefined;

  constructor(
    relayer: Wallet,
    private readonly ports: readonly PortMeters[],
    private readonly provider: JsonRpcProvider,
    private readonly market: string,
    private readonly chainId: number,
    private readonly clock: IntervalClock,
    private readonly journal: Journal,
    private readonly log: Logger,
    private readonly options: BatchPosterOptions,
    /** whether a port is in the middle of a read round (its batch waits for the round's end) */
    private readonly reading: (port: string) => boolean = () => false,
  ) {
    this.settings = posterSettings(options);
    this.signer = relayer.connect(provider);
    this.outcomes = new Outcomes(journal, log, provider, market);
    this.broadcaster = new Broadcaster(provider, log, this.settings.rebroadcastMs);
    this.domain = marketDomain(chainId, market);
    this.contract = new Contract(market, MARKET, provider);
    for (const port of ports) for (const meter of port.meters) this.meters.set(meter.address, { wallet: meter.wallet, port: port.path });
  }

  /** The relayer account, which pays for the batches. */
  get account(): string {
    return this.signer.address;
  }

  /** Tells the poster there may be new readings (a round ended, a reading was journaled). */
  wake(): void {
    this.wakeUp?.();
  }

  /** Tells the poster the chain reorganized above `forkBlock`: the readings posted there are checked again. */
  reorganized(reorg: { forkBlock: number; depth: number }): void {
    this.reorgs.push(reorg);
    this.wake();
  }

  /**
   * Posts batches until `signal` aborts.
   * @throws SettingsError when the market takes no batches of readings signed in the bridge's domain
   */
  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    let checkedAtStart = false;
    while (!signal.aborted) {
      let pauseMs = this.settings.pollMs;
      try {
        this.maxBatch ??= Math.min(this.options.maxBatch ?? Infinity, (await readBatchSupport(this.provider, this.market, this.chainId)).maxBatch);
        if (!checkedAtStart) checkedAtStart = await this.checkRecentPosts();
        while (this.reorgs.length > 0) {
          await this.checkPosts(this.reorgs[0]);
          this.reorgs.shift();
        }
        const step = await this.step();
        failures = 0;
        if (step.next === "now") pauseMs = 0;
        else if (step.next === "idle") {
          await this.waitForWake(signal, step.untilMs === undefined ? undefined : step.untilMs - Date.now());
          continue;
        }
      } catch (error) {
        if (error instanceof SettingsError) throw error;
        failures++;
        pauseMs = Math.min(this.settings.retryMaxMs, this.settings.pollMs * 2 ** Math.min(failures, 16));
        this.log.warn("posting delayed", { relayer: this.signer.address, error: describe(error), retryInMs: pauseMs });
      }
      if (pauseMs > 0) await sleep(pauseMs, undefined, { signal }).catch(() => undefined);
    }
  }

  private async checkRecentPosts(): Promise<boolean> {
    try {
      const head = await this.provider.getBlockNumber();
      await this.checkPosts({ forkBlock: head - this.settings.watchBlocks });
      return true;
    } catch (error) {
      this.log.debug("cannot check the recent posts yet", { error: describe(error) });
      return false;
    }
  }

  private async checkPosts(reorg: { forkBlock: number; depth?: number }): Promise<void> {
    for (const entry of await recheckPosts(this.journal, this.log, this.provider, [...this.meters.keys()], reorg)) {
      const attempt = latestAttempt(entry);
      if (attempt) this.reorged.add(attempt[0].hash);
    }
  }

  /** One step: settle what a batch's receipt decided, keep a pending batch going, or send the next batch. */
  private async step(): Promise<Step> {
    // read first: a transaction mined after this point is then seen as still pending, never as lost
    const minedNonce = await this.provider.getTransactionCount(this.signer.address, "latest");
    let pending = false;
    for (const attempt of this.openAttempts()) {
      const state = await this.follow(attempt, minedNonce);
      if (state === "settled") return { next: "now" };
      pending = true;
    }
    if (pending) return { next: "poll" };
    return this.sendNextBatch();
  }

  /** Batches whose receipt has not yet settled some of their readings, oldest nonce first. */
  private openAttempts(): Attempt[] {
    const attempts = new Map<string, Attempt>();
    for (const meter of this.meters.keys()) {
      for (const entry of this.journal.unsettled(meter)) {
        const txs = latestAttempt(entry);
        if (!txs || entry.skips.some((skip) => txs.some((tx) => tx.hash === skip.hash))) continue;
        const attempt = attempts.get(txs[0].hash) ?? { root: txs[0].hash, txs, entries: [] };
        attempt.entries.push(entry);
        attempts.set(attempt.root, attempt);
      }
    }
    return [...attempts.values()].sort((a, b) => a.txs[0].nonce - b.txs[0].nonce);
  }

  /** Settles a batch's readings from its receipt, or keeps it going (broadcast again, replaced when stuck). */
  private async follow(attempt: Attempt, minedNonce: number): Promise<"settled" | "pending"> {
    for (const tx of [...attempt.txs].reverse()) {
      const receipt = await canonicalReceipt(this.provider, tx.hash);
      if (!receipt) continue;
      if ((await receipt.confirmations()) < this.settings.confirmations) return "pending";
      if (receipt.status !== 1) this.skipAll(attempt, tx.hash, "the batch transaction failed (reverted)", receipt.blockNumber);
      else await this.settleFromReceipt(attempt, tx.hash, receipt);
      return "settled";
    }
    const latest = attempt.txs.at(-1)!;
    if (latest.nonce < minedNonce) {
      // its nonce went to another transaction: what is on chain from any of the readings' transactions counts, the rest is sent again
      for (const entry of attempt.entries) {
        const participantId = await this.participant(entry.reading.meter);
        if (participantId && (await this.outcomes.foundOnChain(entry, participantId))) continue;
        this.skip(entry, latest.hash, "its batch transaction was not mined: another transaction took its nonce");
      }
      return "settled";
    }
    if (Date.now() - latest.sentAt >= this.settings.replaceAfterMs) await this.replace(attempt, latest);
    else {
      const again = this.reorged.delete(attempt.root);
      await this.broadcaster.broadcast(latest, again, { batch: latest.hash, readings: attempt.entries.length });
      if (again) this.log.warn("batch sent again after a reorganization", { tx: latest.hash, nonce: latest.nonce, readings: attempt.entries.map((entry) => ({ meter: entry.reading.meter, interval: entry.reading.interval })) });
    }
    return "pending";
  }

  /** Each reading's fate from the batch's events: posted, skipped (with the market's reason), or already on chain. */
  private async settleFromReceipt(attempt: Attempt, hash: string, receipt: TransactionReceipt): Promise<void> {
    const skipped = new Map<number, string>();
    const posted = new Set<string>();
    for (const log of receipt.logs) {
      if (log.address.toLowerCase() !== this.market.toLowerCase()) continue;
      const event = MARKET.parseLog(log);
      if (event?.name === "EntrySkipped") skipped.set(Number(event.args.index), decodeReason(event.args.reason));
      if (event?.name === "ReadingPosted") posted.add(`${event.args.participantId}:${event.args.interval}`);
    }
    let [postedCount, skippedCount] = [0, 0];
    for (const entry of attempt.entries) {
      const { meter, interval } = entry.reading;
      const index = entry.txs.find((tx) => tx.hash === hash)!.index!;
      const fields = { tx: hash, block: receipt.blockNumber, index };
      const reason = skipped.get(index);
      if (reason !== undefined) {
        skippedCount++;
        const kind = refusalKind(reason);
        if (isBindingRefusal(reason)) this.participantIds.delete(meter);
        if (kind === "rejected" || kind === "too-late") await this.outcomes.refusedForGood(entry, reason, kind, await this.participant(meter), fields);
        else this.skip(entry, hash, reason, receipt.blockNumber);
        continue;
      }
      const participantId = await this.participant(meter);
      if (participantId && posted.has(`${participantId}:${interval}`)) {
        postedCount++;
        this.outcomes.posted(entry, hash, receipt, { index });
      } else if (!participantId || !(await this.outcomes.foundOnChain(entry, participantId))) {
        this.skip(entry, hash, "the batch took the reading without posting it, and the chain holds no such reading", receipt.blockNumber); // cannot happen with the market's rules: sent again
      }
    }
    this.log.info("batch included", { tx: hash, block: receipt.blockNumber, gasUsed: receipt.gasUsed, readings: attempt.entries.length, posted: postedCount, skipped: skippedCount });
  }

  private skipAll(attempt: Attempt, hash: string, reason: string, block?: number): void {
    for (const entry of attempt.entries) this.skip(entry, hash, reason, block);
  }

  /** Journals that `hash` carried the reading without posting it; it goes into a later batch. */
  private skip(entry: Entry, hash: string, reason: string, block?: number): void {
    const { meter, interval } = entry.reading;
    this.journal.skip({ meter, interval, hash, reason, at: Date.now(), ...(block === undefined ? {} : { block }) });
    const binding = isBindingRefusal(reason);
    this.log[binding ? "error" : "warn"]("reading skipped by the market, sent again later", { meter, interval, reason, tx: hash, retryInMs: this.retryAt(entry) - Date.now(), ...(binding ? { hint: "the meter's key or number in the config does not match its binding on the market" } : {}) });
  }

  /** When a reading skipped before may go into a batch again: backoff on its skips; a binding refusal once an interval. */
  private retryAt(entry: Entry): number {
    const last = entry.skips.at(-1);
    if (!last) return 0;
    const backoff = Math.min(this.settings.retryMaxMs, this.settings.pollMs * 2 ** Math.min(entry.skips.length, 16));
    return last.at + (isBindingRefusal(last.reason) ? Math.max(backoff, this.clock.intervalSeconds * 1000) : backoff);
  }

  /** Replaces a stuck batch: the same readings, the same nonce and gas limit, fees 12.5% higher. */
  private async replace(attempt: Attempt, latest: TxRecord): Promise<void> {
    const batch = this.journal.batch(latest.hash)!;
    const signed = await signCall(this.signer, this.provider, { to: this.market, data: Transaction.from(latest.raw).data, nonce: latest.nonce }, latest.raw);
    this.journal.addBatch({ ...signed, sentAt: Date.now(), entries: batch.entries, replaces: latest.hash });
    this.log.warn("replacing a stuck transaction", { batch: attempt.root, nonce: signed.nonce, tx: signed.hash, replaces: latest.hash, readings: batch.entries.length });
    await this.broadcaster.broadcast(signed, true, { batch: signed.hash });
  }

  /** Signs, journals and broadcasts the next batch, if a port has readings ready. */
  private async sendNextBatch(): Promise<Step> {
    const head = await this.provider.getBlock("latest");
    if (!head) throw new Error("the node has no latest block");
    let untilMs: number | undefined;
    const later = (ms: number) => (untilMs = Math.min(untilMs ?? ms, ms));
    for (const port of this.ports) {
      if (this.reading(port.path)) continue; // woken at the round's end
      const ready: Entry[] = [];
      for (const { address } of port.meters) {
        const entry = this.journal.unsettled(address)[0];
        if (!entry) continue;
        const retryAt = this.retryAt(entry);
        if (retryAt > Date.now()) later(retryAt);
        else if (boundaryMs(this.clock, entry.reading.interval + 1) > head.timestamp * 1000) later(Date.now() + this.settings.pollMs); // the chain's clock has not passed its end
        else ready.push(entry);
      }
      if (ready.length > 0) {
        await this.send(port.path, ready.slice(0, this.maxBatch));
        return { next: "poll" };
      }
    }
    return { next: "idle", untilMs };
  }

  private async send(port: string, entries: Entry[]): Promise<void> {
    const signed = await Promise.all(entries.map((entry) => this.signReading(entry)));
    const data = MARKET.encodeFunctionData("postReadings", [signed]);
    const estimate = await this.provider.estimateGas({ from: this.signer.address, to: this.market, data });
    const gasLimit = (estimate * 12n) / 10n + GAS_MARGIN_PER_ENTRY * BigInt(entries.length);
    const nonce = await this.provider.getTransactionCount(this.signer.address, "pending");
    const tx = await signCall(this.signer, this.provider, { to: this.market, data, nonce, gasLimit });
    const readings = entries.map((entry) => ({ meter: entry.reading.meter, interval: entry.reading.interval }));
    this.journal.addBatch({ ...tx, sentAt: Date.now(), entries: readings });
    this.log.info("batch sent", { port, tx: tx.hash, nonce, readings: readings.length, intervals: [...new Set(readings.map((reading) => reading.interval))], gasLimit });
    await this.broadcaster.broadcast(tx, true, { batch: tx.hash });
  }

  /** A reading signed by its meter's key: EIP-712 `Reading` in the market's domain, as a compact (EIP-2098) signature. */
  private async signReading(entry: Entry) {
    const { meter, interval, importWh, exportWh } = entry.reading;
    const value = { meterNumber: BigInt(meter), interval, importWh: BigInt(importWh), exportWh: BigInt(exportWh) };
    const signature = Signature.from(await this.meters.get(meter)!.wallet.signTypedData(this.domain, READING_TYPES, value));
    return { ...value, r: signature.r, vs: signature.yParityAndS };
  }

  /** The participant a meter's account is bound to on chain (0: none). */
  private async participant(meter: string): Promise<number> {
    let id = this.participantIds.get(meter);
    if (id === undefined) {
      id = Number(await this.contract.participantOfMeter(this.meters.get(meter)!.wallet.address));
      if (id !== 0) this.participantIds.set(meter, id);
    }
    return id;
  }

  private waitForWake(signal: AbortSignal, timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => done(), Math.max(0, timeoutMs));
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.wakeUp = done;
      signal.addEventListener("abort", done);
    });
  }
}

/** A reading's latest batch transaction and the ones it replaces (oldest first); undefined when its latest transaction is no batch. */
function latestAttempt(entry: Entry): TxRecord[] | undefined {
  const latest = entry.txs.at(-1);
  if (!latest || latest.index === undefined) return undefined;
  const chain = [latest];
  for (let tx = latest; tx.replaces !== undefined; ) {
    const replaced = entry.txs.find((candidate) => candidate.hash === tx.replaces);
    if (!replaced) break;
    chain.unshift(replaced);
    tx = replaced;
  }
  return chain;
}
