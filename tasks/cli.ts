/**
 * What every task shares on the command line: a user error that Hardhat prints as one line and a
 * non-zero exit (a plugin error, so no stack trace), argument parsers that name what they reject,
 * the translation of known failures (keys, deployment file, units, contract reverts) into such
 * errors, and output as text or JSON.
 */
import { HardhatPluginError } from "hardhat/plugins";

export class CliError extends HardhatPluginError {
  constructor(message: string) {
    super("energy-market", message);
    // Hardhat prints the stack on machines without a display; a usage error has none worth showing.
    // (Hardhat's errors print the `_stack` they captured at construction.)
    (this as unknown as { _stack: string })._stack = "(a usage error: no stack trace)";
  }
}

export function parseIntList(value: string, name: string): number[] {
  const items = value.split(",").map((s) => s.trim());
  if (!items.length || items.some((s) => !/^\d+$/.test(s) || Number(s) <= 0)) {
    throw new CliError(`${name}: expected positive integers separated by commas, got ${JSON.stringify(value)}`);
  }
  return items.map(Number);
}

export function parseNonNegativeInt(value: string | number | undefined, name: string): number {
  const s = String(value ?? "").trim();
  if (!/^\d+$/.test(s)) throw new CliError(`${name}: expected a whole number, got ${JSON.stringify(value)}`);
  return Number(s);
}

/** A custom error of the market, as `Name(arg, …)`, if `e` is a contract revert. */
export async function revertName(e: unknown): Promise<string | undefined> {
  const { decodeRevert } = await import("../lib/market");
  const revert = decodeRevert(e);
  return revert && `${revert.name}(${revert.args.map((a) => String(a)).join(", ")})`;
}

const USER_ERRORS = new Set(["KeyError", "DeploymentMissing", "UnitError", "ScenarioError"]);

/** Run a task body, turning expected failures into one-line CLI errors. */
export async function asCli<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof CliError) throw e;
    const name = (e as Error)?.constructor?.name;
    if (USER_ERRORS.has(name)) throw new CliError((e as Error).message);
    const reverted = await revertName(e);
    if (reverted) throw new CliError(`the market rejected the transaction: ${reverted}`);
    const code = (e as { code?: string }).code;
    if (code === "ECONNREFUSED" || code === "NETWORK_ERROR" || /ECONNREFUSED|could not detect network/.test(String(e))) {
      throw new CliError(`cannot reach the node: ${(e as Error).message.split("\n")[0]}`);
    }
    throw e;
  }
}

/** Print `value` as JSON (with --json) or as text. BigInts print as decimal strings. */
export function output(json: boolean, value: unknown, text: () => string): void {
  console.log(json ? JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2) : text());
}
