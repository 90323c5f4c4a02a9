import { FrameError } from "./errors";

/** Two-digit upper-case hex of a byte. */
export function hexByte(byte: number): string {
  return byte.toString(16).toUpperCase().padStart(2, "0");
}

/** Upper-case hex of bytes, separated by `separator`. */
export function toHex(bytes: Uint8Array, separator = " "): string {
  return Array.from(bytes, hexByte).join(separator);
}

/** Parses hex with optional spaces, colons or a 0x prefix; TypeError saying what is wrong otherwise. */
export function fromHex(text: string): Buffer {
  const compact = text.replace(/^0x/i, "").replace(/[\s:]/g, "");
  const bad = /[^0-9a-fA-F]/.exec(compact);
  if (bad) throw new TypeError(`"${text}" is not hex: "${bad[0]}" is not a hex digit (write bytes as pairs of hex digits, e.g. 68 12 90)`);
  if (compact.length % 2 !== 0) throw new TypeError(`"${text}" has an odd number of hex digits (${compact.length}): each byte is two digits, e.g. 68 01`);
  return Buffer.from(compact, "hex");
}

/**
 * Digits of BCD bytes that are sent lowest byte first, highest digit first in the result.
 * @throws FrameError("bad-bcd") when a nibble is above 9
 */
export function bcdToDigits(bytes: Uint8Array): string {
  let digits = "";
  for (let i = bytes.length - 1; i >= 0; i--) {
    const high = bytes[i] >> 4;
    const low = bytes[i] & 0x0f;
    if (high > 9 || low > 9) throw new FrameError("bad-bcd", `byte ${hexByte(bytes[i])} is not BCD`);
    digits += `${high}${low}`;
  }
  return digits;
}

/** BCD bytes, lowest byte first, of a string of an even number of decimal digits. */
export function digitsToBcd(digits: string): Buffer {
  if (!/^(\d\d)*$/.test(digits)) throw new TypeError(`not an even number of decimal digits: "${digits}"`);
  const bytes = Buffer.alloc(digits.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    const pair = digits.slice(digits.length - 2 * (i + 1), digits.length - 2 * i);
    bytes[i] = (Number(pair[0]) << 4) | Number(pair[1]);
  }
  return bytes;
}
