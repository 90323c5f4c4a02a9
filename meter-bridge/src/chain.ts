/**
 * What the bridge checks and watches on the chain: that the market address holds the market
 * (and its interval clock), and the canonical chain's recent block hashes, to notice a
 * reorganization and how deep it went.
 */
import { EventEmitter } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { Block, Contract, JsonRpcProvider, TypedDataEncoder, isError } from "ethers";
import { MARKET_ABI, marketDomain } from "./abi";
import { Logger } from "./log";
import { MarketTiming } from "./clock";
import { SettingsError } from "./settings";

/**
 * The market's interval clock and settlement timing, read from the contract.
 * @throws SettingsError when there is no contract at `market`, or it is not an EnergyMarket
 * @throws the node's error when the node does not answer
 */
export async function readMarket(provider: JsonRpcProvider, market: string, chainId: number): Promise<Required<MarketTiming>> {
  const code = await provider.getCode(market);
  if (code === "0x") throw new SettingsError(`no contract at market ${market} on chain ${chainId}: check "market" in the config`);
  try {
    const [startTime, intervalSeconds, , , settleOffsetSeconds, readingGraceSeconds] = await new Contract(market, MARKET_ABI, provider).schedule();
    if (Number(intervalSeconds) <= 0) throw new SettingsError(`the contract at market ${market} on chain ${chainId} is not an EnergyMarket: its schedule() has no intervals`);
    return { startTime: Number(startTime), intervalSeconds: Number(intervalSeconds), settleOffsetSeconds: Number(settleOffsetSeconds), readingGraceSeconds: Number(readingGraceSeconds) };
  } catch (error) {
    if (isError(error, "CALL_EXCEPTION") || isError(error, "BAD_DATA")) {
      throw new SettingsError(`the contract at market ${market} on chain ${chainId} is not an EnergyMarket: it has no schedule() (${error.shortMessage})`);
    }
    throw error;
  }
}

/**
 * Whether the market takes batches of signed readings, and how many entries one may hold: it has
 * `postReadings` and `maxBatch()`, and its EIP-712 domain is the one the bridge signs in (name
 * "EnergyMarket", version "1", this chain, this address).
 * @throws SettingsError when it does not
 * @throws the node's error when the node does not answer
 */
export async function readBatchSupport(provider: JsonRpcProvider, market: string, chainId: number): Promise<{ maxBatch: number }> {
  const contract = new Contract(market, MARKET_ABI, provider);
  let maxBatch: bigint;
  let separator: string;
  try {
    [maxBatch, separator] = await Promise.all([contract.maxBatch(), contract.domainSeparator()]);
  } catch (error) {
    if (isError(error, "CALL_EXCEPTION") || isError(error, "BAD_DATA")) {
      throw new SettingsError(`the market ${market} on chain ${chainId} takes no batches of signed readings (no maxBatch() or domainSeparator()): remove "relayerKey" so that each meter posts its own readings`);
    }
    throw error;
  }
  const ours = TypedDataEncoder.hashDomain(marketDomain(chainId, market));
  if (separator !== ours) throw new SettingsError(`the market ${market} on chain ${chainId} signs in another EIP-712 domain (${separator}, the bridge signs for ${ours}): its readings would be refused`);
  if (maxBatch < 1n) throw new SettingsError(`the market ${market} on chain ${chainId} takes no entries in a batch (maxBatch() is 0): remove "relayerKey" so that each meter posts its own readings`);
  return { maxBatch: Number(maxBatch < 100_000n ? maxBatch : 100_000n) };
}

/** A reorganization of the canonical chain, as far as the watcher saw it. */
export interface Reorg {
  /** the highest block both branches share */
  forkBlock: number;
  /** blocks of the old branch replaced: old head - fork block */
  depth: number;
  oldHead: number;
  newHead: number;
}

export interface ChainWatcherOptions {
  /** recent canonical blocks remembered (a deeper reorganization is reported as at least this deep); default 128 */
  windowBlocks?: number;
  /** wait between looks at the chain head, ms; default 1000 */
  pollMs?: number;
}

/**
 * Follows the canonical chain's head and remembers the hashes of its recent blocks (every block,
 * fetched as the head moves on). When a remembered block is no longer canonical, it emits
 * "reorg" (Reorg) with the fork block and the depth, and logs it.
 */
export class ChainWatcher extends EventEmitter {
  private readonly hashes = new Map<number, string>();
  private readonly windowBlocks: number;
  private readonly pollMs: number;

  constructor(
    private readonly provider: JsonRpcProvider,
    private readonly log: Logger,
    options: ChainWatcherOptions = {},
  ) {
    super();
    this.windowBlocks = options.windowBlocks ?? 128;
    this.pollMs = options.pollMs ?? 1000;
  }

  /** Looks at the chain every `pollMs` until `signal` aborts; node errors are left for the next look. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.check();
      } catch (error) {
        this.log.debug("chain watcher: node error", { error: (error as Error).message });
      }
      await sleep(this.pollMs, undefined, { signal }).catch(() => undefined);
    }
  }

  /** One look at the head: records new blocks, and reports a reorganization if one happened. */
  async check(): Promise<Reorg | undefined> {
    const head = await this.block("latest");
    const top = this.top();
    if (top === undefined) {
      await this.fill(head); // the window below the first head seen, so the first reorganization's depth is known
      return undefined;
    }
    let reorg: Reorg | undefined;
    const shared = Math.min(top, head.number);
    const sharedHash = shared === head.number ? head.hash! : (await this.block(shared)).hash!;
    if (sharedHash !== this.hashes.get(shared)) reorg = await this.findFork(shared, top, head.number);
    await this.fill(head);
    if (reorg) {
      this.log.warn("chain reorganization", { ...reorg });
      this.emit("reorg", reorg);
    }
    return reorg;
  }

  /** Whether block `number` with hash `hash` is on the canonical chain now. */
  async isCanonical(number: number, hash: string): Promise<boolean> {
    const block = await this.provider.getBlock(number);
    return block?.hash === hash;
  }

  private top(): number | undefined {
    return this.hashes.size === 0 ? undefined : Math.max(...this.hashes.keys());
  }

  /** Walks down the remembered blocks to the highest one still canonical. */
  private async findFork(from: number, oldHead: number, newHead: number): Promise<Reorg> {
    const lowest = Math.min(...this.hashes.keys());
    let fork = lowest - 1; // deeper than remembered
    for (let number = from - 1; number >= lowest; number--) {
      if ((await this.block(number)).hash === this.hashes.get(number)) {
        fork = number;
        break;
      }
    }
    for (const number of [...this.hashes.keys()]) if (number > fork) this.hashes.delete(number);
    return { forkBlock: fork, depth: oldHead - fork, oldHead, newHead };
  }

  /** Remembers every canonical block from the top remembered one (or the window's bottom) up to `head`, and forgets old ones. */
  private async fill(head: Block): Promise<void> {
    const top = this.top() ?? -1;
    for (let number = Math.max(top + 1, head.number - this.windowBlocks + 1); number < head.number; number++) this.hashes.set(number, (await this.block(number)).hash!);
    this.hashes.set(head.number, head.hash!);
    for (const number of [...this.hashes.keys()]) if (number <= head.number - this.windowBlocks) this.hashes.delete(number);
  }

  private async block(tag: number | "latest"): Promise<Block> {
    const block = await this.provider.getBlock(tag);
    if (!block) throw new Error(`the node has no block ${tag}`);
    return block;
  }
}
