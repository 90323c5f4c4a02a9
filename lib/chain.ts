/**
 * Time and batches on the two kinds of chain the simulator and benchmarks run on:
 * - the in-process Hardhat network, where block time is moved forward and a batch of transactions
 *   is mined in full blocks, one second apart, however long sending them takes;
 * - a real node (anvil, Geth), where time is the wall clock and a batch is sent, then awaited.
 * Transactions of key holders (ethers Wallets) are signed here and sent raw, with nonces counted
 * here: a batch costs about a millisecond a transaction instead of several round trips each.
 */
import type { EthereumProvider } from "hardhat/types";
import { BaseWallet, ContractTransaction, Overrides, Signer } from "ethers";
import { decodeRevert } from "./market";
import { sleep } from "./sender";

/**
 * One transaction of a batch: who sends it and what (from a contract method's populateTransaction).
 * The clock counts a key holder's nonces itself, so send all of that key's transactions through it.
 */
export interface Call {
  from: Signer;
  tx: ContractTransaction;
  gasLimit: bigint | number;
  /** Whose call it is, in words, for a refusal's message ("wind's meter"). */
  who?: string;
}

/** A call of a batch, from its sender and a contract method's populated transaction. */
export const call = async (from: Signer, tx: Promise<ContractTransaction>, gasLimit: number, who?: string): Promise<Call> => ({ from, tx: await tx, gasLimit, who });

/** A mined transaction of a batch. */
export interface Mined {
  hash: string;
  gasUsed: bigint;
}

export interface ChainClock {
  /** Latest block time. */
  now(): Promise<bigint>;
  /** Return once block time has reached `t`. */
  until(t: bigint): Promise<void>;
  /** Send every call, then wait for all; returns them mined, in order (a failed one throws). */
  sendAll(calls: Call[]): Promise<Mined[]>;
  /** The market's custom error (decoded) if `call` would revert now, else undefined. */
  refusal(call: Call): Promise<{ name: string; args: unknown[] } | undefined>;
  /** Give a funded balance to a local account (development chains). */
  fund(address: string, wei: bigint): Promise<void>;
}

type Rpc = (method: string, params: unknown[]) => Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Signing, nonces and fees shared by both clocks. */
abstract class BatchSender implements ChainClock {
  private readonly nonces = new Map<string, number>();
  private chainId?: bigint;

  constructor(protected readonly rpc: Rpc) {}

  abstract until(t: bigint): Promise<void>;
  abstract sendAll(calls: Call[]): Promise<Mined[]>;
  abstract fund(address: string, wei: bigint): Promise<void>;

  async now(): Promise<bigint> {
    return BigInt((await this.rpc("eth_getBlockByNumber", ["latest", false])).timestamp);
  }

  async refusal(call: Call): Promise<{ name: string; args: unknown[] } | undefined> {
    return this.revertOf(call, "latest");
  }

  /** The market's custom error if `call` reverts in the state of `block`, else undefined; other errors throw. */
  private async revertOf(call: Call, block: string): Promise<ReturnType<typeof decodeRevert>> {
    try {
      await this.rpc("eth_call", [{ from: await call.from.getAddress(), to: call.tx.to, data: call.tx.data, value: hex(call.tx.value ?? 0n) }, block]);
      return undefined;
    } catch (e) {
      const revert = decodeRevert(e);
      if (revert) return revert;
      throw e;
    }
  }

  /** Fee fields with room for the base fee to rise over a batch's blocks (12.5 % per full block). */
  protected async fees(): Promise<Overrides> {
    const block = await this.rpc("eth_getBlockByNumber", ["latest", false]);
    const tip = 10n ** 9n;
    return { type: 2, maxPriorityFeePerGas: tip, maxFeePerGas: BigInt(block.baseFeePerGas ?? 0) * 4n + tip };
  }

  /** Send one call: signed here for a key holder, else through its signer. Returns the hash. */
  protected async send(call: Call, fees: Overrides): Promise<string> {
    const tx = { ...call.tx, ...fees, gasLimit: call.gasLimit };
    if (!(call.from instanceof BaseWallet)) return (await call.from.sendTransaction(tx)).hash;
    const address = call.from.address;
    const nonce = this.nonces.get(address) ?? Number(await this.rpc("eth_getTransactionCount", [address, "pending"]));
    this.nonces.set(address, nonce + 1);
    this.chainId ??= BigInt(await this.rpc("eth_chainId", []));
    const signed = await call.from.signTransaction({ ...tx, from: address, nonce, chainId: this.chainId });
    return this.rpc("eth_sendRawTransaction", [signed]);
  }

  /** Receipts of sent transactions (null while pending). */
  protected async receipts(hashes: string[]) {
    return Promise.all(hashes.map((h) => this.rpc("eth_getTransactionReceipt", [h])));
  }

