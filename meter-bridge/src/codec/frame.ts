/**
 * DL/T 645-2007 link layer: the frame
 *   FE.. 68 A0..A5 68 C L D0..D(L-1) CS 16
 * with a 6-byte address sent lowest byte first, a control byte, +0x33 on every data byte
 * and a checksum = sum mod 256 from the first 68 through the last data byte.
 * Pure functions; the stream parser (../parser) uses `scanFrame` to find frames.
 */
import { hexByte, toHex } from "./bcd";
import { FrameError } from "./errors";

export const START = 0x68;
export const END = 0x16;
export const WAKE_UP = 0xfe;
/** Bytes before the data field: 68, 6 address bytes, 68, control, length. */
export const HEADER_LENGTH = 10;
/** The data field of a frame is at most this long (one length byte). */
export const MAX_DATA_LENGTH = 255;
/** The longest frame, without preamble. */
export const MAX_FRAME_LENGTH = HEADER_LENGTH + MAX_DATA_LENGTH + 2;
/** The offset every data byte carries on the line. */
export const DATA_OFFSET = 0x33;

/** Address that every meter matches in a read-address request. */
export const WILDCARD_ADDRESS = "AAAAAAAAAAAA";
/** Address of broadcast commands (time sync); meters never reply to it. */
export const BROADCAST_ADDRESS = "999999999999";

/** The control byte: D7 direction, D6 abnormal reply, D5 follow-up frames, D4..D0 function. */
export interface Control {
  /** who sent the frame: the master (request) or a meter (reply) */
  direction: "master" | "meter";
  /** the meter could not execute the request; the data field is an error word */
  abnormal: boolean;
  /** more data follows in follow-up frames */
  followUp: boolean;
  /** function code, 0x00..0x1F (0x11 read, 0x12 read follow-up, 0x13 read address, 0x08 broadcast time) */
  function: number;
}

/** A frame with its data field as plain bytes (the +0x33 removed). */
export interface Frame {
  /** 12 characters, highest digit first; BCD digits, or A for a wildcard digit */
  address: string;
  control: Control;
  data: Buffer;
}

export function encodeControl(control: Control): number {
  if (!Number.isInteger(control.function) || control.function < 0 || control.function > 0x1f) {
    throw new TypeError(`function code must be 0x00..0x1F, got ${control.function}`);
  }
  return (
    (control.direction === "meter" ? 0x80 : 0) |
    (control.abnormal ? 0x40 : 0) |
    (control.followUp ? 0x20 : 0) |
    control.function
  );
}

export function decodeControl(byte: number): Control {
  return {
    direction: byte & 0x80 ? "meter" : "master",
    abnormal: (byte & 0x40) !== 0,
    followUp: (byte & 0x20) !== 0,
    function: byte & 0x1f,
  };
}

/** The 6 address bytes, lowest first, of a 12-character address (digits, A for wildcard). */
export function encodeAddress(address: string): Buffer {
  if (!/^[0-9Aa]{12}$/.test(address)) {
    throw new TypeError(`a meter address is 12 decimal digits (A for a wildcard digit), got "${address}"`);
  }
  return Buffer.from(address, "hex").reverse();
}

/** The 12-character address of 6 address bytes sent lowest first. */
export function decodeAddress(bytes: Uint8Array): string {
  return toHex(Buffer.from(bytes).reverse(), "");
}

/** Sum mod 256 of `bytes[from..to)`. */
export function checksum(bytes: Uint8Array, from = 0, to = bytes.length): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum = (sum + bytes[i]) & 0xff;
  return sum;
}

/** Adds (direction "encode") or removes the 0x33 offset of line data. */
export function offsetData(data: Uint8Array, direction: "encode" | "decode"): Buffer {
  const delta = direction === "encode" ? DATA_OFFSET : 0x100 - DATA_OFFSET;
  return Buffer.from(Array.from(data, (byte) => (byte + delta) & 0xff));
}

export interface EncodeOptions {
  /** number of FE wake-up bytes before the frame (0..255); default 0 */
  preamble?: number;
}

