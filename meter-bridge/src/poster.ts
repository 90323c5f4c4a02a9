/**
 * Posts one meter's journaled readings to the market, oldest first, signed locally with the
 * meter's own key. Each reading goes through: already confirmed? already on chain? a signed
 * transaction still pending (broadcast it again, or replace it with higher fees when stuck)?
 * else simulate, sign, journal, broadcast. Node errors are retried with backoff for as long
 * as it takes; nothing is lost while the node is away.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Contract, Interface, JsonRpcProvider, Transaction, TransactionRequest, Wallet, isError } from "ethers";
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
}

type Settings = Required<PosterOptions>;

export function posterSettings(options: PosterOptions = {}): Settings {
  const settings = { confirmations: 1, pollMs: 1000, retryMaxMs: 30_000, rebroadcastMs: 10_000, replaceAfterMs: 180_000, ...stripUndefined(options) };
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
  private readonly signer: Wallet;
  private participantId = 0;
  private readonly lastBroadcast = new Map<string, number>();
  private wakeUp: (() => void) | undefined;

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
  }

  /** Tells the poster a new reading is in the journal. */
  wake(): void {
    this.wakeUp?.();
  }

  /** Posts readings as they come until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      const entry = this.journal.unsettled(this.meter)[0];
      if (!entry) {
        await this.waitForWake(signal);
        continue;
      }
      let pauseMs = this.settings.pollMs;
      try {
        if ((await this.step(entry)) === "done") pauseMs = 0;
        failures = 0;
      } catch (error) {
        failures++;
        pauseMs = Math.min(this.settings.retryMaxMs, this.settings.pollMs * 2 ** Math.min(failures, 16));
        this.log.warn("posting delayed", { meter: this.meter, interval: entry.reading.interval, error: describe(error), retryInMs: pauseMs });
      }
      if (pauseMs > 0) await sleep(pauseMs, undefined, { signal }).catch(() => undefined);
    }
  }

  private waitForWake(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
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
      const receipt = await this.provider.getTransactionReceipt(tx.hash);
      if (!receipt) continue;
      if (receipt.status !== 1) continue; // reverted: the chain state below decides what next
      if ((await receipt.confirmations()) < this.settings.confirmations) return "wait";
      this.journal.settle({ meter, interval, outcome: "posted", hash: tx.hash, block: receipt.blockNumber });
      this.log.info("reading posted", { meter, interval, importWh: entry.reading.importWh, exportWh: entry.reading.exportWh, tx: tx.hash, block: receipt.blockNumber });
      return "done";
    }
    if (await this.settledOnChain(entry)) return "done";
    const latest = entry.txs.at(-1);
    if (latest && latest.nonce >= minedNonce) {
      if (Date.now() - latest.sentAt >= this.settings.replaceAfterMs) await this.signAndSend(entry, latest.nonce, latest);
      else await this.broadcastAgain(latest);
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
    await this.signAndSend(entry, await this.provider.getTransactionCount(this.signer.address, "pending"));
    return "wait";
  }

  /** Settles the entry when the chain already holds a reading for its interval. */
  private async settledOnChain(entry: Entry): Promise<boolean> {
    const { meter, interval } = entry.reading;
    const [posted, importWh, exportWh] = await this.market.readingOf(await this.participant(), interval);
    if (!posted) return false;
    if (importWh === BigInt(entry.reading.importWh) && exportWh === BigInt(entry.reading.exportWh)) {
      this.journal.settle({ meter, interval, outcome: "already-posted" });
      this.log.info("reading already on chain", { meter, interval });
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

  /** Signs a post with `nonce` (paying at least 12.5% more than `replacing`), journals it, broadcasts it. */
  private async signAndSend(entry: Entry, nonce: number, replacing?: TxRecord): Promise<void> {
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
    const hash = Transaction.from(raw).hash!;
    const tx: TxRecord = { t: "tx", meter: entry.reading.meter, interval: entry.reading.interval, hash, nonce, raw, sentAt: Date.now() };
    this.journal.addTx(tx);
    if (replacing) this.log.warn("replacing a stuck transaction", { meter: tx.meter, interval: tx.interval, nonce, tx: hash, replaces: replacing.hash });
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

/** A short description of an error for the logs. */
export function describe(error: unknown): string {
  if (isError(error, "CALL_EXCEPTION") && error.revert) return `${error.revert.name}(${error.revert.args.join(", ")})`;
  if (error instanceof Error) return (error as Error & { shortMessage?: string }).shortMessage ?? error.message;
  return String(error);
}
