#!/usr/bin/env node
/**
 * meter-bridge run | read | frame decode | frame encode-read | simulate
 * JSON on stdout; on any error a one-line message on stderr and exit code 1, or 2 when `run`
 * stops because a setting is wrong (the unit file tells systemd not to restart it then).
 */
import { readFileSync } from "node:fs";
import { ParseArgsConfig, parseArgs } from "node:util";
import dotenv from "dotenv";
import { MeterBus } from "./bus";
import {
  FrameError,
  Message,
  decodeFrame,
  decodeValue,
  encodeRead,
  fromHex,
  hexByte,
  interpretFrame,
  isMeterAddress,
  normalizeDi,
  toHex,
  encodeControl,
  Frame,
  decodeLoadRecord,
  decodeLoadRecordRequest,
  formatCalendar,
  loadRecordClass,
  loadRecordEnergy,
} from "./codec";
import { loadConfig } from "./config";
import { runBridge } from "./daemon";
import { LineOptions, closeSerialPort, lineOptions, openSerialPort } from "./line";
import { createLogger, jsonValue } from "./log";
import { SettingsError } from "./settings";
import { MeterSimulator, SimulatedMeter, SimulatorOptions } from "./simulator";

const USAGE = `usage:
  meter-bridge run --config <file>
  meter-bridge read --port <path> --address <12 digits> --di <8 hex> [--baud 2400] [--parity even|odd|none] [--data-bits 8] [--stop-bits 1] [--timeout <ms>] [--retries <n>]
  meter-bridge frame decode <hex>
  meter-bridge frame encode-read --address <12 digits> --di <8 hex>
  meter-bridge simulate --port <path> --meters <file> [--baud 2400] [--parity even|odd|none] [--data-bits 8] [--stop-bits 1]`;

/** An error the user caused: printed as a message, never as a stack trace. */
class UsageError extends Error {}

const LINE_FLAGS = {
  baud: { type: "string" },
  parity: { type: "string" },
  "data-bits": { type: "string" },
  "stop-bits": { type: "string" },
} as const;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case "run":
      return run(rest);
    case "read":
      return read(rest);
    case "frame":
      return frame(rest);
    case "simulate":
      return simulate(rest);
    case "help":
    case "--help":
    case undefined:
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      throw new UsageError(`unknown command "${command}" (commands: run, read, frame, simulate; "meter-bridge help" shows their options)`);
  }
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, jsonValue)}\n`);
}

type FlagOptions = NonNullable<ParseArgsConfig["options"]>;

function flags<O extends FlagOptions>(args: string[], options: O) {
  try {
    return parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: true }>({ args, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function required(value: string | boolean | undefined, name: string): string {
  if (typeof value !== "string" || value === "") throw new UsageError(`--${name} is required`);
  return value;
}

function address(value: string | boolean | undefined): string {
  const text = required(value, "address");
  if (!isMeterAddress(text)) throw new UsageError(`--address must be 12 decimal digits, got "${text}"`);
  return text;
}

function di(value: string | boolean | undefined): string {
  const text = required(value, "di");
  if (!/^[0-9a-fA-F]{8}$/.test(text)) throw new UsageError(`--di must be 8 hex digits, got "${text}"`);
  return normalizeDi(text);
}

function integerFlag(value: string | boolean | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !/^\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number, got "${String(value)}"`);
  return Number(value);
}

