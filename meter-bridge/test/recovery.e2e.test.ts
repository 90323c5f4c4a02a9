/**
 * A boundary the gateway was down across, end to end: simulated meters -> pty pair -> the bridge
 * (a child process) -> anvil. The bridge reads a boundary, is killed with SIGKILL before a
 * boundary on a whole minute and restarted after it, too late for a live read: the reading of
 * that boundary on chain is the meter's own load record of that minute. A meter that keeps no
 * records misses that interval (the market's carry-forward covers it) and is read live again at
 * the next boundary.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Contract, JsonRpcProvider, Wallet } from "ethers";
import type { SerialPort } from "serialport";
import { MARKET_ABI } from "../src/abi";
import { boundaryMs, lastBoundary } from "../src/clock";
import { DEFAULT_LINE, closeSerialPort, openSerialPort } from "../src/line";
import { MeterSimulator, SimulatedMeter } from "../src/simulator";
import { Anvil, CHAIN_ID, DEV_KEY, SECOND_DEV_KEY, freePort } from "./support/anvil";
import { BridgeProcess } from "./support/bridgeProcess";
import { Settler, deployMarket, intervalStarted } from "./support/market";
import { PtyPair, startPtyPair } from "./support/ptyPair";
import { sleep, waitUntil } from "./support/wait";

const INTERVAL_SECONDS = 20; // three boundaries a minute; meters record to the minute
const METERS: SimulatedMeter[] = [
  { address: "000000000001", importWh: 112_280_260, exportWh: 4_000, importW: 36_000, exportW: 1_800, loadRecordMinutes: 1 },
  { address: "000000000002", importWh: 5_000, importW: 18_000, loadRecordMinutes: 0, hourlyFreeze: false }, // keeps no records
];

describe("a boundary missed while the bridge was down, end to end", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "meter-bridge-recovery-"));
  const keys = METERS.map(() => Wallet.createRandom().privateKey);
  // boundaries on whole seconds of whole minutes: the start is a whole minute in the past
  const startTime = Math.floor(Date.now() / 60_000) * 60 - 600;
  const clock = { startTime, intervalSeconds: INTERVAL_SECONDS };
  let anvil: Anvil;
  let provider: JsonRpcProvider;
  let pty: PtyPair;
  let meterPort: SerialPort;
  let simulator: MeterSimulator;
  let bridge: BridgeProcess;
  let market: Contract;
  let participantIds: number[];
  let boundIntervals: number[];
  let settler: Settler;

  before(async () => {
    anvil = new Anvil({ port: await freePort() });
    await anvil.start();
    provider = new JsonRpcProvider(anvil.url, CHAIN_ID, { staticNetwork: true });
    const deployed = await deployMarket(new Wallet(DEV_KEY, provider), {
      startTime,
      intervalSeconds: INTERVAL_SECONDS,
      meters: METERS.map((meter, i) => ({ address: meter.address, account: new Wallet(keys[i]).address, ratedPowerW: 100_000, openImportWh: BigInt(meter.importWh ?? 0), openExportWh: BigInt(meter.exportWh ?? 0) })),
    });
    await anvil.mineEvery(1);
    market = new Contract(deployed.address, MARKET_ABI, provider);
    ({ participantIds, boundIntervals } = deployed);
    settler = new Settler(SECOND_DEV_KEY, anvil.url, deployed.address, participantIds, Math.min(...boundIntervals)).start(); // the operator's settlement frees the meters' reading slots
    keys.forEach((key, i) => writeFileSync(path.join(dir, `meter${i + 1}.key`), key));
    pty = await startPtyPair();
    meterPort = await openSerialPort(pty.b, DEFAULT_LINE);
    simulator = new MeterSimulator(meterPort, METERS);
    const config = {
      rpcUrl: anvil.url,
      chainId: CHAIN_ID,
      market: deployed.address,
      journal: "journal.jsonl",
      maxReadDelaySeconds: 2,
      logLevel: "debug",
      poster: { pollMs: 300, retryMaxMs: 1500 },
      ports: [{ path: pty.a, responseTimeoutMs: 300, interByteTimeoutMs: 100, retries: 1, meters: METERS.map((meter, i) => ({ address: meter.address, key: { keyFile: `meter${i + 1}.key` } })) }],
    };
    writeFileSync(path.join(dir, "bridge.json"), JSON.stringify(config, null, 2));
    bridge = new BridgeProcess(path.join(dir, "bridge.json"), path.join(dir, "bridge.log"));
  });

  after(async () => {
    await bridge?.kill();
    await settler?.close();
    simulator?.stop();
    if (meterPort) await closeSerialPort(meterPort);
    await pty?.stop();
    provider?.destroy();
    await anvil?.stop();
  });

  /** A reading of an interval before its meter served the prosumer, rejected as the market does (the bridge may start in the binding interval and read its first boundary). */
  const readBeforeBinding = (line: { msg: string; meter?: unknown; interval?: unknown; reason?: unknown }) => {
    const bound = boundIntervals[METERS.findIndex((meter) => meter.address === line.meter)];
    return line.msg === "reading rejected by the market" && Number(line.interval) < bound && line.reason === `ReadingOutOfOrder(${line.interval}, ${bound})`;
  };

  const reading = async (meter: number, interval: number): Promise<[boolean, bigint, bigint]> => [...(await market.readingOf(participantIds[meter], interval))] as [boolean, bigint, bigint];

  it("posts the meter's load record of the missed boundary as that boundary's reading", async () => {
    await intervalStarted(clock, Math.max(...boundIntervals)); // the bridge starts in the interval the meters serve from
    bridge.start();
    const firstBoundary = lastBoundary(clock, Date.now()) + 1;
    await waitUntil(() => bridge.logs().some((line) => line.msg === "reading journaled" && line.meter === METERS[0].address), (INTERVAL_SECONDS + 10) * 1000, "the bridge's first reading", 200);

    // the next boundary on a whole minute, at least 5 s away: the bridge is down across it
    let missed = lastBoundary(clock, Date.now()) + 1;
    while ((boundaryMs(clock, missed) / 1000) % 60 !== 0 || boundaryMs(clock, missed) - Date.now() < 5000) missed++;
    await sleep(boundaryMs(clock, missed) - 3000 - Date.now());
    await bridge.kill();
    await sleep(boundaryMs(clock, missed) + 4000 - Date.now()); // past maxReadDelaySeconds: too late for a live read
    bridge.start();

    const interval = missed - 1;
    await waitUntil(async () => (await reading(0, interval))[0], 30_000, "the recovered reading on chain", 300);
    // the meter stamps its record by its own clock, which the time broadcast set to within a second of the host's
    const offsetMs = simulator.meterClock(METERS[0].address, 0);
    const frozen = simulator.registers(METERS[0].address, boundaryMs(clock, missed) - offsetMs);
    assert.deepEqual(await reading(0, interval), [true, frozen.importWh, frozen.exportWh], "the meter's record of the boundary minute, not a later read");
    // the meter without records is asked after the other one, whose recovered reading may be on chain first
    const missedLine = (line: { msg: string; meter?: unknown; interval?: unknown }) => line.msg === "reading missed" && line.meter === METERS[1].address && line.interval === interval;
    await waitUntil(() => bridge.logs().some(missedLine), 10_000, "the missed reading of the meter without records", 200);
    const logs = bridge.logs();
    // (a start after a whole-minute boundary, too late for a live read, also takes that boundary from the record)
    const recovered = logs.filter((line) => line.msg === "reading recovered from the meter's record" && line.interval === interval);
    assert.deepEqual(recovered.map((line) => [line.meter, line.interval, line.source, line.importWh]), [[METERS[0].address, interval, "load-record", String(frozen.importWh)]]);

    // the meter without records: that interval is missing (with the reason), the next one read live
    const lost = logs.filter(missedLine);
    assert.equal(lost.length, 1);
    assert.match(String(lost[0].reason), /too late to read at the boundary .* and the meter has no record for it: no load record at /);
    await waitUntil(async () => (await reading(1, missed))[0], (INTERVAL_SECONDS + 15) * 1000, "the next reading of the meter without records", 300);
    assert.equal((await reading(1, interval))[0], false);
    const live = simulator.registers(METERS[1].address, boundaryMs(clock, missed + 1));
    const [, importWh] = await reading(1, missed);
    assert.ok(importWh >= live.importWh && importWh <= simulator.registers(METERS[1].address, boundaryMs(clock, missed + 1) + 3000).importWh, "read live at the boundary after");

    // every reading of the recovering meter on chain once, with no gap since the first boundary
    assert.equal(await bridge.stop(), 0);
    const events = await market.queryFilter(market.filters.ReadingPosted(participantIds[0]), 0);
    const intervals = events.map((event) => Number((event as unknown as { args: { interval: bigint } }).args.interval));
    assert.deepEqual(intervals, Array.from({ length: intervals.length }, (_, i) => intervals[0] + i), "consecutive intervals, each once");
    assert.ok(intervals[0] <= firstBoundary - 1 && intervals.includes(interval), intervals.join(","));
    assert.equal(await provider.getTransactionCount(new Wallet(keys[0]).address), intervals.length, "one transaction per reading");
    assert.deepEqual(logs.filter((line) => line.level === "error").filter((line) => !readBeforeBinding(line)), []);
  });
});
