/**
 * A transaction sender for one key, for long-running operators (the cycle daemon) on a real node.
 *
 * - Signs locally (ethers Wallet) and sends raw transactions; the node never holds the key.
 * - Sends one transaction at a time and manages the nonce itself: taken from the chain at the first
 *   send and after any doubt, then counted up per mined transaction.
 * - Waits for the receipt with a timeout; a transaction that is stuck (still pending) or dropped
 *   (the node forgot it, e.g. after a restart) is replaced with the same nonce and fees raised by a
 *   quarter (legacy gasPrice, or both EIP-1559 fees). Receipts of every version are polled by hash,
 *   and re-fetched after the confirmations so a reorg is noticed.
 * - Survives the node going away: every RPC call is retried with backoff until it answers.
 * - A revert, at estimation or on chain, becomes a RevertError with the decoded custom error.
 * - On start it finds transactions of this key still pending from an earlier run (the process was
 *   killed between sending and mining), waits for them and, if they stay stuck, cancels them with a
 *   zero-value self-transfer. Whatever they did, the caller derives its next step from chain state
 *   afterwards, and the contract rejects a repeated effect, so a restart never doubles one.
 * - Reorgs: every transaction it got mined stays watched (its signed bytes kept) until it is
 *   `watchBlocks` deep. Before each send, and whenever the caller asks (`checkReorgs`, the cycle
 *   daemon's every tick), it re-fetches each watched receipt by hash: a receipt gone, or in a block
 *   that is no longer canonical, means a reorg. It logs the reorg's depth (blocks of the old branch
 *   from the fork point to the block that held the transaction) and sends the same signed
 *   transaction again (same hash, same nonce, so it can only take effect once), in nonce order.
 */
import { ErrorDescription, Interface, Provider, Transaction, TransactionReceipt, TransactionRequest, Wallet } from "ethers";

/** What to send: a call (the sender fills in nonce, gas and fees). */
export interface CallRequest {
  to: string;
  data: string;
  value?: bigint;
}

/** One structured log record of the sender. */
export type SenderEvent = Record<string, unknown> & { event: string };

export interface SenderOptions {
  /** How long to wait for a receipt before replacing the transaction (default 30 s). */
  receiptTimeoutMs?: number;
  /** Receipt polling period (default 1 s). */
  pollMs?: number;
  /** Blocks a receipt must have before it counts (default 1: mined). */
  confirmations?: number;
  /** Fixed legacy gas price (a private chain's --miner.gasprice); otherwise from the node. */
  gasPrice?: bigint;
  /** Longest wait between retries while the node is unreachable (default 5 s). */
  maxBackoffMs?: number;
  /** Replacements of one transaction before the sender keeps waiting at the last fee (default 8). */
  maxReplacements?: number;
  /** Blocks a mined transaction stays watched for reorgs (default 64). */
  watchBlocks?: number;
  /** Custom errors to decode reverts with (the market's interface). */
  errors?: Interface;
  /** Receives every step: sent, replaced, node unreachable, reorg, … */
  log?: (e: SenderEvent) => void;
  /** Aborts waits and retries; the pending send then rejects with SendAborted. */
  signal?: AbortSignal;
}

/** A mined transaction that succeeded. */
export interface Sent {
  hash: string;
  nonce: number;
  receipt: TransactionReceipt;
  /** Hashes of the versions sent before the one that was mined. */
  replaced: string[];
}

/** A call the contract rejected: at estimation (nothing sent) or on chain (`receipt` set, gas spent). */
export class RevertError extends Error {
  constructor(
    /** `{ name, args }` of the custom error, the shape tasks/cli.ts `revertName` reads. */
    readonly revert: { name: string; args: unknown[] },
    readonly receipt?: TransactionReceipt,
  ) {
    super(`reverted: ${formatRevert(revert)}${receipt ? ` in tx ${receipt.hash}` : ""}`);
  }
}

/** The wait was abandoned (stop requested); `hash` may still be mined. */
export class SendAborted extends Error {
  constructor(readonly hash?: string) {
    super(hash ? `abandoned the wait for ${hash}; it may still be mined` : "aborted before sending");
  }
}

export function formatRevert(r: { name: string; args: unknown[] }): string {
  return `${r.name}(${r.args.map(String).join(", ")})`;
}

