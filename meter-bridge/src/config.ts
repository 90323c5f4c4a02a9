/** The daemon's configuration file (JSON), checked field by field with messages in the user's terms. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { getAddress } from "ethers";
import { BusOptions } from "./bus";
import { IntervalClock, checkClock } from "./clock";
import { isMeterAddress } from "./codec";
import { KeySpec, keySpec } from "./keys";
import { LineOptions, Parity } from "./line";
import { Level } from "./log";
import { TimeSyncSettings, timeSyncSettings } from "./meterClock";
import { PosterOptions } from "./poster";
import { SettingsError } from "./settings";

export interface MeterConfig {
  address: string;
  key: KeySpec;
}

export interface PortConfig {
  path: string;
  line: LineOptions;
  bus: Omit<BusOptions, "line" | "now" | "probeDeadBy">;
  meters: MeterConfig[];
}

export interface BridgeConfig {
  /** directory of the config file; relative paths in it are resolved against it */
  baseDir: string;
  /** JSON-RPC URLs of the nodes, in order of preference */
  rpcUrls: string[];
  /** how long one JSON-RPC request may take before the next node is tried, ms */
  rpcTimeoutMs: number;
  chainId: number;
  market: string;
  journal: string;
  /** settled readings kept in the journal per meter, in intervals */
  journalHistoryIntervals: number;
  /** the interval clock, if known without the chain (it is checked against the chain) */
  schedule?: IntervalClock;
  /** read registers at most this long after a boundary (e.g. after a restart), s */
  maxReadDelaySeconds?: number;
  /** stop at start when a port cannot be opened, instead of waiting for it */
  requirePorts: boolean;
  timeSync: TimeSyncSettings;
  logLevel: Level;
  poster: PosterOptions;
  /** the gateway's own account, which sends the batches of signed readings and pays their gas; absent: each meter posts its own readings */
  relayerKey?: KeySpec;
  ports: PortConfig[];
}

class ConfigError extends SettingsError {
  constructor(where: string, what: string) {
    super(`config: ${where} ${what}`);
  }
}

