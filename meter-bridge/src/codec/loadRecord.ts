/**
 * Load records (负荷记录, DL/T 645-2007 appendix A.7, identifiers 06 CC 00 0X): the meter
 * stores a record every period of each class (commonly 15 min) and sends one back on a read
 * with parameters.
 *
 * Request parameters after the identifier (06 CC 00 01, "record at a given time"):
 *   NN (block count, BCD) mm hh DD MM YY (the record's time, lowest first)
 * Reply data after the identifier:
 *   A0 A0 | L | mm hh DD MM YY | class 1 | AA | class 2 | AA | ... | class 6 | AA | CS | E5
 * L counts the bytes from the time through the last AA separator; CS is their sum (from the
 * first A0) mod 256; E0 E0 instead of A0 A0 marks a record the meter knows is wrong. A class
 * the meter does not record is empty (its separator stays). A read of one class (CC = 01..06)
 * returns that class alone; meters differ in whether they keep the separators of the classes
 * before it, so both forms are accepted.
 *
 * Class 4 (有、无功总电能, 16 bytes) is forward active, reverse active, combined reactive 1
 * and 2 totals, XXXXXX.XX each: the registers the market settles on.
 */
import { MeterTime, decodeMeterTime, encodeMeterTime } from "./calendar";
import { digitsToBcd, bcdToDigits } from "./bcd";
import { DI, decodeValue, normalizeDi } from "./dataIdentifiers";
import { FrameError } from "./errors";

/** Bytes of each class's data, class 1 first: voltages/currents/frequency, powers, power factors, active/reactive totals, quadrant reactive totals, demand. */
export const LOAD_RECORD_CLASS_BYTES = [17, 24, 8, 16, 16, 6] as const;
const START = 0xa0;
const MARKED_WRONG = 0xe0;
const SEPARATOR = 0xaa;
const END = 0xe5;

export interface LoadRecord {
  /** the record's time, meter-local, to the minute */
  time: MeterTime;
  /** each class's data bytes (index 0 = class 1), undefined when the record holds none */
  classes: Array<Buffer | undefined>;
}

/** Which class a load-record identifier reads (0 = all), or undefined when it is none. */
export function loadRecordClass(di: string): number | undefined {
  const match = /^060([0-6])000[0-2]$/.exec(normalizeDi(di));
  return match ? Number(match[1]) : undefined;
}

/** The request parameters of a read of `blocks` records from `time` on (06 CC 00 01). */
export function encodeLoadRecordRequest(time: MeterTime, blocks = 1): Buffer {
  if (!Number.isInteger(blocks) || blocks < 1 || blocks > 99) throw new TypeError(`a load record read asks for 1..99 blocks, got ${blocks}`);
  return Buffer.concat([digitsToBcd(String(blocks).padStart(2, "0")), encodeMeterTime("minute", { ...time, second: 0 })]);
}

export function decodeLoadRecordRequest(params: Uint8Array): { blocks: number; time: MeterTime } {
  if (params.length !== 6) throw new FrameError("bad-data-length", `a load record read at a given time has 6 parameter bytes (NN mm hh DD MM YY), got ${params.length}`);
  return { blocks: Number(bcdToDigits(params.subarray(0, 1))), time: decodeMeterTime("minute", params.subarray(1)) };
}

/** The reply data (after the identifier) of a record; `only` = the class read alone, with the separators before it. */
export function encodeLoadRecord(record: LoadRecord, only?: number): Buffer {
  const classes = only === undefined ? record.classes : record.classes.slice(0, only).map((data, i) => (i === only - 1 ? data : undefined));
  const parts: Buffer[] = [encodeMeterTime("minute", { ...record.time, second: 0 })];
  classes.forEach((data, i) => {
    if (data !== undefined && data.length !== LOAD_RECORD_CLASS_BYTES[i]) throw new TypeError(`class ${i + 1} of a load record has ${LOAD_RECORD_CLASS_BYTES[i]} bytes, got ${data.length}`);
    parts.push(data ?? Buffer.alloc(0), Buffer.from([SEPARATOR]));
  });
  const body = Buffer.concat(parts);
  const head = Buffer.concat([Buffer.from([START, START, body.length]), body]);
  return Buffer.concat([head, Buffer.from([sum(head), END])]);
}

/**
 * The record in reply data (after the identifier) of a read of class `only` (0 = all classes).
 * @throws FrameError("bad-record") when the framing of the record is wrong
 */
export function decodeLoadRecord(data: Uint8Array, only = 0): LoadRecord {
  const bytes = Buffer.from(data);
  if (bytes.length >= 2 && bytes[0] === MARKED_WRONG && bytes[1] === MARKED_WRONG) throw new FrameError("bad-record", "the meter marks this load record as wrong (E0 E0)");
  if (bytes.length < 10 || bytes[0] !== START || bytes[1] !== START) throw new FrameError("bad-record", "a load record starts with A0 A0, its length and its time");
  const length = bytes[2];
  if (bytes.length !== 3 + length + 2) throw new FrameError("bad-record", `load record length ${length} does not match its ${bytes.length} bytes`);
  if (sum(bytes.subarray(0, 3 + length)) !== bytes[3 + length]) throw new FrameError("bad-record", "load record checksum is wrong");
  if (bytes[4 + length] !== END) throw new FrameError("bad-record", "load record does not end with E5");
  const time = decodeMeterTime("minute", bytes.subarray(3, 8));
  return { time, classes: splitClasses(bytes.subarray(8, 3 + length), only) };
}

/** Forward and reverse active energy totals (kWh) of a record's class 4, if it holds one. */
export function loadRecordEnergy(record: LoadRecord): { forwardKWh: string; reverseKWh: string } | undefined {
  const data = record.classes[3];
  if (data === undefined) return undefined;
  return { forwardKWh: decodeValue(DI.FORWARD_ACTIVE_ENERGY, data.subarray(0, 4)).value, reverseKWh: decodeValue(DI.REVERSE_ACTIVE_ENERGY, data.subarray(4, 8)).value };
}

function splitClasses(body: Buffer, only: number): Array<Buffer | undefined> {
  if (body.length === 0 || body[body.length - 1] !== SEPARATOR) throw new FrameError("bad-record", "load record data does not end with the separator AA");
  const segments: Buffer[] = [];
  for (let from = 0; from < body.length; ) {
    const to = body.indexOf(SEPARATOR, from);
    segments.push(body.subarray(from, to));
    from = to + 1;
  }
  const classes: Array<Buffer | undefined> = Array(LOAD_RECORD_CLASS_BYTES.length).fill(undefined);
  const place = (segment: Buffer, i: number) => {
    if (segment.length === 0) return;
    if (segment.length !== LOAD_RECORD_CLASS_BYTES[i]) throw new FrameError("bad-record", `class ${i + 1} of the load record has ${segment.length} bytes, not ${LOAD_RECORD_CLASS_BYTES[i]}`);
    classes[i] = Buffer.from(segment);
  };
  if (only > 0 && segments.length === 1) place(segments[0], only - 1);
  else if (segments.length === LOAD_RECORD_CLASS_BYTES.length || (only > 0 && segments.length === only)) segments.forEach(place);
  else throw new FrameError("bad-record", `load record has ${segments.length} class blocks`);
  if (only > 0 && classes.some((data, i) => data !== undefined && i !== only - 1)) throw new FrameError("bad-record", `a read of class ${only} returned other classes`);
  return classes;
}

function sum(bytes: Uint8Array): number {
  let total = 0;
  for (const byte of bytes) total = (total + byte) & 0xff;
  return total;
}
