/**
 * Application layer: the requests a master sends and the replies meters give, built on
 * frames. Pure functions.
 */
import { MeterTime, decodeBroadcastClock, encodeBroadcastClock } from "./calendar";
import { decodeDi, encodeDi } from "./dataIdentifiers";
import { FrameError } from "./errors";
import { BROADCAST_ADDRESS, Control, EncodeOptions, Frame, WILDCARD_ADDRESS, decodeAddress, encodeAddress, encodeFrame } from "./frame";

export const FUNCTION = {
  BROADCAST_TIME: 0x08,
  READ: 0x11,
  READ_FOLLOW_UP: 0x12,
  READ_ADDRESS: 0x13,
} as const;

/** Bits of the error word of an abnormal reply, D0 first. */
export const ERROR_BITS = [
  "other-error",
  "no-requested-data",
  "unauthorized", // wrong password or not authorized
  "baud-rate-unchangeable",
  "too-many-year-zones",
  "too-many-day-periods",
  "too-many-tariffs",
] as const;
export type ErrorName = (typeof ERROR_BITS)[number];

/** Names of the bits set in an error word (an unnamed bit shows as "bit-7"). */
export function decodeErrorWord(word: number): string[] {
  const names: string[] = [];
  for (let bit = 0; bit < 8; bit++) {
    if (word & (1 << bit)) names.push(ERROR_BITS[bit] ?? `bit-${bit}`);
  }
  return names;
}

export function encodeErrorWord(names: readonly ErrorName[]): number {
  return names.reduce((word, name) => word | (1 << ERROR_BITS.indexOf(name)), 0);
}

/** A request defaults to the customary four FE wake-up bytes. */
const REQUEST_PREAMBLE: EncodeOptions = { preamble: 4 };

const request = (fn: number): Control => ({ direction: "master", abnormal: false, followUp: false, function: fn });

/** Read (11) of one data identifier. */
export function encodeRead(address: string, di: string, options: EncodeOptions = REQUEST_PREAMBLE): Buffer {
  return encodeReadWith(address, di, Buffer.alloc(0), options);
}

/**
 * Read (11) of an identifier that takes parameters after it, such as the block count and
 * time of a load record (`params` as plain bytes, the +0x33 is added here).
 */
export function encodeReadWith(address: string, di: string, params: Uint8Array, options: EncodeOptions = REQUEST_PREAMBLE): Buffer {
  return encodeFrame({ address, control: request(FUNCTION.READ), data: Buffer.concat([encodeDi(di), params]) }, options);
}

/** Read follow-up (12): frame `sequence` (1..255) of a reply announced with the follow-up bit. */
export function encodeReadFollowUp(address: string, di: string, sequence: number, options: EncodeOptions = REQUEST_PREAMBLE): Buffer {
  checkByte("sequence", sequence);
  const data = Buffer.concat([encodeDi(di), Buffer.from([sequence])]);
  return encodeFrame({ address, control: request(FUNCTION.READ_FOLLOW_UP), data }, options);
}

/** Read address (13), sent to the wildcard address: only for a single meter on the bus. */
export function encodeReadAddress(options: EncodeOptions = REQUEST_PREAMBLE): Buffer {
  return encodeFrame({ address: WILDCARD_ADDRESS, control: request(FUNCTION.READ_ADDRESS), data: Buffer.alloc(0) }, options);
}

/** Broadcast time synchronisation (08): ss mm hh DD MM YY to the broadcast address; no meter replies. */
export function encodeBroadcastTime(time: MeterTime, options: EncodeOptions = REQUEST_PREAMBLE): Buffer {
  return encodeFrame({ address: BROADCAST_ADDRESS, control: request(FUNCTION.BROADCAST_TIME), data: encodeBroadcastClock(time) }, options);
}

export interface ReplyOptions extends EncodeOptions {
  /** more data follows in follow-up frames */
  followUp?: boolean;
  /** for a reply to read follow-up (12): the frame sequence number */
  sequence?: number;
}

