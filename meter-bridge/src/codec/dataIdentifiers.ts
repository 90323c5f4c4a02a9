/**
 * Data identifiers (DI3 DI2 DI1 DI0, written as 8 hex digits, sent DI0 first) and the
 * formats of their values. Values are exact decimal strings, never floats.
 */
import { bcdToDigits, digitsToBcd, hexByte } from "./bcd";
import { decodeMeterTime, encodeCalendar, formatCalendar } from "./calendar";
import { FrameError } from "./errors";

export interface DataFormat {
  /** what the register holds */
  name: string;
  /** BCD bytes of the value, lowest byte first */
  bytes: number;
  /** digits after the decimal point */
  decimals: number;
  /** the top bit of the highest byte is a sign bit (1 = negative) */
  signed: boolean;
  /** unit of the value; "" for identifiers such as the meter address */
  unit: string;
  /**
   * how the digits read: a decimal number (default); "date" YYMMDDWW as "2024-03-09" (WW, the
   * weekday 0 = Sunday, follows from the date); "time" hhmmss as "14:05:59"; "minute" YYMMDDhhmm
   * as "2024-03-09T14:05". Calendar values are the meter's local time.
   */
  kind?: "decimal" | "date" | "time" | "minute";
}

export const DI = {
  COMBINED_ACTIVE_ENERGY: "00000000",
  FORWARD_ACTIVE_ENERGY: "00010000",
  REVERSE_ACTIVE_ENERGY: "00020000",
  VOLTAGE_A: "02010100",
  VOLTAGE_B: "02010200",
  VOLTAGE_C: "02010300",
  CURRENT_A: "02020100",
  CURRENT_B: "02020200",
  CURRENT_C: "02020300",
  TOTAL_ACTIVE_POWER: "02030000",
  ACTIVE_POWER_A: "02030100",
  ACTIVE_POWER_B: "02030200",
  ACTIVE_POWER_C: "02030300",
  POWER_FACTOR: "02060000",
  POWER_FACTOR_A: "02060100",
  POWER_FACTOR_B: "02060200",
  POWER_FACTOR_C: "02060300",
  FREQUENCY: "02800002",
  DATE: "04000101",
  TIME: "04000102",
  METER_ADDRESS: "04000401",
  METER_NUMBER: "04000402",
  /** class 4 load record (forward/reverse active, combined reactive 1/2 totals) at a given time; read with parameters */
  LOAD_RECORD_CLASS4_AT: "06040001",
  /** the load record of all six classes at a given time; read with parameters */
  LOAD_RECORD_AT: "06000001",
} as const;

/** What an hourly freeze (整点冻结, DI 05 04 xx NN) holds; NN = 01..FE is the n-th newest freeze. */
export type HourlyFreezeItem = "time" | "forward" | "reverse";
const HOURLY_FREEZE_ITEM: Record<HourlyFreezeItem, string> = { time: "00", forward: "01", reverse: "02" };
/** Hourly freezes a meter keeps at most (DI0 01..FE). */
export const HOURLY_FREEZE_DEPTH = 254;

/** The identifier of item `item` of the `n`-th newest hourly freeze (n = 1..254). */
export function hourlyFreezeDi(item: HourlyFreezeItem, n: number): string {
  if (!Number.isInteger(n) || n < 1 || n > HOURLY_FREEZE_DEPTH) throw new TypeError(`an hourly freeze is numbered 1..${HOURLY_FREEZE_DEPTH} (newest first), got ${n}`);
  return `0504${HOURLY_FREEZE_ITEM[item]}${hexByte(n)}`;
}

const energy = (name: string, signed: boolean): DataFormat => ({ name, bytes: 4, decimals: 2, signed, unit: "kWh" });
const voltage = (phase: string): DataFormat => ({ name: `phase ${phase} voltage`, bytes: 2, decimals: 1, signed: false, unit: "V" });
const current = (phase: string): DataFormat => ({ name: `phase ${phase} current`, bytes: 3, decimals: 3, signed: true, unit: "A" });
const power = (name: string): DataFormat => ({ name, bytes: 3, decimals: 4, signed: true, unit: "kW" });
const powerFactor = (name: string): DataFormat => ({ name, bytes: 2, decimals: 3, signed: true, unit: "" });
const number = (name: string): DataFormat => ({ name, bytes: 6, decimals: 0, signed: false, unit: "" });
const calendar = (name: string, kind: "date" | "time" | "minute"): DataFormat => ({ name, bytes: kind === "minute" ? 5 : kind === "date" ? 4 : 3, decimals: 0, signed: false, unit: "", kind });