function line(values: Record<string, string | boolean | undefined>, base: Partial<LineOptions> = {}): LineOptions {
  try {
    return lineOptions({
      ...base,
      ...Object.fromEntries(
        Object.entries({
          baudRate: integerFlag(values.baud, "baud"),
          parity: values.parity as LineOptions["parity"] | undefined,
          dataBits: integerFlag(values["data-bits"], "data-bits") as LineOptions["dataBits"] | undefined,
          stopBits: integerFlag(values["stop-bits"], "stop-bits") as LineOptions["stopBits"] | undefined,
        }).filter(([, value]) => value !== undefined),
      ),
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

async function run(args: string[]): Promise<void> {
  const { values } = flags(args, { config: { type: "string" } });
  dotenv.config({ quiet: true });
  const config = loadConfig(required(values.config, "config"));
  const log = createLogger(process.stdout, config.logLevel);
  const stop = new AbortController();
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      log.info("stopping", { signal });
      stop.abort();
    });
  }
  await runBridge(config, log, stop.signal);
}

async function read(args: string[]): Promise<void> {
  const { values } = flags(args, { port: { type: "string" }, address: { type: "string" }, di: { type: "string" }, timeout: { type: "string" }, retries: { type: "string" }, ...LINE_FLAGS });
  const target = { path: required(values.port, "port"), address: address(values.address), di: di(values.di) };
  const settings = { line: line(values), responseTimeoutMs: integerFlag(values.timeout, "timeout"), retries: integerFlag(values.retries, "retries") };
  const port = await openSerialPort(target.path, settings.line);
  try {
    const bus = new MeterBus(port, settings);
    const reading = await bus.read(target.address, target.di);
    print({ address: reading.address, di: reading.di, value: reading.value, unit: reading.unit });
  } finally {
    await closeSerialPort(port);
  }
}

async function frame(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === "decode") {
    const { positionals } = flags(rest, {});
    if (positionals.length === 0) throw new UsageError("frame decode needs the frame in hex");
    let bytes: Buffer;
    try {
      bytes = fromHex(positionals.join(" "));
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    print(describeFrame(decodeFrame(bytes)));
    return;
  }
  if (sub === "encode-read") {
    const { values } = flags(rest, { address: { type: "string" }, di: { type: "string" } });
    const target = values.address === "AAAAAAAAAAAA" ? "AAAAAAAAAAAA" : address(values.address);
    process.stdout.write(`${toHex(encodeRead(target, di(values.di)))}\n`);
    return;
  }
  throw new UsageError(`frame needs "decode <hex>" or "encode-read --address <12 digits> --di <8 hex>"`);
}

/** The JSON of `frame decode`: the frame's fields and, as applicable, what it says. */
function describeFrame(frame: Frame): Record<string, unknown> {
  const head = {
    address: frame.address,
    control: hexByte(encodeControl(frame.control)),
    direction: frame.control.direction,
    abnormal: frame.control.abnormal,
    followUp: frame.control.followUp,
    function: hexByte(frame.control.function),
  };
  return { ...head, ...describeMessage(interpretFrame(frame)) };
}

function describeMessage(message: Message): Record<string, unknown> {
  switch (message.kind) {
    case "read":
      return { di: message.di, ...(message.params ? describeReadParams(message.di, message.params) : {}) };
    case "read-follow-up":
      return { di: message.di, sequence: message.sequence };
    case "read-address":
      return {};
    case "broadcast-time":
      return { value: `${formatCalendar("date", message.time)}T${formatCalendar("time", message.time)}`, unit: "" };
    case "read-reply": {
      const value = decodeKnownValue(message.di, message.value);
      return { di: message.di, ...value, ...(message.sequence === undefined ? {} : { sequence: message.sequence }) };
    }
    case "read-address-reply":
      return { value: message.address, unit: "" };
    case "abnormal-reply":
      return { error: message.errors, errorWord: hexByte(message.errorWord) };
    case "other":
      return { data: toHex(message.data, "") };
  }
}

/** The parameters of a read: the time and block count of a load record, or their bytes. */
function describeReadParams(id: string, params: Buffer): Record<string, unknown> {
  if (loadRecordClass(id) === undefined) return { params: toHex(params, "") };
  const { blocks, time } = decodeLoadRecordRequest(params);
  return { recordTime: formatCalendar("minute", time), blocks };
}

/** The value of a known identifier, a load record, or the raw data of an unknown identifier. */
function decodeKnownValue(id: string, data: Buffer): Record<string, unknown> {
  const recordClass = loadRecordClass(id);
  if (recordClass !== undefined) {
    const record = decodeLoadRecord(data, recordClass);
    const classes = record.classes.flatMap((block, i) => (block ? [i + 1] : []));
    return { recordTime: formatCalendar("minute", record.time), classes, ...loadRecordEnergy(record) };
  }
  try {
    return { ...decodeValue(id, data) };
  } catch (error) {
    if (error instanceof FrameError && error.reason === "unknown-di") return { data: toHex(data, "") };
    throw error;
  }
}

async function simulate(args: string[]): Promise<void> {
  const { values } = flags(args, { port: { type: "string" }, meters: { type: "string" }, ...LINE_FLAGS });
  const path = required(values.port, "port");
  const file = required(values.meters, "meters");
  let spec: SimulatorOptions & { meters: SimulatedMeter[] };
  try {
    spec = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new UsageError(`cannot read meters file ${file}: ${(error as Error).message}`);
  }
  if (!Array.isArray(spec?.meters) || spec.meters.length === 0) throw new UsageError(`${file} must hold { "meters": [ { "address": "000000000001", ... } ] }`);
  const settings = { ...spec, line: line(values, spec.line) };
  const port = await openSerialPort(path, settings.line);
  const simulator = new MeterSimulator(port, spec.meters, settings);
  const log = createLogger(process.stdout);
  log.info("simulating", { port: path, ...settings.line, meters: spec.meters.map((meter) => meter.address) });
  simulator.on("reply", (meter: string) => log.debug("replied", { meter }));
  await new Promise<void>((resolve) => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => resolve());
    port.once("close", () => resolve());
  });
  simulator.stop();
  await closeSerialPort(port);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`meter-bridge: ${message}\n`);
    process.exit(error instanceof SettingsError ? 2 : 1);
  },
);