/** Reads and checks a config file; `env.METER_BRIDGE_RPC_URL` (one URL, or several separated by commas) overrides `rpcUrl`/`rpcUrls`. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): BridgeConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new SettingsError(`cannot read config ${file}: ${(error as Error).message}`);
  }
  return parseConfig(raw, path.dirname(path.resolve(file)), env);
}

export function parseConfig(raw: unknown, baseDir: string, env: NodeJS.ProcessEnv = {}): BridgeConfig {
  const root = object(raw, "the file");
  known(root, "the file", ["rpcUrl", "rpcUrls", "rpcTimeoutMs", "chainId", "market", "journal", "journalHistoryIntervals", "schedule", "maxReadDelaySeconds", "requirePorts", "timeSync", "logLevel", "poster", "relayerKey", "ports"]);
  const ports = array(root.ports, "ports").map((port, i) => portConfig(port, `ports[${i}]`));
  const addresses = ports.flatMap((port) => port.meters.map((meter) => meter.address));
  const duplicate = addresses.find((address, i) => addresses.indexOf(address) !== i);
  if (duplicate) throw new ConfigError("ports", `list meter ${duplicate} twice`);
  return {
    baseDir,
    rpcUrls: rpcUrls(root, env),
    rpcTimeoutMs: optional(root.rpcTimeoutMs, (value) => integer(value, "rpcTimeoutMs", 100, 600_000, "milliseconds")) ?? 10_000,
    chainId: integer(root.chainId, "chainId", 1, Number.MAX_SAFE_INTEGER, "the chain's id"),
    market: ethAddress(root.market, "market"),
    journal: path.resolve(baseDir, string(root.journal, "journal")),
    journalHistoryIntervals: optional(root.journalHistoryIntervals, (value) => integer(value, "journalHistoryIntervals", 0, 100_000, "intervals")) ?? 16,
    schedule: root.schedule === undefined ? undefined : clock(root.schedule),
    maxReadDelaySeconds: optional(root.maxReadDelaySeconds, (value) => integer(value, "maxReadDelaySeconds", 1, 60, "seconds")),
    requirePorts: optional(root.requirePorts, (value) => boolean(value, "requirePorts")) ?? false,
    timeSync: timeSync(root.timeSync),
    logLevel: root.logLevel === undefined ? "info" : oneOf(root.logLevel, "logLevel", ["debug", "info", "warn", "error"] as const),
    poster: posterConfig(root.poster === undefined ? {} : object(root.poster, "poster")),
    relayerKey: optional(root.relayerKey, (value) => key(value, "relayerKey")),
    ports,
  };
}

function rpcUrls(root: Record<string, unknown>, env: NodeJS.ProcessEnv): string[] {
  if (env.METER_BRIDGE_RPC_URL) return env.METER_BRIDGE_RPC_URL.split(",").map((url, i) => rpcUrl(url.trim(), `METER_BRIDGE_RPC_URL (URL ${i + 1})`, "environment variable"));
  if (root.rpcUrl !== undefined && root.rpcUrls !== undefined) throw new ConfigError("rpcUrl", 'and "rpcUrls" are both set: give one URL as "rpcUrl" or several as "rpcUrls"');
  if (root.rpcUrls !== undefined) return array(root.rpcUrls, "rpcUrls").map((url, i) => rpcUrl(url, `rpcUrls[${i}]`));
  return [rpcUrl(root.rpcUrl, "rpcUrl")];
}

function rpcUrl(value: unknown, where: string, kind: "config" | "environment variable" = "config"): string {
  if (typeof value === "string" && /^https?:\/\/[^\s/]+/.test(value)) return value;
  const what = `must be the node's http:// or https:// JSON-RPC URL, e.g. "http://127.0.0.1:8545", got ${JSON.stringify(value)}`;
  throw kind === "config" ? new ConfigError(where, what) : new SettingsError(`${where} ${what}`);
}

function portConfig(raw: unknown, where: string): PortConfig {
  const port = object(raw, where);
  known(port, where, ["path", "baudRate", "parity", "dataBits", "stopBits", "responseTimeoutMs", "interByteTimeoutMs", "retries", "noiseRetries", "deadRetryMs", "meters"]);
  const line: LineOptions = {
    baudRate: optional(port.baudRate, (value) => integer(value, `${where}.baudRate`, 300, 115_200, "bits per second, e.g. 2400 or 9600")) ?? 2400,
    parity: optional(port.parity, (value) => oneOf(value, `${where}.parity`, ["even", "odd", "none"] as Parity[])) ?? "even",
    dataBits: (optional(port.dataBits, (value) => oneOf(value, `${where}.dataBits`, [7, 8])) ?? 8) as 7 | 8,
    stopBits: (optional(port.stopBits, (value) => oneOf(value, `${where}.stopBits`, [1, 2])) ?? 1) as 1 | 2,
  };
  const ms = (name: string) => optional(port[name], (value) => integer(value, `${where}.${name}`, 0, 3_600_000, "milliseconds"));
  const count = (name: string) => optional(port[name], (value) => integer(value, `${where}.${name}`, 0, 20, "attempts"));
  return {
    path: string(port.path, `${where}.path`),
    line,
    bus: { responseTimeoutMs: ms("responseTimeoutMs"), interByteTimeoutMs: ms("interByteTimeoutMs"), retries: count("retries"), noiseRetries: count("noiseRetries"), deadRetryMs: ms("deadRetryMs") },
    meters: array(port.meters, `${where}.meters`).map((meter, i) => meterConfig(meter, `${where}.meters[${i}]`)),
  };
}

function meterConfig(raw: unknown, where: string): MeterConfig {
  const meter = object(raw, where);
  const address = string(meter.address, `${where}.address`);
  if (!isMeterAddress(address) || BigInt(address) === 0n) throw new ConfigError(`${where}.address`, `must be the meter's 12-digit address (its number on the market), not all zero, got "${address}"`);
  return { address, key: key(meter.key, `${where}.key`) };
}

function key(value: unknown, where: string): KeySpec {
  try {
    return keySpec(value);
  } catch (error) {
    throw new ConfigError(where, (error as Error).message);
  }
}

function posterConfig(raw: Record<string, unknown>): PosterOptions {
  const names = ["confirmations", "pollMs", "retryMaxMs", "rebroadcastMs", "replaceAfterMs", "watchBlocks"] as const;
  known(raw, "poster", names);
  return Object.fromEntries(names.filter((name) => raw[name] !== undefined).map((name) => [name, integer(raw[name], `poster.${name}`, name === "confirmations" ? 1 : 0, Number.MAX_SAFE_INTEGER, name === "confirmations" || name === "watchBlocks" ? "blocks" : "milliseconds")]));
}

function timeSync(raw: unknown): TimeSyncSettings {
  const value = raw === undefined ? {} : object(raw, "timeSync");
  known(value, "timeSync", ["enabled", "dailyAt", "warnSeconds"]);
  try {
    return timeSyncSettings(value);
  } catch (error) {
    throw new ConfigError("timeSync:", (error as Error).message);
  }
}

function clock(raw: unknown): IntervalClock {
  const value = object(raw, "schedule");
  try {
    return checkClock({ startTime: value.startTime as number, intervalSeconds: value.intervalSeconds as number });
  } catch (error) {
    throw new ConfigError("schedule:", (error as Error).message);
  }
}

function object(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ConfigError(where, "must be an object { ... }");
  return value as Record<string, unknown>;
}

/** A misspelt field would otherwise be ignored silently and its default used. */
function known(value: Record<string, unknown>, where: string, names: readonly string[]): void {
  const unknown = Object.keys(value).find((key) => !names.includes(key));
  if (unknown !== undefined) throw new ConfigError(where, `has an unknown field "${unknown}" (known: ${names.join(", ")})`);
}

function array(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value) || value.length === 0) throw new ConfigError(where, "must be a non-empty list [ ... ]");
  return value;
}

function string(value: unknown, where: string): string {
  if (typeof value !== "string" || value === "") throw new ConfigError(where, "must be a non-empty string");
  return value;
}

function boolean(value: unknown, where: string): boolean {
  if (typeof value !== "boolean") throw new ConfigError(where, `must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

/** A whole number in min..max; `unit` says what it counts. A number written as a string is named as such. */
function integer(value: unknown, where: string, min: number, max: number, unit: string): number {
  const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `${min}..${max}`;
  if (typeof value === "string") throw new ConfigError(where, `must be a number (${unit}, ${range}), not the string ${JSON.stringify(value)}: write it without quotes`);
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) throw new ConfigError(where, `must be a whole number ${range} (${unit}), got ${JSON.stringify(value)}`);
  return value as number;
}

function oneOf<T extends string | number>(value: unknown, where: string, options: readonly T[]): T {
  if (!options.includes(value as T)) throw new ConfigError(where, `must be one of ${options.map((option) => JSON.stringify(option)).join(", ")}, got ${JSON.stringify(value)}`);
  return value as T;
}

function ethAddress(value: unknown, where: string): string {
  try {
    return getAddress(string(value, where));
  } catch {
    throw new ConfigError(where, `must be the market contract's 0x address (40 hex digits), got ${JSON.stringify(value)}`);
  }
}

function optional<T>(value: unknown, check: (value: unknown) => T): T | undefined {
  return value === undefined ? undefined : check(value);
}
