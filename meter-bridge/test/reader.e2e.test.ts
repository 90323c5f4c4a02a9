/**
 * One port of the gateway (PortReader) against the simulated meters over a real pseudo-terminal
 * pair: line noise does not make a live meter dead, a silent one is probed again at the next
 * boundary, missed boundaries come back from the meters' load records and hourly freezes (or are
 * reported missing when a meter keeps none), clocks are read and set by broadcast time within the
 * standard's bounds, and a missing port is a loud error at start and at every interval.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import type { SerialPort } from "serialport";
import { MarketTiming, boundaryMs, lastBoundary } from "../src/clock";
import { msOfMeterTime } from "../src/codec";
import { PortConfig } from "../src/config";
import { Journal } from "../src/journal";
import { DEFAULT_LINE, closeSerialPort, openSerialPort } from "../src/line";
import { timeSyncSettings } from "../src/meterClock";
import { PortReader } from "../src/reader";
import { MeterSimulator, SimulatedMeter, SimulatorOptions } from "../src/simulator";
import { SettingsError } from "../src/settings";
import { CapturedLog } from "./support/capturedLog";
import { PtyPair, startPtyPair } from "./support/ptyPair";
import { sleep } from "./support/wait";

const dir = mkdtempSync(path.join(tmpdir(), "meter-bridge-reader-"));
let journals = 0;

interface Rig {
  reader: PortReader;
  config: PortConfig;
  /** another reader on the same port (a restarted bridge) */
  newReader(): PortReader;
  simulator: MeterSimulator;
  journal: Journal;
  log: CapturedLog;
  stop(): Promise<void>;
}

interface RigOptions {
  timing: MarketTiming;
  maxReadDelayMs?: number;
  simulator?: SimulatorOptions;
  now?: () => number;
  path?: string;
  bus?: PortConfig["bus"];
  timeSync?: boolean;
}

/** A simulator on one end of a fresh pty pair, a PortReader on the other, with a fresh journal. */
async function startRig(meters: SimulatedMeter[], options: RigOptions): Promise<Rig> {
  const pty: PtyPair = await startPtyPair();
  const meterPort: SerialPort = await openSerialPort(pty.b, DEFAULT_LINE);
  const simulator = new MeterSimulator(meterPort, meters, { now: options.now, ...options.simulator });
  const journal = Journal.open(path.join(dir, `journal-${++journals}.jsonl`), { chainId: "31337", market: "0x5FbDB2315678afecb367f032d93F642f64180aa3", ...options.timing });
  const log = new CapturedLog();
  const config: PortConfig = {
    path: options.path ?? pty.a,
    line: DEFAULT_LINE,
    bus: options.bus ?? { responseTimeoutMs: 300, interByteTimeoutMs: 100, retries: 1, deadRetryMs: 600_000 },
    meters: meters.map((meter) => ({ address: meter.address, key: { keyFile: "unused" } })),
  };
  const newReader = () =>
    new PortReader(config, options.timing, journal, log, () => undefined, {
      maxReadDelayMs: options.maxReadDelayMs ?? 3_600_000,
      timeSync: timeSyncSettings({ enabled: options.timeSync ?? false, warnSeconds: 10 }),
      now: options.now,
    });
  const reader = newReader();
  return {
    reader,
    config,
    newReader,
    simulator,
    journal,
    log,
    async stop() {
      await reader.close();
      simulator.stop();
      await closeSerialPort(meterPort);
      await pty.stop();
      journal.close();
    },
  };
}

/** Intervals of `seconds`, starting at local midnight of 2024-01-01 (so boundaries fall on whole local minutes, quarter hours, hours). */
function localTiming(seconds: number, extra: Partial<MarketTiming> = {}): MarketTiming {
  return { startTime: msOfMeterTime({ year: 2024, month: 1, day: 1, hour: 0, minute: 0, second: 0 }) / 1000, intervalSeconds: seconds, ...extra };
}

const journaled = (journal: Journal, meter: string) => journal.readings(meter).map((entry) => [entry.reading.interval, entry.reading.importWh, entry.reading.exportWh, entry.reading.source]);

