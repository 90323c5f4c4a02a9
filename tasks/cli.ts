/**
 * What every task shares on the command line:
 * - `cliAction`: compile the contracts first when their typechain types are missing (a fresh clone),
 *   then run the task; a failure becomes ONE line on stderr and exit code 1 (never a stack trace),
 *   the market's refusals in words (lib/errors.ts), a node that is down named by its URL;
 * - Hardhat's own usage errors (a missing or unknown option, a value of the wrong type) as one line too;
 * - argument parsers in the user's units that name what they reject, and output as text or JSON.
 * Inside another program (the tests run tasks with `hre.run`) a failure is thrown as a CliError.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import type { HardhatRuntimeEnvironment, TaskDefinition } from "hardhat/types";
import { readDeployment } from "../lib/deployment";
import { etherToWei, kWhToWh, weiToEther } from "../lib/units";

/** A failure meant for the user: its message is one line naming what is wrong. */
export class CliError extends Error {}

// ------------------------------------------------------------------ the command line

/** The task the `hardhat` command line runs (set when Hardhat parses its arguments), if any. */
let commandLineTask: string | undefined;
/** Depth of nested cliAction calls: only the outermost prints and exits. */
let depth = 0;

/**
 * Hardhat prints its own usage errors (missing option, unknown option, bad value) in three lines and
 * a stack; this makes them one line and records which task the command line runs. It wraps the
 * parser of the task's arguments, the one step between loading this config and running the task.
 */
export function installCommandLineErrors(): void {
  let parser: { prototype: { parseTaskArguments(def: TaskDefinition, raw: string[]): unknown; __oneLine?: boolean } };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    parser = require("hardhat/internal/cli/ArgumentsParser").ArgumentsParser;
  } catch {
    return; // another Hardhat layout: its usual output stays
  }
  const proto = parser.prototype;
  if (typeof proto.parseTaskArguments !== "function" || proto.__oneLine) return;
  const parse = proto.parseTaskArguments;
  proto.__oneLine = true;
  proto.parseTaskArguments = function (def: TaskDefinition, raw: string[]) {
    commandLineTask = def.name;
    try {
      return parse.call(this, def, raw);
    } catch (e) {
      exitWithOneLine(usageError(e, def));
    }
  };
}

/** Hardhat's argument errors in our words, with the option as typed (`--key-file`). */
function usageError(e: unknown, def: TaskDefinition): string {
  const err = e as { number?: number; messageArguments?: Record<string, string>; message?: string };
  const args = err.messageArguments ?? {};
  const param = (name: string) => name.replace(/^--/, "").replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const flag = (name: string) => `--${param(name).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  switch (err.number) {
    case 306:
      return `${flag(args.param)} is required: ${def.paramDefinitions[param(args.param)]?.description ?? "give a value"} (see \`npx hardhat help ${def.name}\`)`;
    case 305:
      return `${def.name} has no option ${args.param} (see \`npx hardhat help ${def.name}\`)`;
    case 301:
      return `${flag(args.name)}: expected ${args.type === "int" ? "a whole number" : `a ${args.type}`}, got ${JSON.stringify(args.value)}`;
    case 302:
      return `${flag(args.name)}: cannot read the file ${args.value}`;
    default:
      return String(err.message ?? e).replace(/^HH\d+: /, "").split("\n")[0];
  }
}

