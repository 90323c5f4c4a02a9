/**
 * A DL/T 645-2007 meter simulator: several meters on one bus whose energy registers advance
 * with a configured constant power. Replies to reads of known identifiers, abnormally
 * (no-requested-data) to unknown or unsupported ones, stays silent for other addresses and
 * for broadcasts, and waits a reply delay. On a pseudo-terminal, which has no baud rate, it
 * also simulates the time bytes take on the line: the request's bytes before the reply delay
 * and each reply byte paced at the configured baud rate.
 *
 * Each meter keeps its own clock (04000101 date, 04000102 time), which a broadcast time
 * synchronisation (08) sets within the standard's bounds, and its own records, stamped by
 * that clock: class 4 load records (06040001 / 06000001 at a given time) every
 * `loadRecordMinutes`, and hourly freezes (0504 00/01/02 NN) at every whole hour.
 */
import { EventEmitter } from "node:events";
import type { Duplex } from "node:stream";
import {
  DI,
  ErrorName,
  FUNCTION,
  HOURLY_FREEZE_DEPTH,
  Message,
  MeterTime,
  addressMatches,
  decodeFrame,
  decodeLoadRecordRequest,
  encodeAbnormalReply,
  encodeLoadRecord,
  encodeReadAddressReply,
  encodeReadReply,
  encodeValue,
  formatCalendar,
  fromHex,
  interpretFrame,
  isKnownDi,
  isMeterAddress,
  loadRecordClass,
  meterTimeOf,
  msOfMeterTime,
  normalizeDi,
  whToKWh,
} from "./codec";
import { LineOptions, lineOptions, stripUndefined, transmitMs } from "./line";
import { Dlt645Parser } from "./parser";

export interface SimulatedMeter {
  /** 12-digit address */
  address: string;
  /** forward active energy register at start, Wh (integer); default 0 */
  importWh?: number;
  /** reverse active energy register at start, Wh (integer); default 0 */
  exportWh?: number;
  /** constant import power, W; default 0 */
  importW?: number;
  /** constant export power, W; default 0 */
  exportW?: number;
  /** phase voltage, V, one decimal; default "230.0" */
  voltage?: string;
  /** grid frequency, Hz, two decimals; default "50.00" */
  frequency?: string;
  /** power factor magnitude, three decimals; default "1.000" (negative while exporting) */
  powerFactor?: string;
  /** identifiers this meter answers abnormally (no-requested-data) */
  unsupported?: string[];
  /** reply delay of this meter, ms; default the simulator's */
  replyDelayMs?: number;
  /** how far the meter's clock is ahead of the host's, s (negative: behind); default 0 */
  clockOffsetSeconds?: number;
  /** period of its class 4 load records, minutes from midnight; 0 = it keeps none; default 15 */
  loadRecordMinutes?: number;
  /** whether it freezes its energy registers at every whole hour; default true */
  hourlyFreeze?: boolean;
}

export interface SimulatorOptions {
  /** line settings for the simulated timing; default 2400 8E1 */
  line?: Partial<LineOptions>;
  /** time between the end of a request and the first reply byte (DL/T 645: 20..500 ms); default 20 */
  replyDelayMs?: number;
  /** FE bytes before each reply (0..7 in the field); default 4 */
  preamble?: number;
  /** pace bytes at the baud rate (for a pseudo-terminal); false on a real serial line; default true */
  simulateLineTiming?: boolean;
  /** bytes (hex) sent before every reply, e.g. line noise at the turnaround; default none */
  noiseBeforeReply?: string;
  /** clock for the registers and meter clocks (line timing always uses the real clock); default Date.now */
  now?: () => number;
}

interface Meter {
  address: string;
  importWh: bigint;
  exportWh: bigint;
  importW: bigint;
  exportW: bigint;
  voltage: string;
  frequency: string;
  powerFactor: string;
  unsupported: Set<string>;
  replyDelayMs?: number;
  clockOffsetMs: number;
  loadRecordMinutes: number;
  hourlyFreeze: boolean;
  /** the meter-local day of the last broadcast time it accepted */
  syncedOn?: string;
  /** replies still to be corrupted, and how */
  corrupt: Array<"cut" | "checksum">;
  silent: boolean;
}