describe("reader: line noise and silence", () => {
  let rig: Rig | undefined;
  afterEach(() => rig?.stop());

  it("reads a meter whose first two replies the line cut short, without marking it dead", async () => {
    const meters = [
      { address: "000000000001", importWh: 112_280_260 },
      { address: "000000000002", importWh: 5_000, exportWh: 1_230 },
    ];
    const timing = { startTime: Math.floor(Date.now() / 1000) - 7200, intervalSeconds: 3600 };
    rig = await startRig(meters, { timing });
    rig.simulator.corruptReplies("000000000002", 2, "cut");
    const k = lastBoundary(timing, Date.now());
    await rig.reader.round(k);
    assert.deepEqual(journaled(rig.journal, "000000000001"), [[k - 1, "112280260", "0", undefined]]);
    assert.deepEqual(journaled(rig.journal, "000000000002"), [[k - 1, "5000", "1230", undefined]]);
    assert.deepEqual(rig.log.find("corrupt frame on the line").map((line) => line.reason), ["truncated", "truncated"]);
    assert.deepEqual([rig.log.find("meter not answering, marked dead"), rig.log.find("reading missed")], [[], []]);
  });

  it("marks a silent meter dead only until the next boundary, and reads it there", async () => {
    const timing = { startTime: Math.floor(Date.now() / 1000), intervalSeconds: 2 };
    rig = await startRig([{ address: "000000000003", importWh: 7_000 }], { timing, maxReadDelayMs: 2000 });
    await sleep(boundaryMs(timing, lastBoundary(timing, Date.now()) + 1) + 50 - Date.now());
    const k = lastBoundary(timing, Date.now());
    rig.simulator.silence("000000000003");
    await rig.reader.round(k);
    const [dead] = rig.log.find("meter not answering, marked dead");
    assert.equal(dead.probedAgainAt, new Date(boundaryMs(timing, k + 1)).toISOString(), "probed again at the next boundary, not after deadRetryMs (10 min)");
    rig.simulator.silence("000000000003", false);
    await sleep(boundaryMs(timing, k + 1) + 50 - Date.now());
    await rig.reader.round(k + 1);
    assert.deepEqual(journaled(rig.journal, "000000000003").map(([interval]) => interval), [k], "the next boundary's reading");
    assert.equal(rig.log.find("meter answers again").length, 1);
  });
});

