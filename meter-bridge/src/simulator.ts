/**
 * A DL/T 645-2007 meter simulator: several meters on one bus whose energy registers advance
 * with a configured constant power. Replies to reads of known identifiers, abnormally
 * (no-requested-data) to unknown or unsupported ones, stays silent for other addresses and
 * for broadcasts, and waits a reply delay. On a pseudo-terminal, which has no baud rate, it
 * also simulates the time bytes take on the line: the request's bytes before the reply delay
 * and each reply byte paced at the configured baud rate.
 */
import { EventEmitter } from "node:events";
import type { Duplex } from "node:stream";
import {
  DATA_FORMATS,
  DI,
  ErrorName,
  FUNCTION,
  Message,
  addressMatches,
  decodeFrame,
  encodeAbnormalReply,
  encodeReadAddressReply,
  encodeReadReply,
  encodeValue,
  fromHex,
  interpretFrame,
  isMeterAddress,
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
  /** identifiers this meter answers abnormally (no-requested-data) */
  unsupported?: string[];
  /** reply delay of this meter, ms; default the simulator's */
  replyDelayMs?: number;
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
  /** clock for the registers (line timing always uses the real clock); default Date.now */
  now?: () => number;
}

interface Meter {
  address: string;
  importWh: bigint;
  exportWh: bigint;
  importW: bigint;
  exportW: bigint;
  voltage: string;
  unsupported: Set<string>;
  replyDelayMs?: number;
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

/** Checks a simulated meter description; TypeError on a bad field. */
export function simulatedMeter(spec: SimulatedMeter): Meter {
  if (typeof spec !== "object" || spec === null || !isMeterAddress(spec.address)) {
    throw new TypeError(`each meter needs a 12-digit "address", got ${JSON.stringify(spec)}`);
  }
  const whole = (name: keyof SimulatedMeter, value: unknown = 0): bigint => {
    if (!Number.isSafeInteger(value) || (value as number) < 0) throw new TypeError(`meter ${spec.address}: ${name} must be a non-negative integer, got ${String(value)}`);
    return BigInt(value as number);
  };
  const voltage = spec.voltage ?? "230.0";
  encodeValue(DI.VOLTAGE_A, voltage);
  return {
    address: spec.address,
    importWh: whole("importWh", spec.importWh),
    exportWh: whole("exportWh", spec.exportWh),
    importW: whole("importW", spec.importW),
    exportW: whole("exportW", spec.exportW),
    voltage,
    unsupported: new Set((spec.unsupported ?? []).map(normalizeDi)),
    replyDelayMs: spec.replyDelayMs,
  };
}

function simulatorSettings(options: SimulatorOptions): Settings {
  const { noiseBeforeReply = "", ...rest } = options;
  const settings = { replyDelayMs: 20, preamble: 4, simulateLineTiming: true, now: Date.now, ...stripUndefined(rest), line: lineOptions(options.line), noise: fromHex(noiseBeforeReply) };
  if (!Number.isInteger(settings.replyDelayMs) || settings.replyDelayMs < 0) throw new TypeError(`replyDelayMs must be a non-negative integer, got ${settings.replyDelayMs}`);
  if (!Number.isInteger(settings.preamble) || settings.preamble < 0 || settings.preamble > 7) throw new TypeError(`preamble must be 0..7, got ${settings.preamble}`);
  return settings;
}

/** Events: "request" (Message) for each request heard, "reply" (address) after a reply has been sent. */
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

  /** The registers meter `address` reports at time `at` (default now). */
  registers(address: string, at = this.settings.now()): Registers {
    const meter = this.meterAt(address);
    const elapsedMs = BigInt(Math.max(0, at - this.startedAt));
    const advance = (startWh: bigint, watts: bigint): bigint => {
      const wh = (startWh * 3_600_000n + watts * elapsedMs) / 3_600_000n;
      return wh - (wh % 10n);
    };
    return { importWh: advance(meter.importWh, meter.importW), exportWh: advance(meter.exportWh, meter.exportW) };
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
    if (this.busy) return; // a real meter would not hear a request sent over its own reply
    const reply = this.replyTo(message);
    if (!reply) return;
    const requestMs = this.settings.simulateLineTiming ? transmitMs(requestBytes, this.settings.line) : 0;
    this.busy = true;
    this.later(requestMs + (reply.meter.replyDelayMs ?? this.settings.replyDelayMs), () =>
      this.sendPaced(Buffer.concat([this.settings.noise, reply.bytes]), () => {
        this.busy = false;
        this.emit("reply", reply.meter.address);
      }),
    );
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
      const value = this.valueOf(meter, message.di);
      if (value === undefined) return abnormal(FUNCTION.READ, "no-requested-data");
      return { meter, bytes: encodeReadReply(meter.address, message.di, encodeValue(message.di, value), preamble) };
    }
    if (message.kind === "read-follow-up") return abnormal(FUNCTION.READ_FOLLOW_UP, "no-requested-data");
    if (message.kind === "other") return abnormal(message.function, "other-error");
    return undefined;
  }

  /** Exact decimal value of a register, or undefined when this meter does not have it. */
  private valueOf(meter: Meter, di: string): string | undefined {
    if (meter.unsupported.has(di) || DATA_FORMATS[di] === undefined) return undefined;
    const { importWh, exportWh } = this.registers(meter.address);
    const netW = meter.importW - meter.exportW;
    switch (di) {
      case DI.FORWARD_ACTIVE_ENERGY:
        return whToKWh(importWh);
      case DI.REVERSE_ACTIVE_ENERGY:
        return whToKWh(exportWh);
      case DI.COMBINED_ACTIVE_ENERGY:
        return whToKWh(importWh + exportWh);
      case DI.TOTAL_ACTIVE_POWER:
        return fixed(netW * 10n, 4); // kW with 4 decimals = units of 0.1 W
      case DI.CURRENT_A:
      case DI.CURRENT_B:
      case DI.CURRENT_C:
        return fixed((netW * 10_000n) / (3n * BigInt(meter.voltage.replace(".", ""))), 3); // mA per phase
      case DI.METER_ADDRESS:
      case DI.METER_NUMBER:
        return meter.address;
      default:
        return meter.voltage; // the three phase voltages
    }
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

/** "-12345", 3 -> "-12.345" */
function fixed(units: bigint, decimals: number): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(decimals + 1, "0");
  return `${negative ? "-" : ""}${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
}