type Fees = { gasPrice: bigint } | { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint };
type Outcome = { kind: "mined"; receipt: TransactionReceipt } | { kind: "nonce-used" };

/** A mined transaction kept for reorg checks: its signed bytes, to send again if its block goes. */
interface Watched {
  hash: string;
  nonce: number;
  signed: string;
  blockHash: string;
  blockNumber: number;
  label: Record<string, unknown>;
}

const DEFAULT_PRIORITY_FEE = 10n ** 9n;
const BUMP_NUM = 125n; // fees × 1.25 per replacement (nodes need ≥ 10 %, this brief ≥ 12.5 %)
const BUMP_DEN = 100n;

export class Sender {
  readonly address: string;
  private nonce: number | undefined;
  private chainId: bigint | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** Signed bytes of every version sent in this run, by hash. */
  private readonly signedByHash = new Map<string, string>();
  /** Mined transactions not yet `watchBlocks` deep. */
  private watched: Watched[] = [];
  private readonly o: Required<Omit<SenderOptions, "gasPrice" | "errors" | "signal">> & SenderOptions;

  constructor(
    private readonly wallet: Wallet,
    private readonly provider: Provider,
    options: SenderOptions = {},
  ) {
    this.address = wallet.address;
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.o = { receiptTimeoutMs: 30_000, pollMs: 1000, confirmations: 1, maxBackoffMs: 5000, maxReplacements: 8, watchBlocks: 64, log: () => {}, ...given };
  }

