/**
 * The bridge daemon: at every interval boundary it reads the import and export registers of
 * every configured meter (the ports in parallel), journals them, and lets the posters take them to
 * the chain (a batch per port and interval sent by the gateway's relayer, or each meter's own
 * transactions); it watches the chain for reorganizations. A wrong setting (the
 * chain id, the market, a key, a required port) stops it with one line (SettingsError).
 */
import { setMaxListeners } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { Wallet } from "ethers";
import { BatchPoster } from "./batchPoster";
import { ChainWatcher, Reorg, readMarket } from "./chain";
import { IntervalClock, MarketTiming, boundaryMs, lastBoundary } from "./clock";
import { BridgeConfig } from "./config";
import { Journal } from "./journal";
import { loadWallet } from "./keys";
import { Logger } from "./log";
import { MeterPoster, describe } from "./poster";
import { PortReader } from "./reader";
import { NodePool } from "./rpc";
import { SettingsError } from "./settings";

/**
 * Runs until `signal` aborts, then stops cleanly: the read round in progress ends, ports and
 * journal close.
 * @throws SettingsError when a setting turns out wrong, at start or when a node first answers
 */
export async function runBridge(config: BridgeConfig, log: Logger, signal: AbortSignal): Promise<void> {
  const stop = new AbortController();
  let fatal: SettingsError | undefined;
  const fail = (error: SettingsError) => {
    fatal ??= error;
    stop.abort();
  };
  const onAbort = () => stop.abort();
  signal.addEventListener("abort", onAbort, { once: true });
  const provider = new NodePool(config.rpcUrls, config.chainId, log, { timeoutMs: config.rpcTimeoutMs, onWrongChain: fail });
  try {
    const timing = await resolveTiming(config, provider, log, stop.signal, fail);
    if (!timing) {
      if (fatal) throw fatal;
      return;
    }
    const journal = openJournal(config, timing);
    const posters = new Posters();
    const maxReadDelayMs = 1000 * (config.maxReadDelaySeconds ?? Math.min(60, Math.max(1, Math.floor(timing.intervalSeconds / 10))));
    const readers = config.ports.map((port) => new PortReader(port, timing, journal, log, (meter) => posters.wake(meter), { maxReadDelayMs, timeSync: config.timeSync }));
    const meters = config.ports.flatMap((port) => port.meters);
    log.info("bridge started", {
      market: config.market,
      chainId: config.chainId,
      nodes: config.rpcUrls,
      ...timing,
      meters: meters.map((meter) => meter.address),
      unsettled: meters.reduce((sum, meter) => sum + journal.unsettled(meter.address).length, 0),
    });
    try {
      await Promise.all(readers.map((reader) => reader.start(config.requirePorts)));
      // the meters are read from now on; decrypting the keys (scrypt, seconds per keystore) does not delay a boundary
      const reading = readAtBoundaries(timing, readers, log, stop.signal, () => posters.wake());
      const posting = startPosting(config, timing, provider, journal, log, posters, readers, stop.signal).catch((error: unknown) => {
        if (!(error instanceof SettingsError)) throw error;
        fail(error);
      });
      await Promise.all([reading, posting]);
    } catch (error) {
      if (!(error instanceof SettingsError)) throw error;
      fail(error);
    } finally {
      stop.abort();
      await Promise.all(readers.map((reader) => reader.close()));
      journal.close();
    }
    if (fatal) throw fatal;
    log.info("bridge stopped");
  } finally {
    signal.removeEventListener("abort", onAbort);
    provider.destroy();
  }
}

/** The journal; one of another chain, market or clock, or a damaged one, is a setting to fix (SettingsError). */
function openJournal(config: BridgeConfig, timing: MarketTiming): Journal {
  try {
    return Journal.open(config.journal, { chainId: String(config.chainId), market: config.market, ...timing }, { historyIntervals: config.journalHistoryIntervals });
  } catch (error) {
    throw new SettingsError((error as Error).message);
  }
}

/** The posters: one per meter (each meter's account sends its own posts), or one batch poster for the gateway (its relayer sends). */
class Posters {
  readonly single = new Map<string, MeterPoster>();
  batch: BatchPoster | undefined;

  /** A reading of `meter` was journaled, or (no meter) a read round ended. */
  wake(meter?: string): void {
    if (meter !== undefined) this.single.get(meter)?.wake();
    this.batch?.wake();
  }

  reorganized(reorg: Reorg): void {
    this.single.forEach((poster) => poster.reorganized(reorg));
    this.batch?.reorganized(reorg);
  }

  run(signal: AbortSignal): Promise<void>[] {
    return [...[...this.single.values()].map((poster) => poster.run(signal)), ...(this.batch ? [this.batch.run(signal)] : [])];
  }
}

/**
 * Loads the keys, then posts the readings (in batches sent by the relayer when the config has a
 * `relayerKey`, else each meter's own) and watches the chain until `signal` aborts.
 */