/** A meter's normal reply to a read (91/B1) or read follow-up (92/B2). */
export function encodeReadReply(address: string, di: string, value: Uint8Array, { followUp = false, sequence, preamble = 0 }: ReplyOptions = {}): Buffer {
  const fn = sequence === undefined ? FUNCTION.READ : FUNCTION.READ_FOLLOW_UP;
  if (sequence !== undefined) checkByte("sequence", sequence);
  const tail = sequence === undefined ? [] : [Buffer.from([sequence])];
  const data = Buffer.concat([encodeDi(di), value, ...tail]);
  return encodeFrame({ address, control: { direction: "meter", abnormal: false, followUp, function: fn }, data }, { preamble });
}

/** A meter's reply to read address (93): its address in the data field. */
export function encodeReadAddressReply(address: string, options: EncodeOptions = {}): Buffer {
  const data = encodeAddress(address);
  return encodeFrame({ address, control: { direction: "meter", abnormal: false, followUp: false, function: FUNCTION.READ_ADDRESS }, data }, options);
}

/** An abnormal reply (D1, D2, ...) carrying the error word. */
export function encodeAbnormalReply(address: string, fn: number, errors: readonly ErrorName[], options: EncodeOptions = {}): Buffer {
  const data = Buffer.from([encodeErrorWord(errors)]);
  return encodeFrame({ address, control: { direction: "meter", abnormal: true, followUp: false, function: fn }, data }, options);
}

/** The meaning of a frame. */
export type Message =
  | { kind: "read"; address: string; di: string; params?: Buffer }
  | { kind: "read-follow-up"; address: string; di: string; sequence: number }
  | { kind: "read-address" }
  | { kind: "broadcast-time"; time: MeterTime }
  | { kind: "read-reply"; address: string; di: string; value: Buffer; followUp: boolean; sequence?: number }
  | { kind: "read-address-reply"; address: string }
  | { kind: "abnormal-reply"; address: string; function: number; errorWord: number; errors: string[] }
  | { kind: "other"; address: string; function: number; data: Buffer };

/**
 * What a frame says, by direction and function code.
 * @throws FrameError("bad-data-length") when the data field does not fit its function
 */
export function interpretFrame(frame: Frame): Message {
  const { address, control, data } = frame;
  const fn = control.function;
  if (control.direction === "master") {
    if (fn === FUNCTION.READ) {
      if (data.length < 4) throw lengthError("read", "at least 4", data.length);
      return data.length === 4 ? { kind: "read", address, di: decodeDi(data) } : { kind: "read", address, di: decodeDi(data), params: data.subarray(4) };
    }
    if (fn === FUNCTION.READ_FOLLOW_UP) {
      expectLength(data, 5, "read follow-up");
      return { kind: "read-follow-up", address, di: decodeDi(data), sequence: data[4] };
    }
    if (fn === FUNCTION.READ_ADDRESS) return (expectLength(data, 0, "read address"), { kind: "read-address" });
    if (fn === FUNCTION.BROADCAST_TIME) return { kind: "broadcast-time", time: decodeBroadcastClock(expectLength(data, 6, "broadcast time")) };
    return { kind: "other", address, function: fn, data };
  }
  if (control.abnormal) {
    const word = expectLength(data, 1, "abnormal reply")[0];
    return { kind: "abnormal-reply", address, function: fn, errorWord: word, errors: decodeErrorWord(word) };
  }
  if (fn === FUNCTION.READ || fn === FUNCTION.READ_FOLLOW_UP) {
    const trailer = fn === FUNCTION.READ_FOLLOW_UP ? 1 : 0;
    if (data.length < 4 + trailer) throw lengthError("read reply", `at least ${4 + trailer}`, data.length);
    const reply = { kind: "read-reply" as const, address, di: decodeDi(data), value: data.subarray(4, data.length - trailer), followUp: control.followUp };
    return trailer ? { ...reply, sequence: data[data.length - 1] } : reply;
  }
  if (fn === FUNCTION.READ_ADDRESS) return { kind: "read-address-reply", address: decodeAddress(expectLength(data, 6, "read address reply")) };
  return { kind: "other", address, function: fn, data };
}

function expectLength(data: Buffer, length: number, what: string): Buffer {
  if (data.length !== length) throw lengthError(what, String(length), data.length);
  return data;
}

function lengthError(what: string, expected: string, actual: number): FrameError {
  return new FrameError("bad-data-length", `${what} has ${expected} data bytes, got ${actual}`);
}

function checkByte(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 255) throw new TypeError(`${name} must be 0..255, got ${value}`);
}

