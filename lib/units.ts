/**
 * Units of the market: energy in Wh (1 Wh resolution), prices in wei per kWh, money in wei,
 * ratios in parts per million. Decimal strings in and out, never floating point.
 */
import { formatEther, parseEther, parseUnits, formatUnits } from "ethers";

export const PPM = 1_000_000n;

/** Parse a decimal string with at most `decimals` fractional digits into an integer of that scale. */
export function parseDecimal(value: string, decimals: number, what: string): bigint {
  if (typeof value !== "string" || !/^-?\d+(\.\d+)?$/.test(value.trim())) {
    throw new UnitError(`${what}: expected a decimal string, got ${JSON.stringify(value)}`);
  }
  const [, frac = ""] = value.trim().split(".");
  if (frac.length > decimals) {
    throw new UnitError(`${what}: at most ${decimals} decimals allowed, got ${JSON.stringify(value)}`);
  }
  return parseUnits(value.trim(), decimals);
}

/** kWh decimal string -> Wh. */
export const kWhToWh = (kWh: string, what = "energy (kWh)"): bigint => parseDecimal(kWh, 3, what);
/** Wh -> kWh decimal string. */
export const whToKWh = (wh: bigint): string => trimZeros(formatUnits(wh, 3));
/** Ether decimal string -> wei. */
export const etherToWei = (ether: string, what = "amount (ether)"): bigint => parseDecimal(ether, 18, what);
/** Wei -> ether decimal string. */
export const weiToEther = (wei: bigint): string => trimZeros(formatEther(wei));
/** Ratio decimal string ("1.1") -> parts per million. */
export const ratioToPpm = (ratio: string, what = "ratio"): bigint => parseDecimal(ratio, 6, what);

export function trimZeros(s: string): string {
  return s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s;
}

export { parseEther };

export class UnitError extends Error {}
