/**
 * Posts one meter's journaled readings to the market, oldest first, each in a transaction of
 * the meter's own account, signed locally with its key (the single-post path, for a gateway
 * without a relayer key; see batchPoster.ts for batches). Each reading goes through: already
 * confirmed? already on chain? a signed transaction still pending (broadcast it again, or
 * replace it with higher fees when stuck)? else simulate, sign, journal, broadcast. Node errors
 * and refusals that may pass later are retried with backoff for as long as it takes; nothing is
 * lost while the node is away. A posted reading whose transaction a chain reorganization took off
 * the canonical chain is unsettled again and its transaction broadcast again.
 *
 * Signing (`signPost`: the transaction, from the reading and the chain's fees and nonce) is
 * apart from sending (`send`).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Contract, JsonRpcProvider, Wallet, isError } from "ethers";
import { refusalKind } from "./abi";
import { Entry, Journal, TxRecord } from "./journal";
import { Logger } from "./log";
import { stripUndefined } from "./line";
import { Outcomes, recheckPosts } from "./outcomes";
import { Broadcaster, MARKET, canonicalReceipt, describe, signCall } from "./transactions";

export { describe } from "./transactions";

export interface PosterOptions {
  /** blocks on top of the including block before a post counts as done; default 1 */
  confirmations?: number;
  /** wait between checks of a pending transaction, ms; default 1000 */
  pollMs?: number;
  /** longest wait between attempts while the node fails, ms; default 30000 */
  retryMaxMs?: number;
  /** broadcast a pending transaction again after this long, ms (the node may have restarted); default 10000 */
  rebroadcastMs?: number;
  /** replace a transaction still unmined after this long with one paying 12.5% more, ms; default 180000 */
  replaceAfterMs?: number;
  /** posted readings are checked against reorganizations of the last this many blocks; default 128 */
  watchBlocks?: number;
}

export type PosterSettings = Required<PosterOptions>;

export function posterSettings(options: PosterOptions = {}): PosterSettings {
  const settings = { confirmations: 1, pollMs: 1000, retryMaxMs: 30_000, rebroadcastMs: 10_000, replaceAfterMs: 180_000, watchBlocks: 128, ...stripUndefined(options) };
  for (const [name, value] of Object.entries(settings)) {
    if (!Number.isSafeInteger(value) || value < (name === "confirmations" ? 1 : 0)) throw new TypeError(`${name} must be a ${name === "confirmations" ? "positive" : "non-negative"} integer, got ${value}`);
  }
  return settings;
}

/** What became of one step of posting a reading. */
type Step = "done" | "wait";

/** The chain refuses the post for now (unbound meter, wrong number, settlement behind); retried with backoff. */
class NotYetAccepted extends Error {}

export class MeterPoster {
  private readonly settings: PosterSettings;
  private readonly market: Contract;
  private readonly signer: Wallet;
  private readonly outcomes: Outcomes;
  private readonly broadcaster: Broadcaster;
  private participantId = 0;
  private wakeUp: (() => void) | undefined;
  /** reorganizations to check the posted readings against: the fork block and depth of each */
  private readonly reorgs: Array<{ forkBlock: number; depth?: number }> = [];
  /** intervals whose transaction a reorganization took away, not yet sent again */
  private readonly reorged = new Set<number>();
  /** the highest nonce of a post seen mined: the account's count falling to it means a reorganization took a post off */
  private highestMined: number | undefined;
  /** intervals whose transaction is mined but not yet confirmed: the block it was seen in */
  private readonly minedUnconfirmed = new Map<number, number>();

  constructor(
    /** 12-digit meter address; its integer value is the meter number on chain */
    readonly meter: string,
    wallet: Wallet,
    private readonly provider: JsonRpcProvider,
    private readonly marketAddress: string,
    private readonly journal: Journal,
    private readonly log: Logger,
    options: PosterOptions = {},
  ) {
    this.settings = posterSettings(options);
    this.signer = wallet.connect(provider);
    this.market = new Contract(marketAddress, MARKET, this.signer);
    this.outcomes = new Outcomes(journal, log, provider, marketAddress);
    this.broadcaster = new Broadcaster(provider, log, this.settings.rebroadcastMs);
  }

  /** The meter's account on chain. */
  get account(): string {
    return this.signer.address;
  }

  /** Tells the poster a new reading is in the journal. */
  wake(): void {
    this.wakeUp?.();
  }