interface Settings {
  line: LineOptions;
  replyDelayMs: number;
  preamble: number;
  simulateLineTiming: boolean;
  noise: Buffer;
  now: () => number;
}

/** Registers of a meter at an instant, Wh, truncated to the register resolution of 10 Wh. */
export interface Registers {
  importWh: bigint;
  exportWh: bigint;
}

/** A broadcast time changes a meter's clock by at most this much (DL/T 645-2007: 5 min). */
export const BROADCAST_TIME_LIMIT_MS = 5 * 60_000;
/** Load records a simulated meter keeps, back from now. */
const LOAD_RECORD_DAYS = 7;
const HOUR_MS = 3_600_000;

/** Checks a simulated meter description; TypeError on a bad field. */
export function simulatedMeter(spec: SimulatedMeter): Meter {
  if (typeof spec !== "object" || spec === null || !isMeterAddress(spec.address)) {
    throw new TypeError(`each meter needs a 12-digit "address", got ${JSON.stringify(spec)}`);
  }
  const whole = (name: keyof SimulatedMeter, value: unknown = 0): bigint => {
    if (!Number.isSafeInteger(value) || (value as number) < 0) throw new TypeError(`meter ${spec.address}: ${name} must be a non-negative integer, got ${String(value)}`);
    return BigInt(value as number);
  };
  const { voltage = "230.0", frequency = "50.00", powerFactor = "1.000", clockOffsetSeconds = 0, loadRecordMinutes = 15 } = spec;
  encodeValue(DI.VOLTAGE_A, voltage);
  encodeValue(DI.FREQUENCY, frequency);
  encodeValue(DI.POWER_FACTOR, powerFactor);
  if (!Number.isFinite(clockOffsetSeconds)) throw new TypeError(`meter ${spec.address}: clockOffsetSeconds must be a number, got ${String(clockOffsetSeconds)}`);
  if (!Number.isInteger(loadRecordMinutes) || loadRecordMinutes < 0 || loadRecordMinutes > 1440) throw new TypeError(`meter ${spec.address}: loadRecordMinutes must be 0..1440, got ${String(loadRecordMinutes)}`);
  return {
    address: spec.address,
    importWh: whole("importWh", spec.importWh),
    exportWh: whole("exportWh", spec.exportWh),
    importW: whole("importW", spec.importW),
    exportW: whole("exportW", spec.exportW),
    voltage,
    frequency,
    powerFactor,
    unsupported: new Set((spec.unsupported ?? []).map(normalizeDi)),
    replyDelayMs: spec.replyDelayMs,
    clockOffsetMs: Math.round(clockOffsetSeconds * 1000),
    loadRecordMinutes,
    hourlyFreeze: spec.hourlyFreeze ?? true,
    corrupt: [],
    silent: false,
  };
}

function simulatorSettings(options: SimulatorOptions): Settings {
  const { noiseBeforeReply = "", ...rest } = options;
  const settings = { replyDelayMs: 20, preamble: 4, simulateLineTiming: true, now: Date.now, ...stripUndefined(rest), line: lineOptions(options.line), noise: fromHex(noiseBeforeReply) };
  if (!Number.isInteger(settings.replyDelayMs) || settings.replyDelayMs < 0) throw new TypeError(`replyDelayMs must be a non-negative integer, got ${settings.replyDelayMs}`);
  if (!Number.isInteger(settings.preamble) || settings.preamble < 0 || settings.preamble > 7) throw new TypeError(`preamble must be 0..7, got ${settings.preamble}`);
  return settings;
}

/**
 * Events: "request" (Message) for each request heard, "reply" (address) after a reply has been
 * sent, "time-set" (address, change ms) when a meter accepts a broadcast time, "time-refused"
 * (address, reason) when it ignores one.
 */