/** Formats of the identifiers this bridge understands (DL/T 645-2007 appendix A). */
export const DATA_FORMATS: Readonly<Record<string, DataFormat>> = {
  [DI.COMBINED_ACTIVE_ENERGY]: energy("combined active energy, total", true),
  [DI.FORWARD_ACTIVE_ENERGY]: energy("forward active energy, total", false),
  [DI.REVERSE_ACTIVE_ENERGY]: energy("reverse active energy, total", false),
  [DI.VOLTAGE_A]: voltage("A"),
  [DI.VOLTAGE_B]: voltage("B"),
  [DI.VOLTAGE_C]: voltage("C"),
  [DI.CURRENT_A]: current("A"),
  [DI.CURRENT_B]: current("B"),
  [DI.CURRENT_C]: current("C"),
  [DI.TOTAL_ACTIVE_POWER]: power("total active power"),
  [DI.ACTIVE_POWER_A]: power("phase A active power"),
  [DI.ACTIVE_POWER_B]: power("phase B active power"),
  [DI.ACTIVE_POWER_C]: power("phase C active power"),
  [DI.POWER_FACTOR]: powerFactor("total power factor"),
  [DI.POWER_FACTOR_A]: powerFactor("phase A power factor"),
  [DI.POWER_FACTOR_B]: powerFactor("phase B power factor"),
  [DI.POWER_FACTOR_C]: powerFactor("phase C power factor"),
  [DI.FREQUENCY]: { name: "grid frequency", bytes: 2, decimals: 2, signed: false, unit: "Hz" },
  [DI.DATE]: calendar("date and weekday", "date"),
  [DI.TIME]: calendar("time", "time"),
  [DI.METER_ADDRESS]: number("meter address"),
  [DI.METER_NUMBER]: number("meter number"),
};

/** Formats of the hourly freeze series, by the first six hex digits of the identifier. */
const HOURLY_FREEZE_FORMATS: Readonly<Partial<Record<string, (n: number) => DataFormat>>> = {
  "050400": (n) => calendar(`hourly freeze ${n} (newest first): time`, "minute"),
  "050401": (n) => energy(`hourly freeze ${n} (newest first): forward active energy, total`, false),
  "050402": (n) => energy(`hourly freeze ${n} (newest first): reverse active energy, total`, false),
};

/** Checks an identifier written as 8 hex digits and returns it upper-case. */
export function normalizeDi(di: string): string {
  if (!/^[0-9a-fA-F]{8}$/.test(di)) throw new TypeError(`a data identifier is 8 hex digits, got "${di}"`);
  return di.toUpperCase();
}

/** The 4 identifier bytes as sent, DI0 first. */
export function encodeDi(di: string): Buffer {
  return Buffer.from(normalizeDi(di), "hex").reverse();
}

/** The identifier of 4 bytes sent DI0 first. */
export function decodeDi(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 4), hexByte).reverse().join("");
}

/**
 * The format of an identifier's value.
 * @throws FrameError("unknown-di") for an identifier with no known format
 */
export function formatOf(di: string): DataFormat {
  const id = normalizeDi(di);
  const format = DATA_FORMATS[id] ?? hourlyFreezeFormat(id);
  if (format === undefined) throw new FrameError("unknown-di", `no format known for data identifier ${id}`);
  return format;
}

/** Whether values of the identifier can be decoded (its format is known). */
export function isKnownDi(di: string): boolean {
  const id = normalizeDi(di);
  return DATA_FORMATS[id] !== undefined || hourlyFreezeFormat(id) !== undefined;
}

function hourlyFreezeFormat(id: string): DataFormat | undefined {
  const n = parseInt(id.slice(6), 16);
  const series = HOURLY_FREEZE_FORMATS[id.slice(0, 6)];
  return series !== undefined && n >= 1 && n <= HOURLY_FREEZE_DEPTH ? series(n) : undefined;
}