  /** Send `call` after the sends before it; resolves once mined and confirmed. */
  send(call: CallRequest, label: Record<string, unknown> = {}): Promise<Sent> {
    const run = this.queue.then(() => this.sendNow(call, label));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Send several independent calls at once, with consecutive nonces, so one block can hold them all
   * (the relayer's batches); each is estimated first (a call the node refuses is not sent: its slot in
   * the result is the RevertError) and then watched, replaced and confirmed like a single send.
   * Resolves as soon as the calls are broadcast, with `results` (each call's outcome, in order, once
   * all are mined): the next send may go out while these wait for their block, so several batches
   * can be in flight together. Broadcasts go in nonce order and stop at the first the node refuses
   * outright, so no nonce is left a gap; should a nonce turn out taken, the next send re-reads it from
   * the chain once everything in flight is mined.
   */
  dispatchMany(calls: CallRequest[], labels: Record<string, unknown>[] = []): Promise<{ results: Promise<(Sent | Error)[]> }> {
    const run = this.queue.then(() => this.dispatchManyNow(calls, labels));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Settle transactions of this key left pending by an earlier run, before the first send. */
  async start(): Promise<void> {
    await this.queue;
    const run = this.syncNonce();
    this.queue = run.catch(() => undefined);
    await run;
  }

  /**
   * Re-check the transactions mined in this run: any whose block left the canonical chain is logged
   * with the reorg's depth and sent again. Returns the hashes sent again. Runs in the send queue.
   */
  checkReorgs(): Promise<string[]> {
    const run = this.queue.then(() => this.checkReorgsNow());
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async checkReorgsNow(): Promise<string[]> {
    if (this.watched.length === 0 && this.pendingAgain.size === 0) return [];
    const latest = await this.rpc(() => this.provider.getBlock("latest"));
    // the same head as at the last check: no block changed since (a reorg always changes the head)
    if (!latest || (latest.hash === this.checkedAtHead && this.pendingAgain.size === 0)) return [];
    const head = latest.number;
    const receipts = await Promise.all(this.watched.map((w) => this.rpc(() => this.provider.getTransactionReceipt(w.hash))));
    const resent: Watched[] = [];
    const keep: Watched[] = [];
    for (const [i, w] of this.watched.entries()) {
      const receipt = receipts[i];
      if (receipt && receipt.blockHash === w.blockHash) {
        if (head - receipt.blockNumber < this.o.watchBlocks) keep.push(w);
        continue;
      }
      const depth = await this.reorgDepth(w.blockHash, w.blockNumber);
      this.log({ event: "reorg", ...w.label, tx: w.hash, nonce: w.nonce, block: w.blockNumber, depth, note: receipt ? `mined again in block ${receipt.blockNumber}` : "its block left the chain; sending it again" });
      if (receipt) {
        this.log({ event: "mined-again", ...w.label, tx: w.hash, nonce: w.nonce, block: receipt.blockNumber, status: receipt.status });
        keep.push({ ...w, blockHash: receipt.blockHash, blockNumber: receipt.blockNumber });
        continue;
      }
      await this.resend(w.signed, { ...w.label, nonce: w.nonce, reorgDepth: depth });
      resent.push(w);
    }
    // sent again: watched until mined again (the next check finds their new blocks)
    this.watched = keep;
    await this.rewatch(head);
    for (const w of resent) this.pendingAgain.set(w.hash, w.label);
    this.checkedAtHead = latest.hash ?? undefined;
    // this.nonce stays: the re-sent transactions fill the nonces below it again
    return resent.map((w) => w.hash);
  }

  /** The head block's hash at the last reorg check. */
  private checkedAtHead: string | undefined;

  /** Transactions sent again after a reorg, watched once mined again. */
  private readonly pendingAgain = new Map<string, Record<string, unknown>>();

  private async rewatch(head: number): Promise<void> {
    for (const [hash, label] of [...this.pendingAgain]) {
      const receipt = await this.rpc(() => this.provider.getTransactionReceipt(hash));
      if (!receipt) {
        // still not mined: the node may have forgotten it again; offer it once more
        await this.resend(this.signedByHash.get(hash)!, { ...label, again: true });
        continue;
      }
      this.pendingAgain.delete(hash);
      this.log({ event: "mined-again", ...label, tx: hash, block: receipt.blockNumber, status: receipt.status });
      const tx = Transaction.from(this.signedByHash.get(hash)!);
      if (head - receipt.blockNumber < this.o.watchBlocks) this.watched.push({ hash, nonce: tx.nonce, signed: this.signedByHash.get(hash)!, blockHash: receipt.blockHash, blockNumber: receipt.blockNumber, label });
    }
  }

  private async resend(signed: string, label: Record<string, unknown>): Promise<void> {
    const hash = Transaction.from(signed).hash!;
    const accepted = await this.broadcast(signed).catch((e) => `refused: ${errorText(e).split("\n")[0]}`);
    this.log({ event: "resent", ...label, tx: hash, node: accepted });
  }

  /**
   * Blocks of the old branch from the fork point up to `blockNumber`: walk the old block's parents
   * (Geth keeps side-chain blocks) until one is canonical again.
   */
  private async reorgDepth(blockHash: string, blockNumber: number): Promise<number | string> {
    let hash = blockHash;
    for (let n = blockNumber; n >= 0; n--) {
      const canonical = await this.rpc(() => this.provider.getBlock(n));
      if (canonical?.hash === hash) return blockNumber - n;
      const old = await this.rpc(() => this.provider.getBlock(hash));
      if (!old) return `>= ${blockNumber - n + 1} (the old branch is unknown to this node)`;
      hash = old.parentHash;
    }
    return blockNumber + 1;
  }

  private async sendNow(call: CallRequest, label: Record<string, unknown>): Promise<Sent> {
    await this.checkReorgsNow();
    for (;;) {
      if (this.nonce === undefined) await this.syncNonceWhenIdle();
      const nonce = this.nonce!;
      const gasLimit = await this.estimate(call);
      const tx: TransactionRequest = { ...call, from: this.address, nonce, gasLimit, chainId: await this.getChainId() };
      const hashes: string[] = [];
      let outcome: Outcome;
      try {
        outcome = await this.broadcastUntilMined(tx, await this.freshFees(), label, hashes);
      } catch (e) {
        this.nonce = undefined; // unsure what the node holds now: ask it before the next send
        throw e instanceof SendAborted && hashes.length ? new SendAborted(hashes.at(-1)) : e;
      }
      if (outcome.kind === "nonce-used") {
        this.log({ event: "nonce-used", ...label, nonce, note: "another transaction took this nonce; re-checking the call" });
        this.nonce = undefined;
        continue;
      }
      this.nonce = nonce + 1;
      const { receipt } = outcome;
      const replaced = hashes.filter((h) => h !== receipt.hash);
      this.watch(receipt, nonce, label);
      if (receipt.status !== 1) throw new RevertError(await this.replayRevert(call, receipt), receipt);
      return { hash: receipt.hash, nonce, receipt, replaced };
    }
  }

  private async dispatchManyNow(calls: CallRequest[], labels: Record<string, unknown>[]): Promise<{ results: Promise<(Sent | Error)[]> }> {
    await this.checkReorgsNow();
    if (this.nonce === undefined) await this.syncNonceWhenIdle();
    const estimated = await Promise.all(calls.map((call) => this.estimate(call).catch((e: Error) => e)));
    const [fees, chainId] = [await this.freshFees(), await this.getChainId()];
    let nonce = this.nonce!;
    let nonceTaken = false;
    const runs: Promise<Sent | Error>[] = [];
    let refused: Error | undefined;
    for (const [i, call] of calls.entries()) {
      const gasLimit = estimated[i];
      if (refused || gasLimit instanceof Error) {
        runs.push(Promise.resolve(refused ?? (gasLimit as Error)));
        continue;
      }
      const tx: TransactionRequest = { ...call, from: this.address, nonce, gasLimit, chainId };
      const label = labels[i] ?? {};
      const hashes: string[] = [];
      let broadcast!: () => void;
      const wasBroadcast = new Promise<void>((resolve) => (broadcast = resolve));
      const run = (async (): Promise<Sent | Error> => {
        const outcome = await this.broadcastUntilMined(tx, fees, label, hashes, broadcast);
        if (outcome.kind === "nonce-used") {
          nonceTaken = true;
          return new Error(`nonce ${tx.nonce} was taken by another transaction of this key; nothing of this call was mined`);
        }
        this.watch(outcome.receipt, tx.nonce!, label);
        if (outcome.receipt.status !== 1) return new RevertError(await this.replayRevert(call, outcome.receipt), outcome.receipt);
        return { hash: outcome.receipt.hash, nonce: tx.nonce!, receipt: outcome.receipt, replaced: hashes.filter((h) => h !== outcome.receipt.hash) };
      })().catch((e: Error) => e);
      // the next nonce goes out only once this one is with the node; a refusal ends the dispatch here
      await Promise.race([wasBroadcast, run]);
      if (hashes.length === 0) {
        refused = (await run) as Error;
        runs.push(Promise.resolve(refused));
        continue;
      }
      nonce += 1;
      runs.push(run);
    }
    // undefined meanwhile: a batch sent earlier found its nonce taken, and the next send re-reads it
    if (this.nonce !== undefined) this.nonce = nonce;
    const results = Promise.all(runs);
    this.track(
      results.then((rs) => {
        if (nonceTaken || rs.some((r) => r instanceof Error && !(r instanceof RevertError) && r !== refused)) this.nonce = undefined;
      }),
    );
    return { results };
  }

  /** Batches broadcast by dispatchMany and not yet mined. */
  private readonly inFlight = new Set<Promise<unknown>>();

  private track(p: Promise<unknown>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** Re-read the nonce, once nothing of this run is in flight (else its pending transactions would look like an earlier run's). */
  private async syncNonceWhenIdle(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
    if (this.nonce === undefined) await this.syncNonce();
  }

  /** Gas limit with a margin; a revert here throws RevertError and sends nothing. */
  private async estimate(call: CallRequest): Promise<bigint> {
    try {
      const gas = await this.rpc(() => this.provider.estimateGas({ ...call, from: this.address }));
      return (gas * 6n) / 5n + 10_000n;
    } catch (e) {
      const revert = decodeRevert(e, this.o.errors);
      if (revert) throw new RevertError(revert);
      throw e;
    }
  }

  /** Sign, broadcast and wait; on timeout replace with higher fees until one version is mined. */
  private async broadcastUntilMined(tx: TransactionRequest, fees: Fees, label: Record<string, unknown>, hashes: string[], onBroadcast?: () => void): Promise<Outcome> {
    for (let replacements = 0; ; ) {
      const signed = await this.wallet.signTransaction({ ...tx, ...fees, type: "gasPrice" in fees ? 0 : 2 });
      const hash = Transaction.from(signed).hash!;
      this.signedByHash.set(hash, signed);
      const accepted = await this.broadcast(signed);
      if (accepted === "underpriced") {
        fees = bumpFees(fees);
        continue;
      }
      const isNew = !hashes.includes(hash);
      if (isNew) hashes.push(hash);
      onBroadcast?.();
      if (accepted === "nonce-low") {
        const receipt = (await this.findReceipt(hashes)) ?? (await this.lateReceipt(hashes));
        return receipt ? this.confirm(receipt, hashes, tx.nonce!, label) : { kind: "nonce-used" };
      }
      const event = !isNew ? "rebroadcast" : hashes.length > 1 ? "replaced" : "sent";
      this.log({ event, ...label, tx: hash, nonce: tx.nonce, ...feeFields(fees), replaces: isNew ? hashes.at(-2) : undefined });
      const outcome = await this.waitMined(hashes, tx.nonce!, label);
      if (outcome) return outcome;
      const dropped = (await this.rpc(() => this.provider.getTransaction(hash))) === null;
      if (replacements >= this.o.maxReplacements && !dropped) {
        this.log({ event: "stuck", ...label, tx: hash, note: "at the replacement limit; still waiting" });
        continue;
      }
      replacements++;
      this.log({ event: dropped ? "dropped" : "stuck", ...label, tx: hash, nonce: tx.nonce, waitedMs: this.o.receiptTimeoutMs });
      fees = maxFees(bumpFees(fees), await this.freshFees());
    }
  }

  /** "ok" once the node holds the transaction (also when it already did). */
  private async broadcast(signed: string): Promise<"ok" | "underpriced" | "nonce-low"> {
    try {
      await this.rpc(() => this.provider.broadcastTransaction(signed));
      return "ok";
    } catch (e) {
      const code = (e as { code?: string }).code;
      const message = errorText(e);
      if (/already known|already imported|known transaction/i.test(message)) return "ok";
      if (code === "REPLACEMENT_UNDERPRICED" || /underpriced|fee too low/i.test(message)) return "underpriced";
      if (code === "NONCE_EXPIRED" || /nonce too low/i.test(message)) return "nonce-low";
      throw e;
    }
  }

  /** Poll receipts of all versions until one is mined and confirmed, or the timeout (undefined). */
  private async waitMined(hashes: string[], nonce: number, label: Record<string, unknown>): Promise<Outcome | undefined> {
    const deadline = Date.now() + this.o.receiptTimeoutMs;
    while (Date.now() < deadline) {
      const receipt = await this.findReceipt(hashes);
      if (receipt) return this.confirm(receipt, hashes, nonce, label);
      if ((await this.rpc(() => this.provider.getTransactionCount(this.address, "latest"))) > nonce) {
        const late = await this.lateReceipt(hashes);
        return late ? this.confirm(late, hashes, nonce, label) : { kind: "nonce-used" };
      }
      await this.sleep(this.o.pollMs);
    }
    return undefined;
  }

  /** The nonce is used: a receipt of ours may lag behind the nonce (node indexing, provider cache). */
  private async lateReceipt(hashes: string[]): Promise<TransactionReceipt | undefined> {
    for (let i = 0; i < 3; i++) {
      await this.sleep(Math.max(this.o.pollMs, 300));
      const receipt = await this.findReceipt(hashes);
      if (receipt) return receipt;
    }
    return undefined;
  }

  /** Wait for the confirmations, then re-fetch the receipt by hash: gone means a reorg, so wait again. */
  private async confirm(receipt: TransactionReceipt, hashes: string[], nonce: number, label: Record<string, unknown>): Promise<Outcome> {
    for (;;) {
      const target = receipt.blockNumber + this.o.confirmations - 1;
      while ((await this.rpc(() => this.provider.getBlockNumber())) < target) await this.sleep(this.o.pollMs);
      const again = await this.rpc(() => this.provider.getTransactionReceipt(receipt.hash));
      if (again && again.blockHash === receipt.blockHash) return { kind: "mined", receipt: again };
      const depth = await this.reorgDepth(receipt.blockHash, receipt.blockNumber);
      this.log({ event: "reorg", ...label, tx: receipt.hash, nonce, block: receipt.blockNumber, depth, note: again ? `mined again in block ${again.blockNumber}` : "its block left the chain before the confirmations; sending it again" });
      if (again) {
        this.log({ event: "mined-again", ...label, tx: again.hash, nonce, block: again.blockNumber, status: again.status });
        receipt = again;
        continue;
      }
      await this.resend(this.signedByHash.get(receipt.hash)!, { ...label, nonce, reorgDepth: depth });
      const outcome = await this.waitMined(hashes, nonce, label);
      if (outcome) return outcome;
      throw new Error(`tx ${receipt.hash} left the chain in a reorg and was not mined again within ${this.o.receiptTimeoutMs} ms`);
    }
  }

  private watch(receipt: TransactionReceipt, nonce: number, label: Record<string, unknown>): void {
    const signed = this.signedByHash.get(receipt.hash);
    if (signed) this.watched.push({ hash: receipt.hash, nonce, signed, blockHash: receipt.blockHash, blockNumber: receipt.blockNumber, label });
    // forget the signed bytes of versions that can no longer be mined
    if (this.signedByHash.size > 4 * (this.watched.length + 16)) {
      const keep = new Set([...this.watched.map((w) => w.hash), ...this.pendingAgain.keys()]);
      for (const h of this.signedByHash.keys()) if (!keep.has(h)) this.signedByHash.delete(h);
    }
  }

  private async findReceipt(hashes: string[]): Promise<TransactionReceipt | undefined> {
    for (const h of hashes) {
      const r = await this.rpc(() => this.provider.getTransactionReceipt(h));
      if (r) return r;
    }
    return undefined;
  }

  /** The custom error of a transaction that reverted on chain, replayed on the state of its block. */
  private async replayRevert(call: CallRequest, receipt: TransactionReceipt): Promise<{ name: string; args: unknown[] }> {
    try {
      await this.rpc(() => this.provider.call({ ...call, from: this.address, blockTag: receipt.blockNumber }));
    } catch (e) {
      const revert = decodeRevert(e, this.o.errors);
      if (revert) return revert;
    }
    return { name: "RevertedOnChain", args: [] };
  }

  /**
   * Take the nonce from the chain. Transactions of this key still pending (pending count above the
   * mined count) came from an earlier run: wait for them, then cancel those still stuck.
   */
  private async syncNonce(): Promise<void> {
    const mined = () => this.rpc(() => this.provider.getTransactionCount(this.address, "latest"));
    const pending = await this.rpc(() => this.provider.getTransactionCount(this.address, "pending"));
    let latest = await mined();
    if (pending > latest) {
      this.log({ event: "pending-found", from: latest, to: pending - 1, note: "transactions of an earlier run; waiting for them" });
      const deadline = Date.now() + this.o.receiptTimeoutMs;
      while ((latest = await mined()) < pending && Date.now() < deadline) await this.sleep(this.o.pollMs);
      for (let n = latest; n < pending; n++) await this.cancel(n);
      latest = await mined();
    }
    this.nonce = latest;
  }

  /** Replace whatever holds `nonce` with a zero-value self-transfer at twice the current fees. */
  private async cancel(nonce: number): Promise<void> {
    const fees = bumpFees(bumpFees(bumpFees(await this.freshFees())));
    const tx: TransactionRequest = { to: this.address, value: 0n, data: "0x", from: this.address, nonce, gasLimit: 21_000n, chainId: await this.getChainId() };
    const outcome = await this.broadcastUntilMined(tx, fees, { action: "cancel" }, []);
    this.log({ event: "cancelled", nonce, note: outcome.kind === "mined" ? "replaced by a self-transfer" : "the earlier transaction was mined" });
  }

  /** Current fees: legacy when the latest block has no base fee, else EIP-1559. */
  private async freshFees(): Promise<Fees> {
    const block = await this.rpc(() => this.provider.getBlock("latest"));
    const feeData = await this.rpc(() => this.provider.getFeeData());
    const baseFee = block?.baseFeePerGas;
    if (baseFee === null || baseFee === undefined) return { gasPrice: this.o.gasPrice ?? feeData.gasPrice ?? DEFAULT_PRIORITY_FEE };
    const tip = feeData.maxPriorityFeePerGas ?? DEFAULT_PRIORITY_FEE;
    return { maxFeePerGas: baseFee * 2n + tip, maxPriorityFeePerGas: tip };
  }

  private async getChainId(): Promise<bigint> {
    this.chainId ??= (await this.rpc(() => this.provider.getNetwork())).chainId;
    return this.chainId;
  }

  /** Run an RPC call, retrying with backoff while the node is unreachable. */
  private async rpc<T>(call: () => Promise<T>): Promise<T> {
    for (let delay = 250, down = false; ; delay = Math.min(delay * 2, this.o.maxBackoffMs)) {
      try {
        const result = await call();
        if (down) this.log({ event: "node-back" });
        return result;
      } catch (e) {
        if (!isUnreachable(e)) throw e;
        if (!down) this.log({ event: "node-unreachable", error: errorText(e).split("\n")[0], note: "retrying with backoff" });
        down = true;
        await this.sleep(delay);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return sleep(ms, this.o.signal);
  }

  private log(e: SenderEvent): void {
    this.o.log(Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined)) as SenderEvent);
  }
}

/** Resolves after `ms`, or rejects with SendAborted when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new SendAborted());
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new SendAborted());
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export function bumpFees(f: Fees): Fees {
  const up = (x: bigint) => (x * BUMP_NUM + BUMP_DEN - 1n) / BUMP_DEN + 1n;
  return "gasPrice" in f ? { gasPrice: up(f.gasPrice) } : { maxFeePerGas: up(f.maxFeePerGas), maxPriorityFeePerGas: up(f.maxPriorityFeePerGas) };
}

function maxFees(a: Fees, b: Fees): Fees {
  const max = (x: bigint, y: bigint) => (x > y ? x : y);
  if ("gasPrice" in a && "gasPrice" in b) return { gasPrice: max(a.gasPrice, b.gasPrice) };
  if (!("gasPrice" in a) && !("gasPrice" in b)) {
    return { maxFeePerGas: max(a.maxFeePerGas, b.maxFeePerGas), maxPriorityFeePerGas: max(a.maxPriorityFeePerGas, b.maxPriorityFeePerGas) };
  }
  return a; // the chain switched fee markets mid-wait: keep the raised fee of the same type
}

function feeFields(f: Fees): Record<string, string> {
  return "gasPrice" in f ? { gasPrice: f.gasPrice.toString() } : { maxFeePerGas: f.maxFeePerGas.toString(), maxPriorityFeePerGas: f.maxPriorityFeePerGas.toString() };
}

/** The custom error in a failed call or estimate, decoded with `errors` (or Error(string)/Panic). */
export function decodeRevert(e: unknown, errors?: Interface): { name: string; args: unknown[] } | undefined {
  const data = revertData(e);
  if (data === undefined) return undefined;
  let parsed: ErrorDescription | null = null;
  try {
    parsed = (errors ?? new Interface([])).parseError(data);
  } catch {
    parsed = null;
  }
  if (parsed) return { name: parsed.name, args: [...parsed.args] };
  return { name: data === "0x" ? "Reverted" : `UnknownError(${data.slice(0, 10)})`, args: [] };
}

/** Revert data wherever a node or ethers put it (ethers CALL_EXCEPTION, Hardhat, Geth, anvil). */
function revertData(e: unknown, depth = 0): string | undefined {
  if (!e || typeof e !== "object" || depth > 4) return undefined;
  const o = e as Record<string, unknown>;
  if (o.code === "CALL_EXCEPTION" && typeof o.data === "string") return o.data;
  if (typeof o.data === "string" && /^0x([0-9a-f]{8})/i.test(o.data)) return o.data;
  for (const key of ["data", "error", "info", "cause"]) {
    const found = revertData(o[key], depth + 1);
    if (found !== undefined) return found;
  }
  return o.code === "CALL_EXCEPTION" ? "0x" : undefined;
}

/** Whether the error means "no answer from the node" (retry), not "the node said no". */
export function isUnreachable(e: unknown): boolean {
  const code = (e as { code?: string })?.code;
  if (code && ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "NETWORK_ERROR", "TIMEOUT", "SERVER_ERROR"].includes(code)) return true;
  return /ECONNREFUSED|ECONNRESET|socket hang up|other side closed|fetch failed/i.test(errorText(e));
}

function errorText(e: unknown): string {
  const parts: string[] = [];
  const walk = (x: unknown, depth: number) => {
    if (!x || depth > 4) return;
    if (typeof x === "string") return void parts.push(x);
    if (typeof x !== "object") return;
    const o = x as Record<string, unknown>;
    if (typeof o.message === "string") parts.push(o.message);
    walk(o.error, depth + 1);
    walk(o.info, depth + 1);
    walk(o.cause, depth + 1);
  };
  walk(e, 0);
  return parts.join(" | ");
}