export class MeterSimulator extends EventEmitter {
  private readonly settings: Settings;
  private readonly meters: Meter[];
  private readonly startedAt: number;
  private readonly parser = new Dlt645Parser({ accept: "requests" });
  private bytesHeard = 0;
  private busy = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly port: Duplex,
    meters: SimulatedMeter[],
    options: SimulatorOptions = {},
  ) {
    super();
    this.settings = simulatorSettings(options);
    this.meters = meters.map(simulatedMeter);
    this.startedAt = this.settings.now();
    port.on("data", (chunk: Buffer) => (this.bytesHeard += chunk.length));
    port.pipe(this.parser);
    this.parser.on("data", (frame: Buffer) => this.onRequest(frame));
  }

  /**
   * The registers meter `address` reports at host time `at` (default now): its start registers
   * moved on (or, before the start, back) at its constant power, never below zero.
   */
  registers(address: string, at = this.settings.now()): Registers {
    const meter = this.meterAt(address);
    const elapsedMs = BigInt(Math.round(at - this.startedAt));
    const advance = (startWh: bigint, watts: bigint): bigint => {
      const wh = (startWh * 3_600_000n + watts * elapsedMs) / 3_600_000n;
      return wh <= 0n ? 0n : wh - (wh % 10n);
    };
    return { importWh: advance(meter.importWh, meter.importW), exportWh: advance(meter.exportWh, meter.exportW) };
  }

  /** The time (ms) meter `address`'s clock shows at host time `at` (default now). */
  meterClock(address: string, at = this.settings.now()): number {
    return at + this.meterAt(address).clockOffsetMs;
  }

  /** Sets how far meter `address`'s clock is ahead of the host's (s). */
  setClockOffset(address: string, seconds: number): void {
    this.meterAt(address).clockOffsetMs = Math.round(seconds * 1000);
  }

  /** The next `count` replies of meter `address` reach the line damaged: cut short (bad length) or with a wrong checksum. */
  corruptReplies(address: string, count: number, how: "cut" | "checksum" = "cut"): void {
    this.meterAt(address).corrupt.push(...Array<"cut" | "checksum">(count).fill(how));
  }

  /** Meter `address` stops (or resumes) answering anything. */
  silence(address: string, silent = true): void {
    this.meterAt(address).silent = silent;
  }

  /** Stops replying; pending replies are dropped. */
  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.port.unpipe(this.parser);
  }

  private meterAt(address: string): Meter {
    const meter = this.meters.find((candidate) => candidate.address === address);
    if (!meter) throw new TypeError(`no simulated meter ${address}`);
    return meter;
  }

  private onRequest(frame: Buffer): void {
    const requestBytes = this.bytesHeard;
    this.bytesHeard = 0;
    let message: Message;
    try {
      message = interpretFrame(decodeFrame(frame));
    } catch {
      return; // a request a meter cannot parse gets no reply
    }
    this.emit("request", message);
    if (message.kind === "broadcast-time") {
      for (const meter of this.meters) this.applyBroadcastTime(meter, message.time);
      return;
    }
    if (this.busy) return; // a real meter would not hear a request sent over its own reply
    const reply = this.replyTo(message);
    if (!reply || reply.meter.silent) return;
    const requestMs = this.settings.simulateLineTiming ? transmitMs(requestBytes, this.settings.line) : 0;
    this.busy = true;
    this.later(requestMs + (reply.meter.replyDelayMs ?? this.settings.replyDelayMs), () =>
      this.sendPaced(Buffer.concat([this.settings.noise, damaged(reply.bytes, reply.meter.corrupt.shift())]), () => {
        this.busy = false;
        this.emit("reply", reply.meter.address);
      }),
    );
  }

  /**
   * DL/T 645-2007 broadcast time: a meter takes it at most once per day (its own date), only
   * when it moves its clock by at most 5 minutes, and never within 5 minutes of its midnight.
   */
  private applyBroadcastTime(meter: Meter, time: MeterTime): void {
    const now = this.settings.now();
    const meterNow = now + meter.clockOffsetMs;
    const changeMs = msOfMeterTime(time) - meterNow;
    const local = meterTimeOf(new Date(meterNow));
    const minuteOfDay = local.hour * 60 + local.minute;
    const day = formatCalendar("date", local);
    let refused: string | undefined;
    if (Math.abs(changeMs) > BROADCAST_TIME_LIMIT_MS) refused = `it would move the clock by ${Math.round(changeMs / 1000)} s, more than 5 min`;
    else if (minuteOfDay < 5 || minuteOfDay >= 1435) refused = "within 5 min of midnight";
    else if (meter.syncedOn === day) refused = `already set once on ${day}`;
    if (refused) {
      this.emit("time-refused", meter.address, refused);
      return;
    }
    meter.clockOffsetMs += changeMs;
    meter.syncedOn = day;
    this.emit("time-set", meter.address, changeMs);
  }

  /** The reply to a request, or undefined for silence. */
  private replyTo(message: Message): { meter: Meter; bytes: Buffer } | undefined {
    const preamble = { preamble: this.settings.preamble };
    if (message.kind === "read-address") {
      return this.meters.length === 1 ? { meter: this.meters[0], bytes: encodeReadAddressReply(this.meters[0].address, preamble) } : undefined;
    }
    if (message.kind === "broadcast-time" || !("address" in message)) return undefined;
    const matching = this.meters.filter((meter) => addressMatches(message.address, meter.address));
    if (matching.length !== 1) return undefined; // nobody, or a collision on a real bus
    const meter = matching[0];
    const abnormal = (fn: number, error: ErrorName) => ({ meter, bytes: encodeAbnormalReply(meter.address, fn, [error], preamble) });
    if (message.kind === "read") {
      const data = this.dataOf(meter, message.di, message.params);
      if (data === undefined) return abnormal(FUNCTION.READ, "no-requested-data");
      return { meter, bytes: encodeReadReply(meter.address, message.di, data, preamble) };
    }
    if (message.kind === "read-follow-up") return abnormal(FUNCTION.READ_FOLLOW_UP, "no-requested-data");
    if (message.kind === "other") return abnormal(message.function, "other-error");
    return undefined;
  }

  /** The reply data of a read, or undefined when this meter does not have it. */
  private dataOf(meter: Meter, di: string, params?: Buffer): Buffer | undefined {
    if (meter.unsupported.has(di)) return undefined;
    const recordClass = loadRecordClass(di);
    if (recordClass !== undefined) return di.endsWith("01") && params ? this.loadRecord(meter, params, recordClass) : undefined;
    if (!isKnownDi(di)) return undefined;
    const value = this.valueOf(meter, di);
    return value === undefined ? undefined : encodeValue(di, value);
  }

  /** Exact value of a register, or undefined when this meter does not have it. */
  private valueOf(meter: Meter, di: string): string | undefined {
    const now = this.settings.now();
    const { importWh, exportWh } = this.registers(meter.address, now);
    const netW = meter.importW - meter.exportW;
    const meterNow = new Date(now + meter.clockOffsetMs);
    if (di.startsWith("0504")) return this.hourlyFreezeValue(meter, di);
    switch (di) {
      case DI.FORWARD_ACTIVE_ENERGY:
        return whToKWh(importWh);
      case DI.REVERSE_ACTIVE_ENERGY:
        return whToKWh(exportWh);
      case DI.COMBINED_ACTIVE_ENERGY:
        return whToKWh(importWh + exportWh);
      case DI.TOTAL_ACTIVE_POWER:
        return fixed(netW * 10n, 4); // kW with 4 decimals = units of 0.1 W
      case DI.ACTIVE_POWER_A:
      case DI.ACTIVE_POWER_B:
      case DI.ACTIVE_POWER_C:
        return fixed((netW * 10n) / 3n, 4);
      case DI.CURRENT_A:
      case DI.CURRENT_B:
      case DI.CURRENT_C:
        return fixed((netW * 10_000n) / (3n * BigInt(meter.voltage.replace(".", ""))), 3); // mA per phase
      case DI.POWER_FACTOR:
      case DI.POWER_FACTOR_A:
      case DI.POWER_FACTOR_B:
      case DI.POWER_FACTOR_C:
        return netW < 0n ? `-${meter.powerFactor}` : meter.powerFactor;
      case DI.FREQUENCY:
        return meter.frequency;
      case DI.DATE:
        return formatCalendar("date", meterTimeOf(meterNow));
      case DI.TIME:
        return formatCalendar("time", meterTimeOf(meterNow));
      case DI.METER_ADDRESS:
      case DI.METER_NUMBER:
        return meter.address;
      case DI.VOLTAGE_A:
      case DI.VOLTAGE_B:
      case DI.VOLTAGE_C:
        return meter.voltage;
      default:
        return undefined;
    }
  }

  /** Items of the n-th newest hourly freeze: made at each whole hour of the meter's clock. */
  private hourlyFreezeValue(meter: Meter, di: string): string | undefined {
    const n = parseInt(di.slice(6), 16);
    if (!meter.hourlyFreeze || n < 1 || n > HOURLY_FREEZE_DEPTH) return undefined;
    const meterNow = this.settings.now() + meter.clockOffsetMs;
    const newest = msOfMeterTime({ ...meterTimeOf(new Date(meterNow)), minute: 0, second: 0 });
    const frozenAt = newest - (n - 1) * HOUR_MS;
    const registers = this.registers(meter.address, frozenAt - meter.clockOffsetMs);
    const item = di.slice(4, 6);
    if (item === "00") return formatCalendar("minute", meterTimeOf(new Date(frozenAt)));
    return whToKWh(item === "01" ? registers.importWh : registers.exportWh);
  }

  /** The first class 4 load record at or after the asked time, if the meter has one. */
  private loadRecord(meter: Meter, params: Buffer, recordClass: number): Buffer | undefined {
    if (meter.loadRecordMinutes === 0 || (recordClass !== 0 && recordClass !== 4)) return undefined;
    let asked: MeterTime;
    try {
      asked = decodeLoadRecordRequest(params).time;
    } catch {
      return undefined;
    }
    const periodMs = meter.loadRecordMinutes * 60_000;
    const askedMs = msOfMeterTime(asked);
    const midnight = msOfMeterTime({ ...asked, hour: 0, minute: 0, second: 0 });
    const recordMs = midnight + Math.ceil((askedMs - midnight) / periodMs) * periodMs;
    const meterNow = this.settings.now() + meter.clockOffsetMs;
    if (recordMs > meterNow || recordMs < meterNow - LOAD_RECORD_DAYS * 24 * HOUR_MS) return undefined;
    const { importWh, exportWh } = this.registers(meter.address, recordMs - meter.clockOffsetMs);
    const class4 = Buffer.concat([encodeValue(DI.FORWARD_ACTIVE_ENERGY, whToKWh(importWh)), encodeValue(DI.REVERSE_ACTIVE_ENERGY, whToKWh(exportWh)), Buffer.alloc(8)]);
    const record = { time: meterTimeOf(new Date(recordMs)), classes: [undefined, undefined, undefined, class4, undefined, undefined] };
    return encodeLoadRecord(record, recordClass === 0 ? undefined : recordClass);
  }

  /** Writes bytes as the line would carry them: one by one at the baud rate, or at once. */
  private sendPaced(bytes: Buffer, done: () => void): void {
    if (!this.settings.simulateLineTiming) {
      this.port.write(bytes, () => done());
      return;
    }
    const start = performance.now();
    const byteMs = transmitMs(1, this.settings.line);
    let sent = 0;
    const step = (): void => {
      // byte i has fully arrived at the far end (i + 1) byte times after the start
      const arrived = Math.min(bytes.length, Math.floor((performance.now() - start) / byteMs));
      if (arrived > sent) this.port.write(bytes.subarray(sent, arrived));
      sent = Math.max(sent, arrived);
      if (sent < bytes.length) this.later(start + (sent + 1) * byteMs - performance.now(), step);
      else done();
    };
    this.later(byteMs, step);
  }

  private later(ms: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action();
    }, Math.max(0, ms));
    this.timers.add(timer);
  }
}

/** A reply as line noise leaves it: cut before its checksum and end byte (bad length), or with its checksum wrong. */
function damaged(bytes: Buffer, how: "cut" | "checksum" | undefined): Buffer {
  if (how === "cut") return bytes.subarray(0, bytes.length - 3);
  if (how === "checksum") return Buffer.from(bytes.map((byte, i) => (i === bytes.length - 2 ? byte ^ 0x01 : byte)));
  return bytes;
}

/** "-12345", 3 -> "-12.345" */
function fixed(units: bigint, decimals: number): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(decimals + 1, "0");
  return `${negative ? "-" : ""}${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
}