  protected async mined(calls: Call[], hashes: string[], receipts: ({ status: string; gasUsed: string; blockNumber: string } | null)[]): Promise<Mined[]> {
    for (const [i, r] of receipts.entries()) {
      if (!r || BigInt(r.status) !== 1n) {
        const revert = r ? await this.revertOf(calls[i], r.blockNumber).catch(() => undefined) : undefined;
        throw new TransactionFailed(`transaction ${hashes[i]} failed: ${revert ? `${revert.name}(${revert.args.join(", ")})` : r ? "reverted" : "not mined"}`, calls[i].who, revert);
      }
    }
    return receipts.map((r, i) => ({ hash: hashes[i], gasUsed: BigInt(r!.gasUsed) }));
  }
}

const hex = (n: bigint) => "0x" + n.toString(16);

/** Transactions sent before mining them: a large mempool slows the in-process node down. */
const MEMPOOL_CHUNK = 200;

export class InProcessClock extends BatchSender {
  constructor(private readonly node: EthereumProvider) {
    super((method, params) => node.send(method, params));
  }

  async until(t: bigint): Promise<void> {
    if ((await this.now()) >= t) return;
    await this.node.send("evm_setNextBlockTimestamp", [Number(t)]);
    await this.node.send("evm_mine", []);
  }

  async sendAll(calls: Call[]): Promise<Mined[]> {
    await this.node.send("evm_setAutomine", [false]);
    const hashes: string[] = [];
    try {
      for (let i = 0; i < calls.length; i += MEMPOOL_CHUNK) {
        const fees = await this.fees();
        for (const call of calls.slice(i, i + MEMPOOL_CHUNK)) hashes.push(await this.send(call, fees));
        await this.mineUntilEmpty();
      }
    } finally {
      await this.node.send("evm_setAutomine", [true]);
    }
    return this.mined(calls, hashes, await this.receipts(hashes));
  }

  /** Mine full blocks one second apart until the mempool is empty. */
  private async mineUntilEmpty() {
    for (;;) {
      const pending = await this.node.send("eth_getBlockByNumber", ["pending", false]);
      if (pending.transactions.length === 0) return;
      await this.node.send("evm_setNextBlockTimestamp", [Number((await this.now()) + 1n)]);
      await this.node.send("evm_mine", []);
    }
  }

  async fund(address: string, wei: bigint): Promise<void> {
    await this.node.send("hardhat_setBalance", [address, hex(wei)]);
  }
}

/** A provider that takes raw JSON-RPC calls (ethers' JsonRpcProvider, Hardhat's provider). */
type RpcProvider = { send(method: string, params: unknown[]): Promise<unknown> };

export class RealTimeClock extends BatchSender {
  /** `funder`: on a chain without a balance setter (Geth), accounts are funded by its transfers. */
  constructor(
    provider: RpcProvider,
    private readonly pollMs = 250,
    private readonly funder?: Signer,
  ) {
    super((method, params) => provider.send(method, params));
  }

  async until(t: bigint): Promise<void> {
    while ((await this.now()) < t) await sleep(this.pollMs);
  }

  async sendAll(calls: Call[]): Promise<Mined[]> {
    const fees = await this.fees();
    const hashes: string[] = [];
    for (const call of calls) hashes.push(await this.send(call, fees));
    for (;;) {
      const receipts = await this.receipts(hashes);
      if (receipts.every((r) => r !== null)) {
        // Geth stores a block's receipts before it moves `latest` to the block: wait for the head, so
        // a read of the state right after this returns sees these transactions
        const last = Math.max(...receipts.map((r) => Number(r!.blockNumber)));
        while (Number(await this.rpc("eth_blockNumber", [])) < last) await sleep(this.pollMs);
        return this.mined(calls, hashes, receipts);
      }
      await sleep(this.pollMs);
    }
  }

  async fund(address: string, wei: bigint): Promise<void> {
    if (!this.funder) {
      await this.rpc("anvil_setBalance", [address, hex(wei)]).catch(() => this.rpc("hardhat_setBalance", [address, hex(wei)]));
      return;
    }
    const has = BigInt(await this.rpc("eth_getBalance", [address, "latest"]));
    if (has >= wei) return;
    await this.sendAll([{ from: this.funder, tx: { to: address, data: "0x", value: wei - has } as ContractTransaction, gasLimit: 21_000 }]);
  }
}

/** A transaction of a batch reverted (the message names the market's custom error; `revert` has it decoded). */
export class TransactionFailed extends Error {
  constructor(
    message: string,
    readonly who?: string,
    readonly revert?: { name: string; args: unknown[] },
  ) {
    super(message);
  }
}

