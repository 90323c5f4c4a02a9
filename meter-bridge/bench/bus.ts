/**
 * Benchmark (not a test): `npm run bench:bus -w meter-bridge`.
 * 1. Polls a simulated bus of 32 meters (forward and reverse energy each) at 2400 baud 8E1
 *    with a 20 ms reply delay over a pty pair, the simulator in its own process, and prints
 *    meters per second beside the limit the line allows: with the bus alone, and with the
 *    daemon's round (PortReader: both registers, journaled with an fsync per reading). Then a
 *    round that takes a missed boundary of every meter from its load record.
 * 2. Posts journaled readings of 32 meters to a market on an anvil node (automine) with the
 *    bridge's poster, and prints readings confirmed per second.
 */
import { ChildProcess, spawn } from "node:child_process";
import { setMaxListeners } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { JsonRpcProvider, Wallet } from "ethers";
import { MeterBus } from "../src/bus";
import { lastBoundary } from "../src/clock";
import { DI } from "../src/codec";
import { Journal } from "../src/journal";
import { DEFAULT_LINE, closeSerialPort, openSerialPort, transmitMs } from "../src/line";
import { createLogger } from "../src/log";
import { timeSyncSettings } from "../src/meterClock";
import { MeterPoster } from "../src/poster";
import { PortReader } from "../src/reader";
import { Anvil, CHAIN_ID, DEV_KEY, freePort } from "../test/support/anvil";
import { deployMarket } from "../test/support/market";
import { CLI } from "../test/support/paths";
import { startPtyPair } from "../test/support/ptyPair";

const METERS = 32;
const REPLY_DELAY_MS = 20;
const ROUNDS = 2;
const READINGS_PER_METER = 5;
const addresses = Array.from({ length: METERS }, (_, i) => String(i + 1).padStart(12, "0"));
const dir = mkdtempSync(path.join(tmpdir(), "meter-bridge-bench-"));