function exitWithOneLine(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/**
 * A task's action: compile first when the contracts' types are missing, then run `body`. At the
 * command line a failure is one line on stderr and exit code 1 (an unexpected one says how to see its
 * stack); inside another program it is thrown, as a CliError when it is meant for the user.
 */
export function cliAction<A>(body: (args: A, hre: HardhatRuntimeEnvironment) => Promise<unknown>) {
  const action = async (args: A, hre: HardhatRuntimeEnvironment): Promise<void> => {
    // the outermost task run, and the one the command line asked for (not a test's hre.run)
    const entry = depth === 0 && commandLineTask !== undefined && hre.tasks[commandLineTask]?.action === action;
    depth++;
    try {
      await ensureCompiled(hre);
      await body(args, hre);
    } catch (e) {
      const user = toCliError(e, hre);
      if (!entry) throw user ?? e;
      if (user) exitWithOneLine(user.message);
      if (hre.hardhatArguments.showStackTraces) throw e;
      exitWithOneLine(`unexpected error: ${firstLine(e)} (run again with --show-stack-traces to see where)`);
    } finally {
      depth--;
    }
  };
  return action;
}

/** The tasks load the contracts' typechain types, which a fresh clone does not have: compile once. */
export async function ensureCompiled(hre: HardhatRuntimeEnvironment): Promise<void> {
  if (existsSync(path.join(hre.config.paths.root, hre.config.typechain.outDir, "index.ts"))) return;
  process.stderr.write("compiling the contracts (first run)…\n");
  await hre.run("compile", { quiet: true });
}

const firstLine = (e: unknown) => String((e as Error)?.message ?? e).split("\n")[0];

/** Errors of our libraries whose message is already meant for the user. */
const USER_ERRORS = new Set(["KeyError", "DeploymentMissing", "DeploymentMismatch", "UnitError", "ScenarioError"]);

/** A failure in words for the user, or undefined for an unexpected one (a bug). */
export function toCliError(e: unknown, hre: HardhatRuntimeEnvironment): CliError | undefined {
  if (e instanceof CliError) return e;
  const name = (e as Error)?.constructor?.name;
  if (USER_ERRORS.has(name)) return new CliError(firstLine(e));
  const refused = explainRefusal(e, hre);
  if (refused) return new CliError(refused);
  if (isNodeDown(e)) return new CliError(nodeDown(hre));
  const hh = e as { _isHardhatError?: boolean; message?: string };
  if (hh?._isHardhatError) return new CliError(firstLine(e).replace(/^HH\d+: /, ""));
  return undefined;
}

/** The market's refusal in words (with the deployed schedule's local times when there is one). */
function explainRefusal(e: unknown, hre: HardhatRuntimeEnvironment): string | undefined {
  let explainMarketError: typeof import("../lib/errors").explainMarketError;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    explainMarketError = (require("../lib/errors") as typeof import("../lib/errors")).explainMarketError;
  } catch {
    return undefined; // not compiled: no market error can have happened
  }
  let schedule;
  try {
    schedule = readDeployment(hre.network.name).schedule;
  } catch {
    schedule = undefined;
  }
  return explainMarketError(e, { schedule });
}

export function isNodeDown(e: unknown): boolean {
  const err = e as { number?: number; code?: string; message?: string; cause?: unknown; parent?: unknown };
  if (err?.number === 108) return true; // Hardhat: Cannot connect to the network
  if (err?.code === "ECONNREFUSED" || err?.code === "ECONNRESET" || err?.code === "ENOTFOUND") return true;
  return /ECONNREFUSED|ENOTFOUND|could not detect network|fetch failed/.test(String(err?.message ?? ""));
}

/** One line naming the node the network points at. */
export function nodeDown(hre: HardhatRuntimeEnvironment): string {
  const url = "url" in hre.network.config ? hre.network.config.url : undefined;
  const hint = hre.network.name === "localhost" ? "start one (`npx anvil --hardfork london --block-time 1`) or set LOCALHOST_RPC_URL" : "is it running? check the network's URL in .env";
  return `cannot reach the node of network "${hre.network.name}" at ${url ?? "(no URL)"}: ${hint}`;
}

// ------------------------------------------------------------------ arguments

/** A required option's value (options are declared optional so their absence is ours to word). */
export function required<T>(value: T | undefined, flag: string, what: string): T {
  if (value === undefined || value === null || value === "") throw new CliError(`${flag} is required: ${what}`);
  return value;
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

/** An amount of energy in kWh (1 Wh resolution), more than zero; returns Wh. */
export function positiveKWh(value: string | undefined, flag: string): bigint {
  const wh = kWhToWh(required(value, flag, "an amount of energy in kWh, e.g. 0.43"), flag);
  if (wh <= 0n) throw new CliError(`${flag}: expected an amount of energy above 0 kWh, got ${value}`);
  return wh;
}

/** An amount of ether (or ether per kWh), more than zero; returns wei. */
export function positiveEther(value: string | undefined, flag: string, unit = "ether"): bigint {
  const wei = etherToWei(required(value, flag, `an amount in ${unit}`), flag);
  if (wei <= 0n) throw new CliError(`${flag}: expected an amount above 0 ${unit}, got ${value}`);
  return wei;
}

// ------------------------------------------------------------------ output

/** An amount of wei as the user reads it: "0.0005 ether". */
export const ether = (wei: bigint): string => `${weiToEther(wei)} ether`;

/** Print `value` as JSON (with --json) or as text. BigInts print as decimal strings. */
export function output(json: boolean, value: unknown, text: () => string): void {
  console.log(json ? JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2) : text());
}
