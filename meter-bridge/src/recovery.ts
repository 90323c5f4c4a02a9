/**
 * A boundary the gateway missed (it was down, the port was gone, the meter was silent) is
 * recovered from the meter's own records of that time: its class 4 load record (06040001,
 * registers stored every load-record period, commonly 15 min) or, on a whole hour, its hourly
 * freeze (0504 00/01/02 NN: the n-th newest freeze's time and its forward and reverse active
 * energy). Records carry the meter's clock, to the minute, so only a boundary on a whole minute
 * of this host's local time (the time the bridge keeps the meters' clocks at) can be matched, and
 * a record counts only when its time is exactly the boundary's.
 */
import { MeterBus, MeterError } from "./bus";
import {
  DI,
  FrameError,
  HOURLY_FREEZE_DEPTH,
  MeterTime,
  decodeLoadRecord,
  encodeLoadRecordRequest,
  formatCalendar,
  hourlyFreezeDi,
  kWhToWh,
  loadRecordEnergy,
  meterTimeOf,
  msOfMeterTime,
  parseCalendar,
} from "./codec";

export type RecordSource = "load-record" | "hourly-freeze";

export interface RecoveredReading {
  importWh: bigint;
  exportWh: bigint;
  source: RecordSource;
  /** the record's time, meter-local */
  recordTime: string;
}

/** Why a meter has no record for a time (for the log), or the registers it recorded. */
export type RecordLookup = { found: RecoveredReading } | { none: string };

const HOUR_MS = 3_600_000;

/**
 * The registers meter `address` recorded at host instant `atMs` (a boundary).
 * @throws MeterError when the meter does not answer (silence or noise): that says nothing about its records
 */
export async function readRecordAt(bus: MeterBus, address: string, atMs: number): Promise<RecordLookup> {
  const time = meterTimeOf(new Date(atMs));
  if (time.second !== 0 || atMs % 1000 !== 0) return { none: `the boundary ${new Date(atMs).toISOString()} is not on a whole minute, and meters record to the minute` };
  const fromLoadRecord = await loadRecordAt(bus, address, time);
  if ("found" in fromLoadRecord) return fromLoadRecord;
  const fromFreeze = await hourlyFreezeAt(bus, address, time, atMs);
  if ("found" in fromFreeze) return fromFreeze;
  return { none: `${fromLoadRecord.none}; ${fromFreeze.none}` };
}

async function loadRecordAt(bus: MeterBus, address: string, time: MeterTime): Promise<RecordLookup> {
  const wanted = formatCalendar("minute", time);
  const data = await refusedAsNone(bus.readRaw(address, DI.LOAD_RECORD_CLASS4_AT, encodeLoadRecordRequest(time)));
  if (data === undefined) return { none: `no load record at ${wanted}` };
  let record;
  try {
    record = decodeLoadRecord(data, 4);
  } catch (error) {
    if (error instanceof FrameError) return { none: `its load record at ${wanted} is unreadable: ${error.message}` };
    throw error;
  }
  const energy = loadRecordEnergy(record);
  const recordTime = formatCalendar("minute", record.time);
  if (recordTime !== wanted) return { none: `no load record at ${wanted} (the next one is at ${recordTime})` };
  if (!energy) return { none: `its load record at ${wanted} holds no energy registers (class 4)` };
  return { found: { importWh: kWhToWh(energy.forwardKWh), exportWh: kWhToWh(energy.reverseKWh), source: "load-record", recordTime } };
}

async function hourlyFreezeAt(bus: MeterBus, address: string, time: MeterTime, atMs: number): Promise<RecordLookup> {
  const wanted = formatCalendar("minute", time);
  if (time.minute !== 0 && time.minute !== 30) return { none: `${wanted} is not on a freeze hour` };
  const newestText = await readText(bus, address, hourlyFreezeDi("time", 1));
  if (newestText === undefined) return { none: "no hourly freezes" };
  const newestMs = msOfMeterTime(parseCalendar("minute", newestText));
  if (newestMs < atMs) return { none: `no hourly freeze at ${wanted} yet (the newest is at ${newestText})` };
  // freezes every hour (or half hour); a gap (power cut) shifts the numbering, so the time is checked
  for (const periodMs of [HOUR_MS, HOUR_MS / 2]) {
    const n = Math.round((newestMs - atMs) / periodMs) + 1;
    if (n > HOURLY_FREEZE_DEPTH || (newestMs - atMs) % periodMs !== 0) continue;
    if ((await readText(bus, address, hourlyFreezeDi("time", n))) !== wanted) continue;
    const forward = await readText(bus, address, hourlyFreezeDi("forward", n));
    const reverse = await readText(bus, address, hourlyFreezeDi("reverse", n));
    if (forward === undefined || reverse === undefined) return { none: `its hourly freeze at ${wanted} has no energy registers` };
    return { found: { importWh: kWhToWh(forward), exportWh: kWhToWh(reverse), source: "hourly-freeze", recordTime: wanted } };
  }
  return { none: `no hourly freeze at ${wanted}` };
}

/** The decoded value of a read, or undefined when the meter refuses it (it has no such data). */
async function readText(bus: MeterBus, address: string, di: string): Promise<string | undefined> {
  try {
    return (await bus.read(address, di)).value;
  } catch (error) {
    if (error instanceof MeterError && error.code === "abnormal") return undefined;
    if (error instanceof FrameError) return undefined; // a value that does not decode is no record
    throw error;
  }
}

async function refusedAsNone<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (error) {
    if (error instanceof MeterError && error.code === "abnormal") return undefined;
    throw error;
  }
}
