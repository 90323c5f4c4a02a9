/**
 * Time and batches on the two kinds of chain the simulator and benchmarks run on:
 * - the in-process Hardhat network, where block time is moved forward and a batch of transactions
 *   is mined in full blocks, one second apart, however long sending them takes;
 * - a real node (anvil, Geth), where time is the wall clock and a batch is sent, then awaited.
 * Either way each transaction is signed locally by its sender.
 */
import type { EthereumProvider } from "hardhat/types";
import { ContractTransactionResponse, Overrides, Provider, TransactionReceipt } from "ethers";
import { decodeRevert } from "./market";

export interface ChainClock {
  /** Latest block time. */
  now(): Promise<bigint>;
  /** Return once block time has reached `t`. */
  until(t: bigint): Promise<void>;
  /** Send every transaction, then wait for all; returns receipts in order (failed ones throw). */
  sendAll(sends: (() => Promise<ContractTransactionResponse>)[]): Promise<TransactionReceipt[]>;
  /** Give a funded balance to a local account (development chains). */
  fund(address: string, wei: bigint): Promise<void>;
  /** Fee and chain fields for the next batch, so senders need not ask the node for each transaction. */
  fees(): Promise<Overrides>;
}

/** Transactions sent before mining them: a large mempool slows the in-process node down. */
const MEMPOOL_CHUNK = 200;

export class InProcessClock implements ChainClock {
  constructor(
    private readonly node: EthereumProvider,
    private readonly provider: Provider,
  ) {}

  async now(): Promise<bigint> {
    return BigInt((await this.provider.getBlock("latest"))!.timestamp);
  }

  async until(t: bigint): Promise<void> {
    if ((await this.now()) >= t) return;
    await this.node.send("evm_setNextBlockTimestamp", [Number(t)]);
    await this.node.send("evm_mine", []);
  }

  async sendAll(sends: (() => Promise<ContractTransactionResponse>)[]): Promise<TransactionReceipt[]> {
    await this.node.send("evm_setAutomine", [false]);
    const sent: ContractTransactionResponse[] = [];
    try {
      for (let i = 0; i < sends.length; i += MEMPOOL_CHUNK) {
        for (const send of sends.slice(i, i + MEMPOOL_CHUNK)) sent.push(await send());
        await this.mineUntilEmpty();
      }
    } finally {
      await this.node.send("evm_setAutomine", [true]);
    }
    return receiptsOf(this.provider, sent);
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
    await this.node.send("hardhat_setBalance", [address, "0x" + wei.toString(16)]);
  }

  /** Room for the base fee to rise over a batch's blocks (12.5 % per full block). */
  async fees(): Promise<Overrides> {
    const block = await this.provider.getBlock("latest");
    const { chainId } = await this.provider.getNetwork();
    const tip = 10n ** 9n;
    return { chainId, type: 2, maxPriorityFeePerGas: tip, maxFeePerGas: (block!.baseFeePerGas ?? 0n) * 4n + tip };
  }
}

/** A provider that also takes raw JSON-RPC calls (ethers' JsonRpcProvider, Hardhat's provider). */
type RpcProvider = Provider & { send(method: string, params: unknown[]): Promise<unknown> };

export class RealTimeClock implements ChainClock {
  constructor(
    private readonly provider: RpcProvider,
    private readonly pollMs = 250,
  ) {}

  async now(): Promise<bigint> {
    return BigInt((await this.provider.getBlock("latest"))!.timestamp);
  }

  async until(t: bigint): Promise<void> {
    while ((await this.now()) < t) await sleep(this.pollMs);
  }

  async sendAll(sends: (() => Promise<ContractTransactionResponse>)[]): Promise<TransactionReceipt[]> {
    const sent: ContractTransactionResponse[] = [];
    for (const send of sends) sent.push(await send());
    return receiptsOf(this.provider, sent, true);
  }

  /** A real node prices its own blocks: let the signer ask it. */
  async fees(): Promise<Overrides> {
    return {};
  }

  async fund(address: string, wei: bigint): Promise<void> {
    await this.provider.send("anvil_setBalance", [address, "0x" + wei.toString(16)]).catch(() =>
      this.provider.send("hardhat_setBalance", [address, "0x" + wei.toString(16)]),
    );
  }
}

async function receiptsOf(provider: Provider, sent: ContractTransactionResponse[], wait = false): Promise<TransactionReceipt[]> {
  const receipts = await Promise.all(
    sent.map(async (tx) => {
      try {
        return await (wait ? tx.wait() : provider.getTransactionReceipt(tx.hash));
      } catch {
        return null; // a revert: explained below
      }
    }),
  );
  for (const [i, r] of receipts.entries()) {
    if (!r || r.status !== 1) throw new TransactionFailed(`transaction ${sent[i].hash} failed: ${await whyFailed(provider, sent[i], r)}`);
  }
  return receipts as TransactionReceipt[];
}

/** Replay a failed transaction in its block's state to name the market's custom error. */
async function whyFailed(provider: Provider, tx: ContractTransactionResponse, r: TransactionReceipt | null): Promise<string> {
  try {
    await provider.call({ to: tx.to, from: tx.from, data: tx.data, value: tx.value, blockTag: r ? r.blockNumber : "latest" });
  } catch (e) {
    const revert = decodeRevert(e);
    if (revert) return `${revert.name}(${revert.args.join(", ")})`;
  }
  return r ? "reverted" : "not mined";
}

/** A transaction of a batch reverted (the message names the market's custom error). */
export class TransactionFailed extends Error {}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