describe("reader: a missed boundary taken from the meter's records", () => {
  let rig: Rig | undefined;
  afterEach(() => rig?.stop());

  it("recovers two missed quarter-hour boundaries from the meter's load records, oldest first", async () => {
    const timing = localTiming(900, { settleOffsetSeconds: 600, readingGraceSeconds: 3000 });
    rig = await startRig([{ address: "000000000011", importWh: 2_000_000, exportWh: 50_000, importW: 3_600, exportW: 720 }], { timing, maxReadDelayMs: 0 });
    const k = lastBoundary(timing, Date.now());
    rig.journal.addReading({ meter: "000000000011", interval: k - 3, importWh: "1", exportWh: "0", readAt: "" });
    await rig.reader.round(k);
    const at = (boundary: number) => rig!.simulator.registers("000000000011", boundaryMs(timing, boundary));
    assert.deepEqual(journaled(rig.journal, "000000000011").slice(1), [
      [k - 2, String(at(k - 1).importWh), String(at(k - 1).exportWh), "load-record"],
      [k - 1, String(at(k).importWh), String(at(k).exportWh), "load-record"],
    ]);
    assert.deepEqual(rig.log.find("reading recovered from the meter's record").map((line) => [line.interval, line.source]), [[k - 2, "load-record"], [k - 1, "load-record"]]);
  });

  it("recovers a missed hourly boundary from the meter's hourly freezes when it keeps no load records", async () => {
    const timing = localTiming(3600, { settleOffsetSeconds: 2400, readingGraceSeconds: 9000 });
    rig = await startRig([{ address: "000000000012", importWh: 9_000_000, importW: 1_800, loadRecordMinutes: 0 }], { timing, maxReadDelayMs: 0 });
    const k = lastBoundary(timing, Date.now());
    rig.journal.addReading({ meter: "000000000012", interval: k - 3, importWh: "1", exportWh: "0", readAt: "" });
    await rig.reader.round(k);
    const at = (boundary: number) => String(rig!.simulator.registers("000000000012", boundaryMs(timing, boundary)).importWh);
    assert.deepEqual(journaled(rig.journal, "000000000012").slice(1), [
      [k - 2, at(k - 1), "0", "hourly-freeze"],
      [k - 1, at(k), "0", "hourly-freeze"],
    ]);
  });

  it("reports a boundary missing when the meter keeps no record of it, and journals nothing", async () => {
    const timing = localTiming(900, { settleOffsetSeconds: 600, readingGraceSeconds: 3000 });
    rig = await startRig([{ address: "000000000013", importWh: 1_000, loadRecordMinutes: 0, hourlyFreeze: false }], { timing, maxReadDelayMs: 0 });
    const k = lastBoundary(timing, Date.now());
    rig.journal.addReading({ meter: "000000000013", interval: k - 2, importWh: "1000", exportWh: "0", readAt: "" });
    await rig.reader.round(k);
    assert.equal(rig.journal.lastInterval("000000000013"), k - 2);
    const [missed] = rig.log.find("reading missed");
    assert.equal(missed.interval, k - 1);
    assert.match(String(missed.reason), /^too late to read at the boundary \(\d+ s after it\) and the meter has no record for it: no load record at .*; (no hourly freezes|.* is not on a freeze hour)$/);
  });

  it("reports the intervals the market no longer waits for once, as a range, and recovers the ones it does", async () => {
    const timing = localTiming(900, { settleOffsetSeconds: 600, readingGraceSeconds: 300 }); // it waits 15 min after a boundary
    rig = await startRig([{ address: "000000000015", importWh: 10_000 }], { timing, maxReadDelayMs: 0 });
    const k = lastBoundary(timing, Date.now());
    rig.journal.addReading({ meter: "000000000015", interval: k - 6, importWh: "10000", exportWh: "0", readAt: "" });
    await rig.reader.round(k);
    await rig.reader.round(k);
    assert.deepEqual(rig.log.find("reading missed").map((line) => [line.interval, line.through, line.reason]), [[k - 5, k - 2, "the market no longer waits for it (its grace period has passed)"]]);
    assert.deepEqual(journaled(rig.journal, "000000000015").map(([interval, , , source]) => [interval, source]), [[k - 6, undefined], [k - 1, "load-record"]]);
  });

  it("says nothing about a boundary every meter was already read at (a restart after it)", async () => {
    const timing = localTiming(900);
    rig = await startRig([{ address: "000000000014" }], { timing, maxReadDelayMs: 0 });
    const k = lastBoundary(timing, Date.now());
    rig.journal.addReading({ meter: "000000000014", interval: k - 1, importWh: "0", exportWh: "0", readAt: "" });
    await rig.reader.round(k);
    assert.deepEqual(rig.log.lines, []);
  });
});

