/**
 * The bridge daemon: at every interval boundary it reads the import and export registers of
 * every configured meter (the ports in parallel), journals them, and lets each meter's poster
 * take them to the chain.
 */
import { setMaxListeners } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { Contract, JsonRpcProvider, Wallet } from "ethers";
import type { SerialPort } from "serialport";
import { MARKET_ABI } from "./abi";
import { MeterBus, MeterError } from "./bus";
import { IntervalClock, boundaryMs, lastBoundary } from "./clock";
import { DI, kWhToWh, toHex } from "./codec";
import { BridgeConfig, PortConfig } from "./config";
import { Journal } from "./journal";
import { loadWallet } from "./keys";
import { closeSerialPort, openSerialPort } from "./line";
import { Logger } from "./log";
import { InvalidFrame } from "./parser";
import { MeterPoster, describe } from "./poster";

/** Runs until `signal` aborts, then stops cleanly: the read round in progress ends, ports and journal close. */
export async function runBridge(config: BridgeConfig, log: Logger, signal: AbortSignal): Promise<void> {
  const wallets = new Map<string, Wallet>();
  for (const meter of config.ports.flatMap((port) => port.meters)) wallets.set(meter.address, await loadWallet(meter.key, config.baseDir));
  const provider = new JsonRpcProvider(config.rpcUrl, config.chainId, { staticNetwork: true });
  try {
    const clock = await resolveClock(config, provider, log, signal);
    if (!clock) return;
    const journal = Journal.open(config.journal, { chainId: String(config.chainId), market: config.market, ...clock });
    const posters = new Map([...wallets].map(([meter, wallet]) => [meter, new MeterPoster(meter, wallet, provider, config.market, journal, log, config.poster)]));
    log.info("bridge started", {
      market: config.market,
      chainId: config.chainId,
      ...clock,
      meters: [...wallets].map(([meter, wallet]) => ({ meter, account: wallet.address })),
      unsettled: [...posters.keys()].reduce((sum, meter) => sum + journal.unsettled(meter).length, 0),
    });
    setMaxListeners(posters.size + 10, signal); // each poster waits on the signal
    const posting = [...posters.values()].map((poster) => poster.run(signal));
    const readers = config.ports.map((port) => new PortReader(port, journal, log, (meter) => posters.get(meter)!.wake()));
    const maxDelayMs = 1000 * (config.maxReadDelaySeconds ?? Math.min(60, Math.max(1, Math.floor(clock.intervalSeconds / 10))));
    await readAtBoundaries(clock, maxDelayMs, readers, log, signal);
    await Promise.all(posting);
    await Promise.all(readers.map((reader) => reader.close()));
    journal.close();
    log.info("bridge stopped");
  } finally {
    provider.destroy();
  }
}

/** The market's interval clock: from the chain, else (node unreachable) from the journal or config. */
async function resolveClock(config: BridgeConfig, provider: JsonRpcProvider, log: Logger, signal: AbortSignal): Promise<IntervalClock | undefined> {
  const header = Journal.readHeader(config.journal);
  const known = header ? { startTime: header.startTime, intervalSeconds: header.intervalSeconds } : config.schedule;
  const market = new Contract(config.market, MARKET_ABI, provider);
  for (let failures = 0; !signal.aborted; failures++) {
    let chain: IntervalClock;
    try {
      const [startTime, intervalSeconds] = await market.schedule();
      chain = { startTime: Number(startTime), intervalSeconds: Number(intervalSeconds) };
    } catch (error) {
      if (known) {
        log.warn("node unreachable, using the known interval clock", { error: describe(error), ...known });
        return known;
      }
      log.warn("waiting for the node to learn the market's interval clock", { error: describe(error) });
      await sleep(Math.min(30_000, 1000 * 2 ** failures), undefined, { signal }).catch(() => undefined);
      continue;
    }
    if (known && (known.startTime !== chain.startTime || known.intervalSeconds !== chain.intervalSeconds)) {
      throw new Error(`the market's interval clock ${JSON.stringify(chain)} differs from the journal's or config's ${JSON.stringify(known)}`);
    }
    return chain;
  }
  return undefined;
}

