/**
 * Posts one meter's journaled readings to the market, oldest first, signed locally with the
 * meter's own key. Each reading goes through: already confirmed? already on chain? a signed
 * transaction still pending (broadcast it again, or replace it with higher fees when stuck)?
 * else simulate, sign, journal, broadcast. Node errors are retried with backoff for as long
 * as it takes; nothing is lost while the node is away. A posted reading whose transaction a
 * chain reorganization took off the canonical chain is unsettled again and its transaction
 * broadcast again.
 *
 * Signing (`signPost`: the transaction, from the reading and the chain's fees and nonce) is
 * apart from sending (`send`): a reading signed otherwise (e.g. typed data for a batch) can take
 * the same journal-then-broadcast path.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Contract, Interface, JsonRpcProvider, Transaction, TransactionReceipt, TransactionRequest, Wallet, isError } from "ethers";
import { MARKET_ABI, PERMANENT_REVERTS } from "./abi";
import { Entry, Journal, TxRecord } from "./journal";
import { Logger } from "./log";
import { stripUndefined } from "./line";

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

type Settings = Required<PosterOptions>;

export function posterSettings(options: PosterOptions = {}): Settings {
  const settings = { confirmations: 1, pollMs: 1000, retryMaxMs: 30_000, rebroadcastMs: 10_000, replaceAfterMs: 180_000, watchBlocks: 128, ...stripUndefined(options) };
  for (const [name, value] of Object.entries(settings)) {
    if (!Number.isSafeInteger(value) || value < (name === "confirmations" ? 1 : 0)) throw new TypeError(`${name} must be a ${name === "confirmations" ? "positive" : "non-negative"} integer, got ${value}`);
  }
  return settings;
}

const MARKET = new Interface(MARKET_ABI);

/** What became of one step of posting a reading. */
type Step = "done" | "wait";

/** The chain refuses the post for now (unbound meter, wrong number); retried with backoff. */
class NotYetAccepted extends Error {}

export class MeterPoster {
  private readonly settings: Settings;
  private readonly market: Contract;
  private readonly marketAddress: string;
  private readonly signer: Wallet;
  private participantId = 0;
  private readonly lastBroadcast = new Map<string, number>();
  private wakeUp: (() => void) | undefined;
  /** reorganizations to check the posted readings against: the fork block and depth of each */
  private readonly reorgs: Array<{ forkBlock: number; depth?: number }> = [];
  /** intervals whose transaction a reorganization took away, not yet sent again */
  private readonly reorged = new Set<number>();