/** The line bytes of a frame. */
export function encodeFrame(frame: Frame, { preamble = 0 }: EncodeOptions = {}): Buffer {
  if (!Number.isInteger(preamble) || preamble < 0 || preamble > 255) {
    throw new TypeError(`preamble must be 0..255 wake-up bytes, got ${preamble}`);
  }
  if (frame.data.length > MAX_DATA_LENGTH) {
    throw new TypeError(`data field is at most ${MAX_DATA_LENGTH} bytes, got ${frame.data.length}`);
  }
  const body = Buffer.concat([
    Buffer.from([START]),
    encodeAddress(frame.address),
    Buffer.from([START, encodeControl(frame.control), frame.data.length]),
    offsetData(frame.data, "encode"),
  ]);
  return Buffer.concat([Buffer.alloc(preamble, WAKE_UP), body, Buffer.from([checksum(body), END])]);
}

/** What lies at a position of a byte stream. */
export type ScanResult =
  | { kind: "frame"; length: number }
  | { kind: "invalid"; reason: "bad-length" | "bad-checksum"; length: number }
  | { kind: "incomplete" }
  | { kind: "not-a-frame" };

/**
 * Looks for a frame starting exactly at `start`: "frame" with its length, "invalid" when the
 * header is right but the end byte or checksum is wrong, "incomplete" when more bytes are
 * needed to tell, "not-a-frame" when the header is wrong.
 */
export function scanFrame(bytes: Uint8Array, start = 0): ScanResult {
  const available = bytes.length - start;
  if (available < 1) return { kind: "incomplete" };
  if (bytes[start] !== START) return { kind: "not-a-frame" };
  if (available < 8) return { kind: "incomplete" };
  if (bytes[start + 7] !== START) return { kind: "not-a-frame" };
  if (available < HEADER_LENGTH) return { kind: "incomplete" };
  const length = HEADER_LENGTH + bytes[start + 9] + 2;
  if (available < length) return { kind: "incomplete" };
  if (bytes[start + length - 1] !== END) return { kind: "invalid", reason: "bad-length", length };
  if (checksum(bytes, start, start + length - 2) !== bytes[start + length - 2]) {
    return { kind: "invalid", reason: "bad-checksum", length };
  }
  return { kind: "frame", length };
}

/**
 * Decodes exactly one frame, with or without FE wake-up bytes before it.
 * @throws FrameError saying what is wrong
 */
export function decodeFrame(bytes: Uint8Array): Frame {
  let start = 0;
  while (start < bytes.length && bytes[start] === WAKE_UP) start++;
  const scan = scanFrame(bytes, start);
  switch (scan.kind) {
    case "not-a-frame":
      throw new FrameError("no-frame", "no frame header: expected 68, 6 address bytes, 68 after the FE bytes");
    case "incomplete":
      throw new FrameError("truncated", `frame truncated: ${bytes.length - start} bytes ${describeExpected(bytes, start)}`);
    case "invalid":
      throw scan.reason === "bad-checksum"
        ? new FrameError(
            "bad-checksum",
            `bad checksum: frame says ${hexByte(bytes[start + scan.length - 2])}, bytes sum to ${hexByte(checksum(bytes, start, start + scan.length - 2))}`,
          )
        : new FrameError("bad-length", `bad length: the length byte says ${bytes[start + 9]} data bytes, but no end byte 16 follows them`);
    case "frame":
      if (start + scan.length !== bytes.length) {
        throw new FrameError("bad-length", `bad length: ${bytes.length - start - scan.length} bytes after the end byte 16`);
      }
      return {
        address: decodeAddress(bytes.subarray(start + 1, start + 7)),
        control: decodeControl(bytes[start + 8]),
        data: offsetData(bytes.subarray(start + HEADER_LENGTH, start + scan.length - 2), "decode"),
      };
  }
}

function describeExpected(bytes: Uint8Array, start: number): string {
  return bytes.length - start >= HEADER_LENGTH ? `where the length byte implies ${HEADER_LENGTH + bytes[start + 9] + 2}` : "where a frame has at least 12";
}

/** Whether the address is an all-decimal meter address (not a wildcard). */
export function isMeterAddress(address: string): boolean {
  return /^\d{12}$/.test(address);
}

/** Whether a meter with address `meter` answers a request sent to `target` (wildcard A digits match any). */
export function addressMatches(target: string, meter: string): boolean {
  return target.length === meter.length && [...target.toUpperCase()].every((digit, i) => digit === "A" || digit === meter[i]);
}

