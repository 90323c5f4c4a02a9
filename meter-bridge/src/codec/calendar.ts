/**
 * Calendar values as meters keep them: local time, two-digit years (2000..2099), BCD fields
 * sent lowest first. Formats of DL/T 645-2007: YYMMDDWW (date and weekday, 0 = Sunday),
 * hhmmss (time), YYMMDDhhmm (the time of a freeze or load record), ssmmhhDDMMYY (broadcast time).
 */
import { bcdToDigits, digitsToBcd } from "./bcd";
import { FrameError } from "./errors";

/** Meter-local calendar time, as the meter keeps it. */
export interface MeterTime {
  year: number; // 2000..2099
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export type CalendarKind = "date" | "time" | "minute";

/** The local calendar time of a Date on this host. */
export function meterTimeOf(date: Date): MeterTime {
  return {
    year: date.getFullYear(),
    month: date.getMonth() + 1,
    day: date.getDate(),
    hour: date.getHours(),
    minute: date.getMinutes(),
    second: date.getSeconds(),
  };
}

/** The instant (ms) a meter-local calendar time stands for on this host's time zone. */
export function msOfMeterTime(time: MeterTime): number {
  return new Date(time.year, time.month - 1, time.day, time.hour, time.minute, time.second).getTime();
}

/** Why a calendar time is impossible, or undefined when it is a real time of 2000..2099. */
export function meterTimeProblem(time: MeterTime): string | undefined {
  const fields: Array<[keyof MeterTime, number, number]> = [
    ["year", 2000, 2099],
    ["month", 1, 12],
    ["day", 1, daysInMonth(time.year, time.month)],
    ["hour", 0, 23],
    ["minute", 0, 59],
    ["second", 0, 59],
  ];
  const bad = fields.find(([name, min, max]) => !Number.isInteger(time[name]) || time[name] < min || time[name] > max);
  return bad && `${bad[0]} ${time[bad[0]]} is not ${bad[1]}..${bad[2]}`;
}

function daysInMonth(year: number, month: number): number {
  return month >= 1 && month <= 12 ? new Date(year, month, 0).getDate() : 31;
}

const two = (n: number) => String(n).padStart(2, "0");

/** "2024-03-09", "14:05:59" or "2024-03-09T14:05" */
export function formatCalendar(kind: CalendarKind, time: MeterTime): string {
  const date = `${time.year}-${two(time.month)}-${two(time.day)}`;
  if (kind === "date") return date;
  if (kind === "time") return `${two(time.hour)}:${two(time.minute)}:${two(time.second)}`;
  return `${date}T${two(time.hour)}:${two(time.minute)}`;
}

const PATTERNS: Record<CalendarKind, RegExp> = {
  date: /^(\d{4})-(\d{2})-(\d{2})$/,
  time: /^(\d{2}):(\d{2}):(\d{2})$/,
  minute: /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/,
};

/** Parses the text of `formatCalendar`; TypeError when it is not a real time. */
export function parseCalendar(kind: CalendarKind, text: string): MeterTime {
  const match = PATTERNS[kind].exec(text);
  if (!match) throw new TypeError(`not a ${kind} like ${formatCalendar(kind, { year: 2024, month: 3, day: 9, hour: 14, minute: 5, second: 59 })}: "${text}"`);
  const n = match.slice(1).map(Number);
  const time =
    kind === "time"
      ? { year: 2000, month: 1, day: 1, hour: n[0], minute: n[1], second: n[2] }
      : { year: n[0], month: n[1], day: n[2], hour: n[3] ?? 0, minute: n[4] ?? 0, second: 0 };
  const problem = meterTimeProblem(time);
  if (problem) throw new TypeError(`"${text}": ${problem}`);
  return time;
}

/** The BCD digits of a calendar value, highest field first (as the standard writes them). */
function calendarDigits(kind: CalendarKind, time: MeterTime): string {
  const year = two(time.year - 2000);
  if (kind === "date") return `${year}${two(time.month)}${two(time.day)}${two(new Date(time.year, time.month - 1, time.day).getDay())}`;
  if (kind === "time") return `${two(time.hour)}${two(time.minute)}${two(time.second)}`;
  return `${year}${two(time.month)}${two(time.day)}${two(time.hour)}${two(time.minute)}`;
}

/** The data bytes (lowest first) of a calendar value given as text. */
export function encodeCalendar(kind: CalendarKind, text: string): Buffer {
  return digitsToBcd(calendarDigits(kind, parseCalendar(kind, text)));
}

/** The bytes (lowest first) of a time in one of the calendar formats. */
export function encodeMeterTime(kind: CalendarKind, time: MeterTime): Buffer {
  const problem = meterTimeProblem(time);
  if (problem) throw new TypeError(`time out of range: ${problem}`);
  return digitsToBcd(calendarDigits(kind, time));
}

/**
 * The time held by calendar data bytes (lowest first).
 * @throws FrameError("bad-bcd") for a non-BCD digit, ("bad-time") for an impossible time
 */
export function decodeMeterTime(kind: CalendarKind, data: Uint8Array): MeterTime {
  const n = bcdToDigits(data).match(/\d\d/g)!.map(Number);
  const time =
    kind === "time"
      ? { year: 2000, month: 1, day: 1, hour: n[0], minute: n[1], second: n[2] }
      : { year: 2000 + n[0], month: n[1], day: n[2], hour: kind === "minute" ? n[3] : 0, minute: kind === "minute" ? n[4] : 0, second: 0 };
  const problem = meterTimeProblem(time) ?? (kind === "date" && n[3] > 6 ? `weekday ${n[3]} is not 0..6` : undefined);
  if (problem) throw new FrameError("bad-time", `not a real ${kind}: ${problem}`);
  return time;
}

/** Broadcast time (08) data: ss mm hh DD MM YY, lowest first. */
export function encodeBroadcastClock(time: MeterTime): Buffer {
  const problem = meterTimeProblem(time);
  if (problem) throw new TypeError(`time out of range: ${problem}`);
  return digitsToBcd([time.year - 2000, time.month, time.day, time.hour, time.minute, time.second].map(two).join(""));
}

/** The time of broadcast time (08) data. */
export function decodeBroadcastClock(data: Uint8Array): MeterTime {
  const [year, month, day, hour, minute, second] = bcdToDigits(data).match(/\d\d/g)!.map(Number);
  const time = { year: 2000 + year, month, day, hour, minute, second };
  const problem = meterTimeProblem(time);
  if (problem) throw new FrameError("bad-time", `broadcast time is not a real time: ${problem}`);
  return time;
}
