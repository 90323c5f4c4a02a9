/**
 * How a reading's fate is journaled and logged, the same for a meter's own posts and for batches:
 * posted by one of its transactions; found on chain (posted by one of its transactions whose
 * receipt the node did not give, or by another transaction, or a conflicting reading); refused for
 * good (rejected, or too late: its interval is settled and the next reading carries its energy).
 */
import { JsonRpcProvider, TransactionReceipt } from "ethers";
import { Refusal } from "./abi";
import { Entry, Journal } from "./journal";
import { Logger } from "./log";
import { canonicalReceipt, postedEvent } from "./transactions";

export class Outcomes {
  constructor(
    private readonly journal: Journal,
    private readonly log: Logger,
    private readonly provider: JsonRpcProvider,
    private readonly market: string,
  ) {}

  /** The reading was posted by transaction `hash`, included in `receipt`'s block. */
  posted(entry: Entry, hash: string, receipt: { blockNumber: number; blockHash: string }, fields: Record<string, unknown> = {}): void {
    const { meter, interval, importWh, exportWh } = entry.reading;
    this.journal.settle({ meter, interval, outcome: "posted", hash, block: receipt.blockNumber, blockHash: receipt.blockHash });
    this.log.info("reading posted", { meter, interval, importWh, exportWh, tx: hash, block: receipt.blockNumber, ...fields });
  }

  /**
   * Settles the entry when the chain's logs hold a reading of participant `participantId` for its
   * interval: posted by one of its own transactions (whose receipt the node did not give, e.g. after
   * a node change), by another transaction, or a different reading (conflicting). False when none.
   */
  async foundOnChain(entry: Entry, participantId: number): Promise<boolean> {
    const { meter, interval } = entry.reading;
    const event = await postedEvent(this.provider, this.market, participantId, interval);
    if (!event) return false;
    const { log } = event;
    if (event.importWh !== BigInt(entry.reading.importWh) || event.exportWh !== BigInt(entry.reading.exportWh)) {
      this.refused(entry, `ConflictingReading: the chain holds ${event.importWh}/${event.exportWh} Wh`, "rejected");
    } else if (entry.txs.some((tx) => tx.hash === log.transactionHash)) {
      this.posted(entry, log.transactionHash, log);
    } else {
      this.journal.settle({ meter, interval, outcome: "already-posted", hash: log.transactionHash, block: log.blockNumber, blockHash: log.blockHash });
      this.log.info("reading already on chain, posted by another transaction", { meter, interval, tx: log.transactionHash });
    }
    return true;
  }

  /** The chain holds `importWh`/`exportWh` for the entry's interval, but the node gives no log of it. */
  onChainWithoutLog(entry: Entry, importWh: bigint, exportWh: bigint): void {
    const { meter, interval } = entry.reading;
    if (importWh !== BigInt(entry.reading.importWh) || exportWh !== BigInt(entry.reading.exportWh)) {
      this.refused(entry, `ConflictingReading: the chain holds ${importWh}/${exportWh} Wh`, "rejected");
      return;
    }
    this.journal.settle({ meter, interval, outcome: "already-posted" });
    this.log.info("reading already on chain, posted by another transaction", { meter, interval, tx: "unknown (the node keeps no logs of it)" });
  }

  /**
   * A refusal for good. A reading refused as out of order or conflicting may be on chain already
   * (posted by a transaction the bridge lost sight of): then it is settled as such instead.
   */
  async refusedForGood(entry: Entry, reason: string, kind: "rejected" | "too-late", participantId: number | undefined, fields: Record<string, unknown> = {}): Promise<void> {
    if (participantId && /^(ReadingOutOfOrder|ConflictingReading)\b/.test(reason) && (await this.foundOnChain(entry, participantId))) return;
    this.refused(entry, reason, kind, fields);
  }

  private refused(entry: Entry, reason: string, kind: Exclude<Refusal, "wait" | "retry">, fields: Record<string, unknown> = {}): void {
    const { meter, interval, importWh, exportWh } = entry.reading;
    this.journal.settle({ meter, interval, outcome: kind, reason, ...(typeof fields.tx === "string" ? { hash: fields.tx } : {}) });
    if (kind === "too-late") this.log.warn("reading too late: the market settled its interval without it, the next reading carries its energy", { meter, interval, importWh, exportWh, reason, ...fields });
    else this.log.error("reading rejected by the market", { meter, interval, importWh, exportWh, reason, ...fields });
  }
}

/**
 * Checks that the readings of `meters` posted above `forkBlock` are still on the canonical chain:
 * a post in another block now is journaled there; one no longer on the chain is reopened (unsettled
 * again, its transactions kept, so the same signed transaction is sent again). Returns the reopened entries.
 */
export async function recheckPosts(journal: Journal, log: Logger, provider: JsonRpcProvider, meters: readonly string[], { forkBlock, depth }: { forkBlock: number; depth?: number }): Promise<Entry[]> {
  const receipts = new Map<string, Promise<TransactionReceipt | null>>(); // a batch's entries share one receipt
  const reopened: Entry[] = [];
  for (const meter of meters) {
    for (const entry of journal.readings(meter)) {
      const done = entry.done;
      if (done?.outcome !== "posted" || done.hash === undefined || done.block === undefined || done.block <= forkBlock) continue;
      if (!receipts.has(done.hash)) receipts.set(done.hash, canonicalReceipt(provider, done.hash));
      const receipt = await receipts.get(done.hash)!;
      const { interval } = entry.reading;
      if (receipt?.status === 1) {
        if (receipt.blockHash === done.blockHash) continue;
        journal.settle({ meter, interval, outcome: "posted", hash: done.hash, block: receipt.blockNumber, blockHash: receipt.blockHash });
        log.info("reading's transaction is in another block after a reorganization", { meter, interval, tx: done.hash, block: receipt.blockNumber, previousBlock: done.block, depth });
        continue;
      }
      journal.reopen({ meter, interval, hash: done.hash, block: done.block, depth: depth ?? -1 });
      reopened.push(entry);
      log.warn("reading's transaction was reorganized away, sending it again", { meter, interval, tx: done.hash, block: done.block, depth: depth ?? "while the bridge was down" });
    }
  }
  return reopened;
}