  constructor(
    /** 12-digit meter address; its integer value is the meter number on chain */
    readonly meter: string,
    wallet: Wallet,
    private readonly provider: JsonRpcProvider,
    marketAddress: string,
    private readonly journal: Journal,
    private readonly log: Logger,
    options: PosterOptions = {},
  ) {
    this.settings = posterSettings(options);
    this.signer = wallet.connect(provider);
    this.market = new Contract(marketAddress, MARKET, this.signer);
    this.marketAddress = marketAddress;
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
  private async checkPosts({ forkBlock, depth }: { forkBlock: number; depth?: number }): Promise<void> {
    for (const entry of this.journal.readings(this.meter)) {
      const done = entry.done;
      if (done?.outcome !== "posted" || done.hash === undefined || done.block === undefined || done.block <= forkBlock) continue;
      const receipt = await this.canonicalReceipt(done.hash);
      const { meter, interval } = entry.reading;
      if (receipt?.status === 1) {
        if (receipt.blockHash === done.blockHash) continue;
        this.journal.settle({ meter, interval, outcome: "posted", hash: done.hash, block: receipt.blockNumber, blockHash: receipt.blockHash });
        this.log.info("reading's transaction is in another block after a reorganization", { meter, interval, tx: done.hash, block: receipt.blockNumber, previousBlock: done.block, depth });
        continue;
      }
      this.journal.reopen({ meter, interval, hash: done.hash, block: done.block, depth: depth ?? -1 });
      this.reorged.add(interval);
      this.log.warn("reading's transaction was reorganized away, sending it again", { meter, interval, tx: done.hash, block: done.block, depth: depth ?? "while the bridge was down" });
    }
  }

  /** The receipt of a transaction if it is in a block of the canonical chain. */
  private async canonicalReceipt(hash: string): Promise<TransactionReceipt | null> {
    const receipt = await this.provider.getTransactionReceipt(hash);
    if (!receipt) return null;
    const block = await this.provider.getBlock(receipt.blockNumber);
    return block?.hash === receipt.blockHash ? receipt : null;
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
    // read first: a transaction mined after this point is then seen as still pending, never as lost
    const minedNonce = await this.provider.getTransactionCount(this.signer.address, "latest");
    for (const tx of [...entry.txs].reverse()) {
      const receipt = await this.canonicalReceipt(tx.hash);
      if (!receipt) continue;
      if (receipt.status !== 1) continue; // reverted: the chain state below decides what next
      if ((await receipt.confirmations()) < this.settings.confirmations) return "wait";
      this.settlePosted(entry, tx.hash, receipt);
      return "done";
    }
    if (await this.settledOnChain(entry)) return "done";
    const latest = entry.txs.at(-1);
    if (latest && latest.nonce >= minedNonce) {
      if (Date.now() - latest.sentAt >= this.settings.replaceAfterMs) await this.send(await this.signPost(entry, latest.nonce, latest), latest);
      else await this.broadcastAgain(latest, this.reorged.has(interval));
      if (this.reorged.delete(interval)) this.log.warn("reading sent again after a reorganization", { meter, interval, tx: entry.txs.at(-1)!.hash, nonce: latest.nonce });
      return "wait";
    }
    const revert = await this.simulate(entry);
    if (revert === "IntervalNotEnded") return "wait";
    if (revert && PERMANENT_REVERTS.has(revert.split("(")[0])) {
      this.journal.settle({ meter, interval, outcome: "rejected", reason: revert });
      this.log.error("reading rejected by the market", { meter, interval, importWh: entry.reading.importWh, exportWh: entry.reading.exportWh, reason: revert });
      return "done";
    }
    if (revert) throw new NotYetAccepted(`the market refuses the post: ${revert}`);
    const tx = await this.signPost(entry, await this.provider.getTransactionCount(this.signer.address, "pending"));
    if (this.reorged.delete(interval)) this.log.warn("reading sent again after a reorganization", { meter, interval, tx: tx.hash, nonce: tx.nonce, newTransaction: true });
    await this.send(tx);
    return "wait";
  }

  private settlePosted(entry: Entry, hash: string, receipt: { blockNumber: number; blockHash: string }): void {
    const { meter, interval, importWh, exportWh } = entry.reading;
    this.journal.settle({ meter, interval, outcome: "posted", hash, block: receipt.blockNumber, blockHash: receipt.blockHash });
    this.log.info("reading posted", { meter, interval, importWh, exportWh, tx: hash, block: receipt.blockNumber });
  }

  /**
   * Settles the entry when the chain already holds a reading for its interval: posted by one of
   * its own transactions (whose receipt the node did not give, e.g. after a node change), by
   * another transaction, or conflicting.
   */
  private async settledOnChain(entry: Entry): Promise<boolean> {
    const { meter, interval } = entry.reading;
    const participantId = await this.participant();
    const [posted, importWh, exportWh] = await this.market.readingOf(participantId, interval);
    if (!posted) return false;
    if (importWh === BigInt(entry.reading.importWh) && exportWh === BigInt(entry.reading.exportWh)) {
      const event = (await this.provider.getLogs({ address: this.marketAddress, topics: MARKET.encodeFilterTopics("ReadingPosted", [participantId, interval]), fromBlock: 0 })).at(-1);
      if (event && entry.txs.some((tx) => tx.hash === event.transactionHash)) {
        // one of its own posts, whose receipt the node did not give (a node without a transaction index, a node change)
        this.settlePosted(entry, event.transactionHash, { blockNumber: event.blockNumber, blockHash: event.blockHash });
      } else {
        this.journal.settle({ meter, interval, outcome: "already-posted", hash: event?.transactionHash, block: event?.blockNumber, blockHash: event?.blockHash });
        this.log.info("reading already on chain, posted by another transaction", { meter, interval, tx: event?.transactionHash ?? "unknown (the node keeps no logs of it)" });
      }
    } else {
      const reason = `ConflictingReading: the chain holds ${importWh}/${exportWh} Wh`;
      this.journal.settle({ meter, interval, outcome: "rejected", reason });
      this.log.error("reading rejected by the market", { meter, interval, importWh: entry.reading.importWh, exportWh: entry.reading.exportWh, reason });
    }
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
      if (isError(error, "CALL_EXCEPTION") && error.revert) {
        return error.revert.name === "IntervalNotEnded" ? "IntervalNotEnded" : `${error.revert.name}(${error.revert.args.join(", ")})`;
      }
      throw error;
    }
  }

