/**
 * The page's view of the chain: one JSON-RPC provider (through the portal's /rpc proxy), the market
 * contract from lib/market (typechain factory), the interval clock from the deployed schedule, and
 * event logs decoded with the contract's own interface. No market rule is computed here.
 */
import { FetchRequest, JsonRpcProvider, LogDescription, Network, toBeHex, toQuantity, zeroPadValue } from "ethers";
import { intervalAt, windowsOf } from "../../lib/clock";
import { LogDecoder, attachMarket } from "../../lib/market";
import type { EnergyMarket } from "../../typechain-types";
import type { PortalConfig } from "./config";

export interface MarketLog {
  name: string;
  args: LogDescription["args"];
  blockNumber: number;
  transactionHash: string;
  logIndex: number;
}

/** A log as eth_getLogs returns it. */
export interface RawLog {
  topics: string[];
  data: string;
  blockNumber: string;
  transactionHash: string;
  logIndex: string;
}

/** An indexed argument to filter logs by: a value, any of a list of values, or null for any. */
export type Indexed = number | bigint | (number | bigint)[] | null;

/** Blocks per eth_getLogs request (nodes cap the range or the result size). */
const LOG_CHUNK = 50_000;

export class MarketClient {
  readonly provider: JsonRpcProvider;
  readonly market: EnergyMarket;
  readonly rpcUrl: string;
  readonly decoder: LogDecoder;

  constructor(readonly config: PortalConfig) {
    this.rpcUrl = new URL(config.rpcUrl, location.href).href;
    const request = new FetchRequest(this.rpcUrl);
    request.timeout = 30_000;
    this.provider = new JsonRpcProvider(request, Network.from(config.chainId), {
      staticNetwork: true,
      batchMaxCount: 100,
      cacheTimeout: -1,
      pollingInterval: 1000,
    });
    this.market = attachMarket(config.market, this.provider);
    this.decoder = new LogDecoder(this.market.interface);
  }

  get iface() {
    return this.market.interface;
  }

  topic(event: string): string {
    return this.iface.getEvent(event as never)!.topicHash;
  }

  /**
   * Decoded market logs of `events` (any of them; null: every market log), optionally filtered by
   * indexed arguments: a value, any of a list of values, or null for any.
   */
  async logs(events: string[] | null, indexed: Indexed[] = [], fromBlock = this.config.deployedAtBlock, toBlock?: number): Promise<MarketLog[]> {
    return this.decodeAll(await this.rawLogs(events, indexed, fromBlock, toBlock));
  }

  /** As `logs`, undecoded (for bulk reads through `decoder.intField`). */
  async rawLogs(events: string[] | null, indexed: Indexed[] = [], fromBlock = this.config.deployedAtBlock, toBlock?: number): Promise<RawLog[]> {
    const to = toBlock ?? (await this.provider.getBlockNumber());
    const word = (v: number | bigint) => zeroPadValue(toBeHex(v), 32);
    const topics: (string | string[] | null)[] = [events && events.map((e) => this.topic(e)), ...indexed.map((v) => (v === null ? null : Array.isArray(v) ? v.map(word) : word(v)))];
    const out: RawLog[] = [];
    for (let from = fromBlock; from <= to; from += LOG_CHUNK) {
      // block numbers as JSON-RPC quantities (no leading zero digit): Geth refuses "0x0f", anvil does not
      const raw: RawLog[] = await this.provider.send("eth_getLogs", [
        { address: this.config.market, topics, fromBlock: toQuantity(from), toBlock: toQuantity(Math.min(to, from + LOG_CHUNK - 1)) },
      ]);
      for (const l of raw) out.push(l);
    }
    return out;
  }

  /** Decoded market logs from raw eth_getLogs results (logs of other events are left out). */
  decodeAll(raw: RawLog[]): MarketLog[] {
    const out: MarketLog[] = [];
    for (const l of raw) {
      const parsed = this.decoder.decode(l);
      if (parsed) out.push({ name: parsed.name, args: parsed.args, blockNumber: Number(l.blockNumber), transactionHash: l.transactionHash, logIndex: Number(l.logIndex) });
    }
    return out;
  }

  // ------------------------------------------------------------ the interval clock (deployed schedule)

  intervalAt(t: number): number {
    return intervalAt(this.config.schedule, t);
  }

  /** Timing of delivery interval `d`: traded in d-1, delivered in d, settled from settleStart. */
  times(d: number) {
    return windowsOf(this.config.schedule, d);
  }
}
