/** The daemon's configuration file (JSON), checked field by field with clear messages. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { getAddress } from "ethers";
import { BusOptions } from "./bus";
import { IntervalClock, checkClock } from "./clock";
import { isMeterAddress } from "./codec";
import { KeySpec, keySpec } from "./keys";
import { LineOptions, lineOptions } from "./line";
import { Level } from "./log";
import { PosterOptions } from "./poster";

export interface MeterConfig {
  address: string;
  key: KeySpec;
}

export interface PortConfig {
  path: string;
  line: LineOptions;
  bus: Omit<BusOptions, "line" | "now">;
  meters: MeterConfig[];
}

export interface BridgeConfig {
  /** directory of the config file; relative paths in it are resolved against it */
  baseDir: string;
  rpcUrl: string;
  chainId: number;
  market: string;
  journal: string;
  /** the interval clock, if known without the chain (it is checked against the chain) */
  schedule?: IntervalClock;
  /** read registers at most this long after a boundary (e.g. after a restart), s */
  maxReadDelaySeconds?: number;
  logLevel: Level;
  poster: PosterOptions;
  ports: PortConfig[];
}

class ConfigError extends TypeError {
  constructor(where: string, what: string) {
    super(`config: ${where} ${what}`);
  }
}

/** Reads and checks a config file; `env.METER_BRIDGE_RPC_URL` overrides `rpcUrl`. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): BridgeConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new TypeError(`cannot read config ${file}: ${(error as Error).message}`);
  }
  return parseConfig(raw, path.dirname(path.resolve(file)), env);
}

export function parseConfig(raw: unknown, baseDir: string, env: NodeJS.ProcessEnv = {}): BridgeConfig {
  const root = object(raw, "the file");
  const rpcUrl = env.METER_BRIDGE_RPC_URL ?? string(root.rpcUrl, "rpcUrl");
  const ports = array(root.ports, "ports").map((port, i) => portConfig(port, `ports[${i}]`));
  const addresses = ports.flatMap((port) => port.meters.map((meter) => meter.address));
  const duplicate = addresses.find((address, i) => addresses.indexOf(address) !== i);
  if (duplicate) throw new ConfigError("ports", `list meter ${duplicate} twice`);
  return {
    baseDir,
    rpcUrl,
    chainId: integer(root.chainId, "chainId", 1),
    market: ethAddress(root.market, "market"),
    journal: path.resolve(baseDir, string(root.journal, "journal")),
    schedule: root.schedule === undefined ? undefined : clock(root.schedule),
    maxReadDelaySeconds: optional(root.maxReadDelaySeconds, (value) => integer(value, "maxReadDelaySeconds", 0)),
    logLevel: root.logLevel === undefined ? "info" : oneOf(root.logLevel, "logLevel", ["debug", "info", "warn", "error"] as const),
    poster: posterConfig(root.poster === undefined ? {} : object(root.poster, "poster")),
    ports,
  };
}

function portConfig(raw: unknown, where: string): PortConfig {
  const port = object(raw, where);
  let line: LineOptions;
  try {
    line = lineOptions({ baudRate: port.baudRate as number, parity: port.parity as LineOptions["parity"], dataBits: port.dataBits as 8, stopBits: port.stopBits as 1 });
  } catch (error) {
    throw new ConfigError(where, (error as Error).message);
  }
  const ms = (name: string) => optional(port[name], (value) => integer(value, `${where}.${name}`, 0));
  return {
    path: string(port.path, `${where}.path`),
    line,
    bus: { responseTimeoutMs: ms("responseTimeoutMs"), interByteTimeoutMs: ms("interByteTimeoutMs"), retries: ms("retries"), deadRetryMs: ms("deadRetryMs") },
    meters: array(port.meters, `${where}.meters`).map((meter, i) => meterConfig(meter, `${where}.meters[${i}]`)),
  };
}

function meterConfig(raw: unknown, where: string): MeterConfig {
  const meter = object(raw, where);
  const address = string(meter.address, `${where}.address`);
  if (!isMeterAddress(address) || BigInt(address) === 0n) throw new ConfigError(`${where}.address`, `must be 12 decimal digits, not all zero, got "${address}"`);
  return { address, key: keySpec(meter.key, `config: ${where}.key`) };
}

function posterConfig(raw: Record<string, unknown>): PosterOptions {
  const names = ["confirmations", "pollMs", "retryMaxMs", "rebroadcastMs", "replaceAfterMs"] as const;
  return Object.fromEntries(names.filter((name) => raw[name] !== undefined).map((name) => [name, integer(raw[name], `poster.${name}`, 0)]));
}

function clock(raw: unknown): IntervalClock {
  const value = object(raw, "schedule");
  try {
    return checkClock({ startTime: value.startTime as number, intervalSeconds: value.intervalSeconds as number });
  } catch (error) {
    throw new ConfigError("schedule", (error as Error).message);
  }
}

function object(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ConfigError(where, "must be an object");
  return value as Record<string, unknown>;
}

function array(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value) || value.length === 0) throw new ConfigError(where, "must be a non-empty list");
  return value;
}

function string(value: unknown, where: string): string {
  if (typeof value !== "string" || value === "") throw new ConfigError(where, "must be a non-empty string");
  return value;
}

function integer(value: unknown, where: string, min: number): number {
  if (!Number.isSafeInteger(value) || (value as number) < min) throw new ConfigError(where, `must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return value as number;
}

function oneOf<T extends string>(value: unknown, where: string, options: readonly T[]): T {
  if (!options.includes(value as T)) throw new ConfigError(where, `must be one of ${options.join(", ")}`);
  return value as T;
}

function ethAddress(value: unknown, where: string): string {
  try {
    return getAddress(string(value, where));
  } catch {
    throw new ConfigError(where, `must be a 0x contract address, got ${JSON.stringify(value)}`);
  }
}

function optional<T>(value: unknown, check: (value: unknown) => T): T | undefined {
  return value === undefined ? undefined : check(value);
}
