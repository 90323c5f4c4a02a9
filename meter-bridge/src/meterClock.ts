/**
 * The meters' clocks. Boundaries come from block time, but a meter stamps its load records and
 * freezes with its own clock, so the bridge keeps the clocks in step with this host's (itself
 * kept by NTP) by broadcast time synchronisation (control code 08), within the rules of
 * DL/T 645-2007: a meter takes one broadcast a day (by its own date), corrects by at most
 * 5 minutes, and takes none within 5 minutes of midnight (nor of its month-end settlement,
 * commonly at 00:00). Offsets are read from the meter's date (04000101) and time (04000102).
 */
import { MeterBus } from "./bus";
import { DI, meterTimeOf, msOfMeterTime, parseCalendar } from "./codec";
import { transmitMs } from "./line";

/** The most a broadcast time may move a meter's clock (DL/T 645-2007). */
export const BROADCAST_CORRECTION_LIMIT_SECONDS = 300;
/** No broadcast within this many minutes of local midnight (DL/T 645-2007). */
const MIDNIGHT_GUARD_MINUTES = 5;

export interface TimeSyncOptions {
  /** broadcast the time at start and every day; default true */
  enabled?: boolean;
  /** local time of the daily broadcast, "HH:MM"; default "02:30" */
  dailyAt?: string;
  /** warn when a meter's clock is off by more than this after a broadcast, s; default 10 */
  warnSeconds?: number;
}

export type TimeSyncSettings = Required<TimeSyncOptions>;

export function timeSyncSettings(options: TimeSyncOptions = {}): TimeSyncSettings {
  const settings = { enabled: true, dailyAt: "02:30", warnSeconds: 10, ...Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) };
  if (typeof settings.enabled !== "boolean") throw new TypeError(`enabled must be true or false, got ${JSON.stringify(settings.enabled)}`);
  const match = /^(\d\d):(\d\d)$/.exec(String(settings.dailyAt));
  if (!match || Number(match[1]) > 23 || Number(match[2]) > 59) throw new TypeError(`dailyAt must be a local time "HH:MM", got ${JSON.stringify(settings.dailyAt)}`);
  if (nearMidnight(Number(match[1]) * 60 + Number(match[2]))) throw new TypeError(`dailyAt ${settings.dailyAt} is within ${MIDNIGHT_GUARD_MINUTES} min of midnight, when meters take no broadcast time`);
  if (!Number.isSafeInteger(settings.warnSeconds) || settings.warnSeconds < 1) throw new TypeError(`warnSeconds must be a whole number of seconds >= 1, got ${JSON.stringify(settings.warnSeconds)}`);
  return settings as TimeSyncSettings;
}

function nearMidnight(minuteOfDay: number): boolean {
  return minuteOfDay < MIDNIGHT_GUARD_MINUTES || minuteOfDay >= 24 * 60 - MIDNIGHT_GUARD_MINUTES;
}

/** Whether meters would refuse a broadcast time at host time `ms` (within 5 min of local midnight). */
export function inMidnightGuard(ms: number): boolean {
  const local = new Date(ms);
  return nearMidnight(local.getHours() * 60 + local.getMinutes());
}

/** The local day ("2024-03-09") of host time `ms`. */
export function localDay(ms: number): string {
  const date = new Date(ms);
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`;
}

/** Whether the daily broadcast is due at `ms`, the last one having been on `lastDay`. */
export function dailySyncDue(settings: TimeSyncSettings, ms: number, lastDay: string | undefined): boolean {
  if (!settings.enabled || inMidnightGuard(ms) || localDay(ms) === lastDay) return false;
  const [hour, minute] = settings.dailyAt.split(":").map(Number);
  const local = new Date(ms);
  return local.getHours() * 60 + local.getMinutes() >= hour * 60 + minute;
}

/**
 * How far meter `address`'s clock is ahead of this host's, ms (negative: behind), to about a
 * second (the meter's time has whole seconds; the middle of its second is taken).
 */
export async function readClockOffset(bus: MeterBus, address: string, now: () => number = Date.now): Promise<number> {
  let date = (await bus.read(address, DI.DATE)).value;
  const time = (await bus.read(address, DI.TIME)).value;
  const hostMs = now() - transmitMs(4 + 12 + 3 + 4, bus.settings.line); // the reply's bytes were on the line after the meter read its clock
  if (time < "00:00:10") date = (await bus.read(address, DI.DATE)).value; // midnight passed between the two reads
  const { hour, minute, second } = parseCalendar("time", time);
  const meterMs = msOfMeterTime({ ...parseCalendar("date", date), hour, minute, second }) + 500;
  return meterMs - hostMs;
}

/**
 * Broadcasts this host's local time to every meter on the bus, when the line is free: the time
 * the frame will have ended, to the nearest second (the meters' resolution). Resolves with it (ms).
 */
export async function broadcastTime(bus: MeterBus, now: () => number = Date.now): Promise<number> {
  const frameMs = transmitMs(bus.settings.preamble + 18, bus.settings.line);
  let sent = 0;
  await bus.broadcastTime(() => {
    sent = Math.round((now() + frameMs) / 1000) * 1000;
    return meterTimeOf(new Date(sent));
  });
  return sent;
}