  /** Signs the post of a reading with `nonce`, paying at least 12.5% more than `replacing`; nothing is sent. */
  private async signPost(entry: Entry, nonce: number, replacing?: TxRecord): Promise<TxRecord> {
    const old = replacing ? Transaction.from(replacing.raw) : undefined;
    // A replacement keeps the gas limit of the transaction it replaces. Estimating again can run on a
    // pending state that already holds the stuck post (anvil estimates on "pending"); there the post is
    // an identical re-post costing about half the gas, and the replacement would run out of gas.
    const [fees, gasLimit] = await Promise.all([
      this.provider.getFeeData(),
      old ? old.gasLimit : this.market.postReading.estimateGas(...this.postArgs(entry)).then((gas) => (gas * 12n) / 10n),
    ]);
    const request: TransactionRequest = {
      to: await this.market.getAddress(),
      data: MARKET.encodeFunctionData("postReading", this.postArgs(entry)),
      nonce,
      gasLimit,
      chainId: (await this.provider.getNetwork()).chainId,
    };
    // a replacement pays at least 12.5% (and at least 1 wei) more than the fee it replaces, even a zero one
    const bump = (now: bigint | null, before: bigint | null | undefined) => (before === null || before === undefined ? (now ?? 0n) : maxOf(now ?? 0n, (before * 9n) / 8n + 1n));
    if (fees.maxFeePerGas !== null && fees.maxPriorityFeePerGas !== null) {
      Object.assign(request, { type: 2, maxFeePerGas: bump(fees.maxFeePerGas, old?.maxFeePerGas), maxPriorityFeePerGas: bump(fees.maxPriorityFeePerGas, old?.maxPriorityFeePerGas) });
    } else {
      Object.assign(request, { type: 0, gasPrice: bump(fees.gasPrice, old?.gasPrice) });
    }
    const raw = await this.signer.signTransaction(request);
    return { t: "tx", meter: entry.reading.meter, interval: entry.reading.interval, hash: Transaction.from(raw).hash!, nonce, raw, sentAt: Date.now() };
  }

  /** Journals a signed post, then broadcasts it. */
  private async send(tx: TxRecord, replacing?: TxRecord): Promise<void> {
    this.journal.addTx(tx);
    if (replacing) this.log.warn("replacing a stuck transaction", { meter: tx.meter, interval: tx.interval, nonce: tx.nonce, tx: tx.hash, replaces: replacing.hash });
    await this.broadcastAgain(tx, true);
  }

  /** Broadcasts a journaled transaction (again); "already known" and "nonce used" answers are fine. */
  private async broadcastAgain(tx: TxRecord, force = false): Promise<void> {
    const last = this.lastBroadcast.get(tx.hash);
    if (!force && last !== undefined && Date.now() - last < this.settings.rebroadcastMs) return;
    try {
      await this.provider.broadcastTransaction(tx.raw);
    } catch (error) {
      const harmless = isError(error, "NONCE_EXPIRED") || isError(error, "REPLACEMENT_UNDERPRICED") || /already (known|imported)|known transaction/i.test(String((error as Error).message));
      if (!harmless) throw error;
    }
    this.lastBroadcast.set(tx.hash, Date.now());
    this.log.debug("transaction broadcast", { meter: tx.meter, interval: tx.interval, nonce: tx.nonce, tx: tx.hash });
  }
}

function maxOf(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** A short description of an error for the logs; for an error ethers could not classify, the node's own words. */
export function describe(error: unknown): string {
  if (isError(error, "CALL_EXCEPTION") && error.revert) return `${error.revert.name}(${error.revert.args.join(", ")})`;
  if (isError(error, "UNKNOWN_ERROR")) {
    const node = (error as { error?: { message?: string } }).error?.message;
    if (node) return `the node says: ${node}`;
  }
  if (error instanceof Error) return (error as Error & { shortMessage?: string }).shortMessage ?? error.message;
  return String(error);
}