  /** Tells the poster the chain reorganized above `forkBlock`: its readings posted there are checked again. */
  reorganized(reorg: { forkBlock: number; depth: number }): void {
    this.reorgs.push(reorg);
    this.wake();
  }

  /** Posts readings as they come until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    let checkedAtStart = false;
    while (!signal.aborted) {
      let pauseMs = this.settings.pollMs;
      let interval: number | undefined;
      try {
        if (!checkedAtStart) checkedAtStart = await this.checkRecentPosts(); // the chain may have reorganized while the bridge was down
        while (this.reorgs.length > 0) {
          await this.checkPosts(this.reorgs[0]);
          this.reorgs.shift();
        }
        const entry = this.journal.unsettled(this.meter)[0];
        if (!entry) {
          await this.waitForWake(signal);
          continue;
        }
        interval = entry.reading.interval;
        if ((await this.step(entry)) === "done") pauseMs = 0;
        failures = 0;
      } catch (error) {
        failures++;
        pauseMs = Math.min(this.settings.retryMaxMs, this.settings.pollMs * 2 ** Math.min(failures, 16));
        this.log.warn("posting delayed", { meter: this.meter, interval, error: describe(error), retryInMs: pauseMs });
      }
      if (pauseMs > 0) await sleep(pauseMs, undefined, { signal }).catch(() => undefined);
    }
  }

  /** Checks the readings posted in the last `watchBlocks` blocks; false when the node did not answer (checked later). */
  private async checkRecentPosts(): Promise<boolean> {
    try {
      const head = await this.provider.getBlockNumber();
      await this.checkPosts({ forkBlock: head - this.settings.watchBlocks });
      return true;
    } catch (error) {
      this.log.debug("cannot check the recent posts yet", { meter: this.meter, error: describe(error) });
      return false;
    }
  }

  /** Checks that the readings posted above `forkBlock` are still on the canonical chain; reopens those that are not. */
  private async checkPosts(reorg: { forkBlock: number; depth?: number }): Promise<void> {
    for (const entry of await recheckPosts(this.journal, this.log, this.provider, [this.meter], reorg)) this.reorged.add(entry.reading.interval);
    // a transaction seen mined above the fork but not yet confirmed was taken off too (before its confirmations)
    for (const [interval, block] of this.minedUnconfirmed) {
      if (block <= reorg.forkBlock) continue;
      this.minedUnconfirmed.delete(interval);
      this.reorged.add(interval);
      this.log.warn("reading's transaction was reorganized away before its confirmations, sending it again", { meter: this.meter, interval, block, forkBlock: reorg.forkBlock, depth: reorg.depth });
    }
  }

