/** Display of the market's units, exact where it matters: lib/units does the conversions. */
import { parseDecimal, trimZeros, weiToEther, whToKWh } from "../../lib/units";

const CNY_DECIMALS = 4;
let cnyRate = parseDecimal("626.2", CNY_DECIMALS, "CNY per ether");

export function setCnyPerEther(rate: string) {
  cnyRate = parseDecimal(rate, CNY_DECIMALS, "CNY per ether");
}

/** Ether with at most 9 decimals (rounded toward zero); the exact value is in `title`. */
export function ether(wei: bigint): string {
  const neg = wei < 0n;
  const abs = neg ? -wei : wei;
  const rounded = abs - (abs % 10n ** 9n);
  const text = weiToEther(rounded === 0n && abs > 0n ? abs : rounded);
  return `${neg ? "-" : ""}${text}`;
}

/** CNY at the display rate, 4 decimals. */
export function cny(wei: bigint): string {
  const neg = wei < 0n;
  const abs = neg ? -wei : wei;
  const v = (abs * cnyRate) / 10n ** 18n; // 10^-4 CNY
  const s = v.toString().padStart(CNY_DECIMALS + 1, "0");
  const text = trimZeros(`${s.slice(0, -CNY_DECIMALS)}.${s.slice(-CNY_DECIMALS)}`);
  return `${neg && v > 0n ? "-" : ""}¥${text}`;
}

export const kWh = (wh: bigint) => whToKWh(wh);
export const exactEther = (wei: bigint) => weiToEther(wei);

export function clock(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  return d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function hhmm(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  return d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" });
}

export function duration(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h ? `${h}:${String(m).padStart(2, "0")}:${String(r).padStart(2, "0")}` : `${m}:${String(r).padStart(2, "0")}`;
}

export const short = (address: string) => `${address.slice(0, 6)}…${address.slice(-4)}`;
