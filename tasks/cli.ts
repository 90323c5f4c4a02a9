/**
 * What every task shares on the command line: a user error that Hardhat prints as one line and a
 * non-zero exit (a plugin error, so no stack trace), and argument parsers that name what they reject.
 */
import { HardhatPluginError } from "hardhat/plugins";

export class CliError extends HardhatPluginError {
  constructor(message: string) {
    super("energy-market", message);
  }
}

export function parseIntList(value: string, name: string): number[] {
  const items = value.split(",").map((s) => s.trim());
  if (!items.length || items.some((s) => !/^\d+$/.test(s) || Number(s) <= 0)) {
    throw new CliError(`${name}: expected positive integers separated by commas, got ${JSON.stringify(value)}`);
  }
  return items.map(Number);
}