describe("reader: meter clocks", () => {
  let rig: Rig | undefined;
  afterEach(() => rig?.stop());

  it("reads the clocks, broadcasts the time once (the meters take it within 5 min), and names what it could not correct", async () => {
    // a fake host clock at noon today keeps the broadcast clear of the 5 minutes around midnight
    const noon = new Date();
    noon.setHours(12, 0, 0, 0);
    const shift = noon.getTime() - Date.now();
    const now = () => Date.now() + shift;
    const meters = [
      { address: "000000000021", clockOffsetSeconds: 42 },
      { address: "000000000022", clockOffsetSeconds: -400 },
      { address: "000000000023", clockOffsetSeconds: 0 },
    ];
    rig = await startRig(meters, { timing: localTiming(900), now, timeSync: true, bus: { responseTimeoutMs: 300, retries: 1 } });
    const set: string[] = [];
    const refused: string[] = [];
    rig.simulator.on("time-set", (address: string) => set.push(address));
    rig.simulator.on("time-refused", (address: string, reason: string) => refused.push(`${address}: ${reason}`));
    await rig.reader.start(false);
    await rig.reader.keepClocksIfDue(); // the start's broadcast, due after the first round
    const offsets = (msg: string) => Object.fromEntries(rig!.log.find(msg).map((line) => [line.meter, line.offsetSeconds as number]));
    const before = offsets("meter clock");
    const near = (value: number, expected: number) => Math.abs(value - expected) <= 1.5;
    assert.ok(near(before["000000000021"], 42) && near(before["000000000022"], -400) && near(before["000000000023"], 0), `offsets read: ${JSON.stringify(before)}`);
    assert.deepEqual(rig.log.find("meter clock").map((line) => line.level), ["warn", "warn", "info"], "offsets beyond 10 s are warnings");
    const [broadcast] = rig.log.find("time broadcast");
    const sentMs = Date.parse(String(broadcast.sent));
    assert.ok(broadcast.reason === "start" && sentMs % 1000 === 0 && Math.abs(sentMs - now()) < 3000, `the broadcast carried the host's time, a whole second: ${JSON.stringify(broadcast)}`);
    assert.deepEqual(set, ["000000000021", "000000000023"], "the meters within 5 min took the time");
    assert.deepEqual(refused.map((text) => text.replace(/by 40\d s/, "by 40x s")), ["000000000022: it would move the clock by 40x s, more than 5 min"]);
    const after = offsets("meter clock after the broadcast");
    assert.ok(near(after["000000000021"], 0), `meter 21 set to within a second and a half: ${after["000000000021"]} s`);
    assert.equal(after["000000000023"], undefined, "a clock already right is not read again");
    assert.deepEqual(rig.log.find("meter clock off by more than a broadcast time may correct: set it on site").map((line) => line.meter), ["000000000022"]);

    await rig.reader.keepClocksIfDue();
    assert.equal(rig.log.find("time broadcast").length, 1, "one broadcast a day");

    // later that day meter 21 has drifted 30 s; restarted, the bridge broadcasts again, but a meter
    // takes one broadcast a day: it stays off, with a warning
    rig.simulator.setClockOffset("000000000021", 30);
    await rig.reader.close();
    const restarted = rig.newReader();
    try {
      await restarted.start(false);
      await restarted.keepClocksIfDue();
    } finally {
      await restarted.close();
    }
    assert.ok(refused.some((text) => /^000000000021: already set once on \d{4}-\d\d-\d\d$/.test(text)), refused.join("; "));
    assert.deepEqual(rig.log.find("meter clock off").map((line) => [line.meter, Math.round(line.offsetSeconds as number), line.warnSeconds]), [["000000000021", 30, 10]]);
  });
});

describe("reader: a port that is not there", () => {
  const timing = localTiming(900);
  let rig: Rig;
  before(async () => (rig = await startRig([{ address: "000000000031" }], { timing, path: "/dev/meter-bridge-no-such-port" })));
  after(() => rig.stop());

  it("is a loud error at start and at every interval; with requirePorts it stops the bridge with one line", async () => {
    await rig.reader.start(false);
    const k = lastBoundary(timing, Date.now());
    await rig.reader.round(k);
    await rig.reader.round(k + 1);
    assert.deepEqual(rig.log.lines.map((line) => [line.level, line.msg]), [
      ["error", "port unavailable at start: its meters are not read until it appears"],
      ["error", "readings missed: port unavailable"],
      ["error", "readings missed: port unavailable"],
    ]);
    assert.match(String(rig.log.lines[1].error), /cannot open \/dev\/meter-bridge-no-such-port/);
    await assert.rejects(rig.reader.start(true), (error: Error) => error instanceof SettingsError && /^cannot open \/dev\/meter-bridge-no-such-port: .* \(the port of meters 000000000031; "requirePorts" is set\)$/.test(error.message));
  });
});
