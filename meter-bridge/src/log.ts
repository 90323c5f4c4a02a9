/** Structured logs: one JSON object per line. */
import type { Writable } from "node:stream";

export type Level = "debug" | "info" | "warn" | "error";
const LEVELS: readonly Level[] = ["debug", "info", "warn", "error"];

export type Fields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
}

/** A logger writing `{ time, level, msg, ...fields }` lines at `minLevel` and above. */
export function createLogger(out: Writable = process.stdout, minLevel: Level = "info"): Logger {
  if (!LEVELS.includes(minLevel)) throw new TypeError(`log level must be one of ${LEVELS.join(", ")}, got ${minLevel}`);
  const write = (level: Level) => (msg: string, fields: Fields = {}) => {
    if (LEVELS.indexOf(level) < LEVELS.indexOf(minLevel)) return;
    out.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }, jsonValue)}\n`);
  };
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}

/** JSON replacer: bigints as decimal strings, errors as their message. */
export function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return value.message;
  return value;
}