  private waitForWake(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve(); // aborted while the loop was busy: its abort event has passed
      const done = () => {
        this.wakeUp = undefined;
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.wakeUp = done;
      signal.addEventListener("abort", done);
    });
  }

  private async step(entry: Entry): Promise<Step> {
    const { meter, interval } = entry.reading;
    // its own account's posts (a batch of the gateway's relayer, from before a change of the config, is found on chain below)
    const own = entry.txs.filter((tx) => tx.index === undefined);
    // read first: a transaction mined after this point is then seen as still pending, never as lost
    const minedNonce = await this.provider.getTransactionCount(this.signer.address, "latest");
    if (await this.nonceWentBack(minedNonce)) return "wait";
    for (const tx of [...own].reverse()) {
      const receipt = await canonicalReceipt(this.provider, tx.hash);
      if (!receipt) continue;
      this.highestMined = Math.max(this.highestMined ?? -1, tx.nonce);
      if (receipt.status !== 1) continue; // reverted: the chain state below decides what next
      if ((await receipt.confirmations()) < this.settings.confirmations) {
        this.minedUnconfirmed.set(interval, receipt.blockNumber);
        return "wait";
      }
      this.minedUnconfirmed.delete(interval);
      this.outcomes.posted(entry, tx.hash, receipt);
      return "done";
    }
    if (await this.settledOnChain(entry)) return "done";
    const latest = own.at(-1);
    if (latest && latest.nonce >= minedNonce) {
      if (Date.now() - latest.sentAt >= this.settings.replaceAfterMs) await this.send(await this.signPost(entry, latest.nonce, latest), latest);
      else await this.broadcaster.broadcast(latest, this.reorged.has(interval), { meter, interval });
      if (this.reorged.delete(interval)) this.log.warn("reading sent again after a reorganization", { meter, interval, tx: entry.txs.at(-1)!.hash, nonce: latest.nonce });
      return "wait";
    }
    const revert = await this.simulate(entry);
    if (revert) {
      const kind = refusalKind(revert);
      if (kind === "wait") return "wait";
      if (kind === "retry") throw new NotYetAccepted(`the market refuses the post for now: ${revert}`);
      await this.outcomes.refusedForGood(entry, revert, kind, await this.participant().catch(() => undefined));
      return "done";
    }
    const nonce = await this.provider.getTransactionCount(this.signer.address, "pending");
    if (await this.nonceWentBack(nonce)) return "wait"; // a reorganization since this step began: the dropped post goes first
    const tx = await this.signPost(entry, nonce);
    if (this.reorged.delete(interval)) this.log.warn("reading sent again after a reorganization", { meter, interval, tx: tx.hash, nonce: tx.nonce, newTransaction: true });
    await this.send(tx);
    return "wait";
  }

  /**
   * Whether the account's transaction count `count` fell to or below the highest nonce seen mined: a
   * reorganization took a post off the chain, which the chain watcher may not have reported yet.
   * The posts are then checked again (and reopened) before the next post takes that nonce.
   */
  private async nonceWentBack(count: number): Promise<boolean> {
    if (this.highestMined === undefined || count > this.highestMined) return false;
    this.log.warn("the meter account's nonce went back: a post was taken off the chain", { meter: this.meter, nonce: count, highestMined: this.highestMined });
    this.highestMined = count - 1;
    await this.checkPosts({ forkBlock: (await this.provider.getBlockNumber()) - this.settings.watchBlocks });
    return true;
  }

  /**
   * Settles the entry when the chain already holds a reading for its interval (`readingOf` answers
   * for the participant's last four intervals; an older one the post's refusal finds in the logs).
   */
  private async settledOnChain(entry: Entry): Promise<boolean> {
    const participantId = await this.participant();
    const [posted, importWh, exportWh] = await this.market.readingOf(participantId, entry.reading.interval);
    if (!posted) return false;
    if (!(await this.outcomes.foundOnChain(entry, participantId))) this.outcomes.onChainWithoutLog(entry, importWh, exportWh);
    return true;
  }

  private async participant(): Promise<number> {
    if (this.participantId === 0) this.participantId = Number(await this.market.participantOfMeter(this.signer.address));
    if (this.participantId === 0) throw new NotYetAccepted(`account ${this.signer.address} is not bound to a meter on the market`);
    return this.participantId;
  }

  private postArgs(entry: Entry): [bigint, number, bigint, bigint] {
    return [BigInt(entry.reading.meter), entry.reading.interval, BigInt(entry.reading.importWh), BigInt(entry.reading.exportWh)];
  }

  /** The custom error the post would revert with now ("Name(args)"), or undefined if it would pass. */
  private async simulate(entry: Entry): Promise<string | undefined> {
    try {
      await this.market.postReading.staticCall(...this.postArgs(entry));
      return undefined;
    } catch (error) {
      if (isError(error, "CALL_EXCEPTION") && error.revert) return `${error.revert.name}(${error.revert.args.join(", ")})`;
      throw error;
    }
  }

  /** Signs the post of a reading with `nonce`, paying at least 12.5% more than `replacing`; nothing is sent. */
  private async signPost(entry: Entry, nonce: number, replacing?: TxRecord): Promise<TxRecord> {
    const data = MARKET.encodeFunctionData("postReading", this.postArgs(entry));
    const gasLimit = replacing ? undefined : ((await this.market.postReading.estimateGas(...this.postArgs(entry))) * 12n) / 10n;
    const signed = await signCall(this.signer, this.provider, { to: this.marketAddress, data, nonce, gasLimit }, replacing?.raw);
    return { t: "tx", meter: entry.reading.meter, interval: entry.reading.interval, ...signed, sentAt: Date.now(), ...(replacing ? { replaces: replacing.hash } : {}) };
  }

  /** Journals a signed post, then broadcasts it. */
  private async send(tx: TxRecord, replacing?: TxRecord): Promise<void> {
    this.journal.addTx(tx);
    if (replacing) this.log.warn("replacing a stuck transaction", { meter: tx.meter, interval: tx.interval, nonce: tx.nonce, tx: tx.hash, replaces: replacing.hash });
    await this.broadcaster.broadcast(tx, true, { meter: tx.meter, interval: tx.interval });
  }
}