async function startPosting(config: BridgeConfig, clock: IntervalClock, provider: NodePool, journal: Journal, log: Logger, posters: Posters, readers: PortReader[], signal: AbortSignal): Promise<void> {
  const wallets = new Map<string, Wallet>();
  for (const meter of config.ports.flatMap((port) => port.meters)) {
    wallets.set(meter.address, await loadWallet(meter.key, config.baseDir, `meter ${meter.address}`));
    if (signal.aborted) return;
  }
  log.info("meter accounts", { meters: [...wallets].map(([meter, wallet]) => ({ meter, account: wallet.address })) });
  if (config.relayerKey) {
    const relayer = await loadWallet(config.relayerKey, config.baseDir, "relayerKey");
    if (signal.aborted) return;
    const ports = config.ports.map((port) => ({ path: port.path, meters: port.meters.map((meter) => ({ address: meter.address, wallet: wallets.get(meter.address)! })) }));
    const reading = (path: string) => readers.some((reader) => reader.path === path && reader.reading);
    posters.batch = new BatchPoster(relayer, ports, provider, config.market, config.chainId, clock, journal, log, config.poster, reading);
    log.info("posting in batches", { relayer: relayer.address, ports: ports.map((port) => ({ port: port.path, meters: port.meters.length })) });
  } else {
    for (const [meter, wallet] of wallets) posters.single.set(meter, new MeterPoster(meter, wallet, provider, config.market, journal, log, config.poster));
    log.info("posting one transaction per reading, from each meter's account (no relayerKey)");
  }
  const watcher = new ChainWatcher(provider, log, { windowBlocks: config.poster.watchBlocks, pollMs: config.poster.pollMs });
  watcher.on("reorg", (reorg: Reorg) => posters.reorganized(reorg));
  setMaxListeners(posters.single.size + 10, signal); // each poster waits on the signal
  await Promise.all([...posters.run(signal), watcher.run(signal)]);
}

/**
 * The market's interval clock: the one the journal (or config) knows, checked against the chain
 * in the background so a restart reads its first boundary at once; else, the first time, from
 * the chain.
 */
async function resolveTiming(config: BridgeConfig, provider: NodePool, log: Logger, signal: AbortSignal, fail: (error: SettingsError) => void): Promise<MarketTiming | undefined> {
  const header = Journal.readHeader(config.journal);
  const known = header ?? config.schedule;
  if (known) {
    const timing: MarketTiming = { startTime: known.startTime, intervalSeconds: known.intervalSeconds, settleOffsetSeconds: header?.settleOffsetSeconds, readingGraceSeconds: header?.readingGraceSeconds };
    void checkLater(config, provider, timing, log, signal, fail);
    return timing;
  }
  for (let failures = 0; !signal.aborted; failures++) {
    try {
      return await readMarket(provider, config.market, config.chainId);
    } catch (error) {
      if (error instanceof SettingsError) throw error;
      if (signal.aborted) return undefined;
      log.warn("waiting for a node to learn the market's interval clock", { error: describe(error) });
      await sleep(Math.min(30_000, 1000 * 2 ** failures), undefined, { signal }).catch(() => undefined);
    }
  }
  return undefined;
}

/** Checks the market as soon as a node answers; a wrong setting then stops the bridge. */
async function checkLater(config: BridgeConfig, provider: NodePool, timing: MarketTiming, log: Logger, signal: AbortSignal, fail: (error: SettingsError) => void): Promise<void> {
  for (let failures = 0; !signal.aborted; failures++) {
    try {
      Object.assign(timing, checkedAgainst(timing, await readMarket(provider, config.market, config.chainId)));
      log.info("market checked", { market: config.market, node: provider.nodeInUse });
      return;
    } catch (error) {
      if (error instanceof SettingsError) return fail(error);
      if (failures === 0) log.warn("node unreachable, using the known interval clock", { error: describe(error), startTime: timing.startTime, intervalSeconds: timing.intervalSeconds });
    }
    await sleep(Math.min(30_000, 1000 * 2 ** failures), undefined, { signal }).catch(() => undefined);
  }
}

/** The chain's timing, if it agrees with the clock the journal or config knew. */
function checkedAgainst(known: IntervalClock | undefined, chain: Required<MarketTiming>): Required<MarketTiming> {
  if (known && (known.startTime !== chain.startTime || known.intervalSeconds !== chain.intervalSeconds)) {
    const clock = (c: IntervalClock) => `startTime ${c.startTime}, intervalSeconds ${c.intervalSeconds}`;
    throw new SettingsError(`the market's interval clock (${clock(chain)}) differs from the journal's or config's (${clock(known)}): use another journal file, or fix "schedule"`);
  }
  return chain;
}

/**
 * Reads every meter at each boundary k (the end of interval k-1), first thing at start too; then
 * keeps the meters' clocks when due (the start's broadcast, then a daily one).
 */
async function readAtBoundaries(clock: IntervalClock, readers: PortReader[], log: Logger, signal: AbortSignal, roundDone: () => void): Promise<void> {
  let lastRound = -1;
  while (!signal.aborted) {
    const k = lastBoundary(clock, Date.now());
    const round = k >= 1 && k > lastRound;
    if (round) lastRound = k;
    await Promise.all(
      readers.map(async (reader) => {
        if (round) {
          await reader.round(k);
          roundDone(); // the port's batch waits for its round's end
        }
        void reader.keepClocksIfDue().catch((error: unknown) => log.error("keeping the meters' clocks failed", { port: reader.path, error: describe(error) }));
      }),
    );
    const passed = lastBoundary(clock, Date.now());
    if (passed >= 1 && passed > lastRound) continue; // a boundary passed during the round: read it at once
    await sleep(Math.max(0, boundaryMs(clock, passed + 1) - Date.now()), undefined, { signal }).catch(() => undefined);
  }
}