/** Reads every meter at each boundary k (the end of interval k-1), at most `maxDelayMs` late. */
async function readAtBoundaries(clock: IntervalClock, maxDelayMs: number, readers: PortReader[], log: Logger, signal: AbortSignal): Promise<void> {
  let lastRound = -1;
  while (!signal.aborted) {
    const k = lastBoundary(clock, Date.now());
    if (k >= 1 && k > lastRound) {
      lastRound = k;
      const lateMs = Date.now() - boundaryMs(clock, k);
      if (lateMs <= maxDelayMs) await Promise.all(readers.map((reader) => reader.readRound(k - 1)));
      else log.info("too late to read at the last boundary, waiting for the next", { interval: k - 1, lateMs });
    }
    const next = boundaryMs(clock, lastBoundary(clock, Date.now()) + 1);
    await sleep(Math.max(0, next - Date.now()), undefined, { signal }).catch(() => undefined);
  }
}

/** One port: opened on demand (and again after it was lost), polled one meter at a time. */
class PortReader {
  private port: SerialPort | undefined;
  private bus: MeterBus | undefined;

  constructor(
    private readonly config: PortConfig,
    private readonly journal: Journal,
    private readonly log: Logger,
    private readonly journaled: (meter: string) => void,
  ) {}

  /** Reads import and export of every meter still without a reading for `interval`. */
  async readRound(interval: number): Promise<void> {
    const meters = this.config.meters.filter(({ address }) => (this.journal.lastInterval(address) ?? -1) < interval);
    if (meters.length === 0) return;
    const bus = await this.openBus();
    if (!bus) {
      this.log.error("readings missed: port unavailable", { port: this.config.path, interval, meters: meters.map((meter) => meter.address) });
      return;
    }
    for (const { address } of meters) {
      try {
        const importWh = kWhToWh((await bus.read(address, DI.FORWARD_ACTIVE_ENERGY)).value);
        const exportWh = kWhToWh((await bus.read(address, DI.REVERSE_ACTIVE_ENERGY)).value);
        this.journal.addReading({ meter: address, interval, importWh: importWh.toString(), exportWh: exportWh.toString(), readAt: new Date().toISOString() });
        this.log.info("reading journaled", { meter: address, interval, importWh, exportWh });
        this.journaled(address);
      } catch (error) {
        const code = error instanceof MeterError ? error.code : "error";
        this.log.warn("reading missed", { port: this.config.path, meter: address, interval, code, error: describe(error) });
      }
    }
  }

  async close(): Promise<void> {
    this.bus?.close();
    this.port?.removeAllListeners("close"); // a close we asked for is no warning
    if (this.port) await closeSerialPort(this.port);
  }

  private async openBus(): Promise<MeterBus | undefined> {
    if (this.bus && this.port?.isOpen) return this.bus;
    try {
      const port = await openSerialPort(this.config.path, this.config.line);
      port.on("error", (error) => this.log.error("port error", { port: this.config.path, error: error.message }));
      port.on("close", () => this.log.warn("port closed", { port: this.config.path }));
      const bus = new MeterBus(port, { ...this.config.bus, line: this.config.line });
      bus.on("invalid", (invalid: InvalidFrame) => this.log.warn("corrupt frame on the line", { port: this.config.path, reason: invalid.reason, bytes: toHex(invalid.bytes) }));
      bus.on("dead", (meter: string) => this.log.warn("meter not answering, marked dead", { port: this.config.path, meter }));
      bus.on("alive", (meter: string) => this.log.info("meter answers again", { port: this.config.path, meter }));
      [this.port, this.bus] = [port, bus];
      this.log.info("port open", { port: this.config.path, ...this.config.line });
      return bus;
    } catch (error) {
      this.log.error("cannot open port", { port: this.config.path, error: describe(error) });
      return undefined;
    }
  }
}