export interface Value {
  /** exact decimal string, e.g. "123456.78", "-1.250"; 12 digits for addresses */
  value: string;
  unit: string;
}

/**
 * The value of a register from its plain data bytes (the +0x33 already removed).
 * @throws FrameError for an unknown identifier, a wrong length or a non-BCD digit
 */
export function decodeValue(di: string, data: Uint8Array): Value {
  const format = formatOf(di);
  if (data.length !== format.bytes) {
    throw new FrameError("bad-data-length", `${normalizeDi(di)} (${format.name}) has ${format.bytes} data bytes, got ${data.length}`);
  }
  if (format.kind !== undefined && format.kind !== "decimal") return { value: formatCalendar(format.kind, decodeMeterTime(format.kind, data)), unit: "" };
  const top = data[data.length - 1];
  const negative = format.signed && (top & 0x80) !== 0;
  const magnitude = Buffer.from(data);
  if (format.signed) magnitude[magnitude.length - 1] = top & 0x7f;
  const digits = bcdToDigits(magnitude);
  if (format.decimals === 0 && format.unit === "") return { value: digits, unit: "" };
  return { value: formatDecimal(digits, format.decimals, negative), unit: format.unit };
}

/**
 * The plain data bytes of a register value given as an exact decimal string (or, for a
 * calendar identifier, as the text `decodeValue` gives).
 * @throws TypeError when the value has too many digits or decimals for the format
 */
export function encodeValue(di: string, value: string): Buffer {
  const format = formatOf(di);
  if (format.kind !== undefined && format.kind !== "decimal") return encodeCalendar(format.kind, value);
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(value);
  if (match === null) throw new TypeError(`not a decimal number: "${value}"`);
  const [, sign, integer, fraction = ""] = match;
  if (fraction.length > format.decimals) {
    throw new TypeError(`${normalizeDi(di)} has ${format.decimals} decimals, got "${value}"`);
  }
  if (sign === "-" && !format.signed) throw new TypeError(`${normalizeDi(di)} is unsigned, got "${value}"`);
  const digits = (integer + fraction.padEnd(format.decimals, "0")).replace(/^0+(?=\d)/, "").padStart(2 * format.bytes, "0");
  const bytes = digits.length === 2 * format.bytes ? digitsToBcd(digits) : undefined;
  if (bytes === undefined || (format.signed && bytes[bytes.length - 1] & 0x80)) {
    throw new TypeError(`"${value}" does not fit the ${format.bytes}-byte format of ${normalizeDi(di)}`);
  }
  if (sign === "-" && /[1-9]/.test(digits)) bytes[bytes.length - 1] |= 0x80;
  return bytes;
}

/** "00012345", 2 decimals -> "123.45" (leading zeros removed, one kept before the point). */
function formatDecimal(digits: string, decimals: number, negative: boolean): string {
  const integer = digits.slice(0, digits.length - decimals).replace(/^0+(?=\d)/, "");
  const fraction = digits.slice(digits.length - decimals);
  const text = decimals > 0 ? `${integer}.${fraction}` : integer;
  return negative && /[1-9]/.test(digits) ? `-${text}` : text;
}

/**
 * Exact watt-hours of an energy value in kWh ("123456.78" -> 123456780n).
 * @throws TypeError for a negative value or a fraction finer than 1 Wh
 */
export function kWhToWh(kWh: string): bigint {
  const match = /^(\d+)(?:\.(\d{1,3}))?$/.exec(kWh);
  if (match === null) throw new TypeError(`not a non-negative kWh value with at most 3 decimals: "${kWh}"`);
  return BigInt(match[1] + (match[2] ?? "").padEnd(3, "0"));
}

/** The kWh decimal string (2 decimals, the register resolution) of a whole number of 10 Wh. */
export function whToKWh(wh: bigint): string {
  if (wh < 0n || wh % 10n !== 0n) throw new TypeError(`energy registers hold whole multiples of 10 Wh, got ${wh}`);
  const centi = (wh / 10n).toString().padStart(3, "0");
  return `${centi.slice(0, -2)}.${centi.slice(-2)}`;
}
