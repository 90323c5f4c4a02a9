/**
 * What both posters do with a transaction: sign it locally (fees from the node, a replacement
 * paying at least 12.5% more than the one it replaces, under the same nonce and gas limit),
 * broadcast it (again), find its receipt on the canonical chain, and find a reading's
 * ReadingPosted event.
 */
import { Interface, JsonRpcProvider, Log, Transaction, TransactionReceipt, TransactionRequest, Wallet, isError } from "ethers";
import { MARKET_ABI } from "./abi";
import { Logger } from "./log";

export const MARKET = new Interface(MARKET_ABI);

export interface SignedTx {
  hash: string;
  nonce: number;
  raw: string;
}

/**
 * Signs a call of `data` on `to` with `nonce`; nothing is sent. A replacement (`replacing`, the raw
 * transaction it replaces) keeps that transaction's gas limit and pays at least 12.5% (and 1 wei)
 * more in every fee, even a zero one.
 */
export async function signCall(signer: Wallet, provider: JsonRpcProvider, call: { to: string; data: string; nonce: number; gasLimit?: bigint }, replacing?: string): Promise<SignedTx> {
  const old = replacing ? Transaction.from(replacing) : undefined;
  // A replacement keeps the gas limit of the transaction it replaces. Estimating again can run on a
  // pending state that already holds the stuck transaction (anvil estimates on "pending"); there a
  // post is an identical re-post costing about half the gas, and the replacement would run out of gas.
  const [fees, network] = await Promise.all([provider.getFeeData(), provider.getNetwork()]);
  const gasLimit = old?.gasLimit ?? call.gasLimit;
  if (gasLimit === undefined) throw new TypeError("a gas limit is needed for a new transaction");
  const request: TransactionRequest = { to: call.to, data: call.data, nonce: call.nonce, gasLimit, chainId: network.chainId };
  const bump = (now: bigint | null, before: bigint | null | undefined) => (before === null || before === undefined ? (now ?? 0n) : maxOf(now ?? 0n, (before * 9n) / 8n + 1n));
  if (fees.maxFeePerGas !== null && fees.maxPriorityFeePerGas !== null) {
    Object.assign(request, { type: 2, maxFeePerGas: bump(fees.maxFeePerGas, old?.maxFeePerGas), maxPriorityFeePerGas: bump(fees.maxPriorityFeePerGas, old?.maxPriorityFeePerGas) });
  } else {
    Object.assign(request, { type: 0, gasPrice: bump(fees.gasPrice, old?.gasPrice) });
  }
  const raw = await signer.signTransaction(request);
  return { hash: Transaction.from(raw).hash!, nonce: call.nonce, raw };
}

function maxOf(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** Broadcasts journaled transactions (again), at most once per `rebroadcastMs` each unless forced. */
export class Broadcaster {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly provider: JsonRpcProvider,
    private readonly log: Logger,
    private readonly rebroadcastMs: number,
  ) {}

  /** Broadcasts `tx`; "already known" and "nonce used" answers are fine. `fields` go into the debug line. */
  async broadcast(tx: { hash: string; raw: string; nonce: number }, force: boolean, fields: Record<string, unknown>): Promise<void> {
    const last = this.last.get(tx.hash);
    if (!force && last !== undefined && Date.now() - last < this.rebroadcastMs) return;
    try {
      await this.provider.broadcastTransaction(tx.raw);
    } catch (error) {
      const harmless = isError(error, "NONCE_EXPIRED") || isError(error, "REPLACEMENT_UNDERPRICED") || /already (known|imported)|known transaction/i.test(String((error as Error).message));
      if (!harmless) throw error;
    }
    this.last.set(tx.hash, Date.now());
    this.log.debug("transaction broadcast", { ...fields, nonce: tx.nonce, tx: tx.hash });
  }
}

/** The receipt of a transaction if it is in a block of the canonical chain. */
export async function canonicalReceipt(provider: JsonRpcProvider, hash: string): Promise<TransactionReceipt | null> {
  const receipt = await provider.getTransactionReceipt(hash);
  if (!receipt) return null;
  const block = await provider.getBlock(receipt.blockNumber);
  return block?.hash === receipt.blockHash ? receipt : null;
}

/** The chain's ReadingPosted event of participant `participantId` for `interval` (the newest, if several), from the node's logs. */
export async function postedEvent(provider: JsonRpcProvider, market: string, participantId: number, interval: number): Promise<{ log: Log; importWh: bigint; exportWh: bigint } | undefined> {
  const log = (await provider.getLogs({ address: market, topics: MARKET.encodeFilterTopics("ReadingPosted", [participantId, interval]), fromBlock: 0 })).at(-1);
  if (!log) return undefined;
  const { args } = MARKET.parseLog(log)!;
  return { log, importWh: args.importWh, exportWh: args.exportWh };
}

/** A custom error of the market as "Name(args)", from its encoded bytes; the raw bytes when it is none the bridge knows. */
export function decodeReason(data: string): string {
  try {
    const error = MARKET.parseError(data);
    if (error) return `${error.name}(${error.args.join(", ")})`;
  } catch {
    // not one of the market's errors
  }
  return `unknown error ${data}`;
}

/** A short description of an error for the logs; for an error ethers could not classify, the node's own words. */
export function describe(error: unknown): string {
  if (isError(error, "CALL_EXCEPTION") && error.revert) return `${error.revert.name}(${error.revert.args.join(", ")})`;
  if (isError(error, "CALL_EXCEPTION") && error.data) return `${error.shortMessage}: ${decodeReason(error.data)}`;
  if (isError(error, "UNKNOWN_ERROR")) {
    const node = (error as { error?: { message?: string } }).error?.message;
    if (node) return `the node says: ${node}`;
  }
  if (error instanceof Error) return (error as Error & { shortMessage?: string }).shortMessage ?? error.message;
  return String(error);
}