async function benchBus(): Promise<void> {
  const pty = await startPtyPair();
  const metersFile = path.join(dir, "meters.json");
  writeFileSync(metersFile, JSON.stringify({ replyDelayMs: REPLY_DELAY_MS, preamble: 4, meters: addresses.map((address, i) => ({ address, importWh: 1_000_000 + i, exportWh: i * 10, importW: 2_000 })) }));
  const simulator: ChildProcess = spawn(process.execPath, [CLI, "simulate", "--port", pty.b, "--meters", metersFile, "--baud", "2400", "--parity", "even"], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((resolve) => simulator.stdout!.once("data", resolve));
  const port = await openSerialPort(pty.a, DEFAULT_LINE);
  const bus = new MeterBus(port, { line: DEFAULT_LINE });
  await bus.read(addresses[0], DI.FORWARD_ACTIVE_ENERGY); // warm-up

  const started = performance.now();
  for (let round = 0; round < ROUNDS; round++) {
    for (const address of addresses) {
      await bus.read(address, DI.FORWARD_ACTIVE_ENERGY);
      await bus.read(address, DI.REVERSE_ACTIVE_ENERGY);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  bus.close();
  await closeSerialPort(port);
  const round = await benchRound(pty.a);
  simulator.kill("SIGTERM");
  await pty.stop();

  const requestBytes = 4 + 16; // FE x4, read frame with a 4-byte identifier
  const replyBytes = 4 + 20; // FE x4, reply with identifier and 4 BCD bytes
  const registerMs = transmitMs(requestBytes + replyBytes, DEFAULT_LINE) + REPLY_DELAY_MS;
  const limit = 1000 / (2 * registerMs);
  const bytesOnly = 1000 / (2 * transmitMs(requestBytes + replyBytes, DEFAULT_LINE));
  const achieved = (ROUNDS * METERS) / seconds;
  console.log(`bus: ${METERS} meters x 2 registers, 2400 baud 8E1, ${REPLY_DELAY_MS} ms reply delay, ${ROUNDS} rounds over a ${pty.tool} pty pair`);
  console.log(`  achieved          ${achieved.toFixed(3)} meters/s (${(seconds / ROUNDS).toFixed(2)} s per round of ${METERS} meters)`);
  console.log(`  line-rate limit   ${limit.toFixed(3)} meters/s (${registerMs.toFixed(1)} ms per register: ${requestBytes}+${replyBytes} bytes x 11 bits + reply delay)`);
  console.log(`  share of limit    ${((100 * achieved) / limit).toFixed(1)} %  (bytes alone, no reply delay: ${bytesOnly.toFixed(3)} meters/s, ${((100 * achieved) / bytesOnly).toFixed(1)} %)`);
  const live = METERS / round.liveSeconds;
  console.log(`daemon round (PortReader: read both registers, journal each reading with an fsync), ${METERS} meters`);
  console.log(`  achieved          ${live.toFixed(3)} meters/s (${round.liveSeconds.toFixed(2)} s for the round), ${((100 * live) / limit).toFixed(1)} % of the line-rate limit`);
  const recordBytes = 4 + 22 + 4 + 46; // FE x4 + request with its 6 parameter bytes, FE x4 + reply with a class 4 record
  const recordLimitMs = transmitMs(recordBytes, DEFAULT_LINE) + REPLY_DELAY_MS;
  console.log(`recovery round: a missed boundary of each of ${METERS} meters from its class 4 load record (06040001, one request per meter)`);
  console.log(`  took              ${round.recoverySeconds.toFixed(2)} s (${((1000 * round.recoverySeconds) / METERS).toFixed(0)} ms per meter; the line needs ${recordLimitMs.toFixed(0)} ms)`);
}

/** A round of the daemon's PortReader on `path`: live reads into a fresh journal, then a missed boundary from the records. */
async function benchRound(path_: string): Promise<{ liveSeconds: number; recoverySeconds: number }> {
  const quiet = createLogger(new Writable({ write: (_chunk, _encoding, done) => done() }), "error");
  const config = { path: path_, line: DEFAULT_LINE, bus: {}, meters: addresses.map((address) => ({ address, key: { keyFile: "unused" } })) };
  const header = { chainId: String(CHAIN_ID), market: "0x5FbDB2315678afecb367f032d93F642f64180aa3" };
  // quarter hours of local time from 2024-01-01, so the boundaries fall on the meters' load records
  const timing = { startTime: new Date(2024, 0, 1).getTime() / 1000, intervalSeconds: 900, settleOffsetSeconds: 600, readingGraceSeconds: 3000 };
  const k = lastBoundary(timing, Date.now());
  const options = { timeSync: timeSyncSettings({ enabled: false }) };

  const liveJournal = Journal.open(path.join(dir, "round.jsonl"), { ...header, ...timing });
  const liveReader = new PortReader(config, timing, liveJournal, quiet, () => undefined, { ...options, maxReadDelayMs: 3_600_000 });
  let started = performance.now();
  await liveReader.round(k);
  const liveSeconds = (performance.now() - started) / 1000;
  await liveReader.close();
  if (addresses.some((address) => liveJournal.lastInterval(address) !== k - 1)) throw new Error("the live round missed a meter");
  liveJournal.close();

  const recoveryJournal = Journal.open(path.join(dir, "recovery.jsonl"), { ...header, ...timing });
  for (const address of addresses) recoveryJournal.addReading({ meter: address, interval: k - 2, importWh: "0", exportWh: "0", readAt: "" });
  const recoveryReader = new PortReader(config, timing, recoveryJournal, quiet, () => undefined, { ...options, maxReadDelayMs: 0 });
  started = performance.now();
  await recoveryReader.round(k);
  const recoverySeconds = (performance.now() - started) / 1000;
  await recoveryReader.close();
  if (addresses.some((address) => recoveryJournal.get(address, k - 1)?.reading.source !== "load-record")) throw new Error("the recovery round missed a meter");
  recoveryJournal.close();
  return { liveSeconds, recoverySeconds };
}

async function benchPosting(): Promise<void> {
  const anvil = new Anvil({ port: await freePort() });
  await anvil.start();
  const provider = new JsonRpcProvider(anvil.url, CHAIN_ID, { staticNetwork: true });
  try {
    const intervalSeconds = 5;
    const startTime = Math.floor(Date.now() / 1000) - (READINGS_PER_METER + 2) * intervalSeconds;
    const keys = addresses.map(() => new Wallet(Wallet.createRandom().privateKey));
    const { address: market } = await deployMarket(new Wallet(DEV_KEY, provider), {
      startTime,
      intervalSeconds,
      meters: addresses.map((address, i) => ({ address, account: keys[i].address, ratedPowerW: 100_000 })),
    });
    const journal = Journal.open(path.join(dir, "journal.jsonl"), { chainId: String(CHAIN_ID), market, startTime, intervalSeconds });
    for (const address of addresses) {
      for (let interval = 0; interval < READINGS_PER_METER; interval++) {
        journal.addReading({ meter: address, interval, importWh: String(1_000_000 + 50 * interval), exportWh: "0", readAt: new Date().toISOString() });
      }
    }
    const quiet = createLogger(new Writable({ write: (_chunk, _encoding, done) => done() }), "error");
    const posters = addresses.map((address, i) => new MeterPoster(address, keys[i], provider, market, journal, quiet, { pollMs: 50 }));
    const stop = new AbortController();
    setMaxListeners(METERS + 10, stop.signal); // each poster waits on the signal
    const started = performance.now();
    const running = posters.map((poster) => poster.run(stop.signal));
    while (addresses.some((address) => journal.unsettled(address).length > 0)) await new Promise((resolve) => setTimeout(resolve, 20));
    const seconds = (performance.now() - started) / 1000;
    stop.abort();
    await Promise.all(running);
    journal.close();
    const total = METERS * READINGS_PER_METER;
    console.log(`chain: ${total} readings of ${METERS} meters posted with the bridge's poster to anvil (automine, london), each confirmed`);
    console.log(`  posted            ${(total / seconds).toFixed(1)} readings/s (${seconds.toFixed(2)} s)`);
  } finally {
    provider.destroy();
    await anvil.stop();
  }
}

benchBus()
  .then(benchPosting)
  .then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
