/**
 * The market's interval clock off chain, by the rules of contracts/libraries/Clock.sol: delivery
 * interval `d` is traded in `d-1` (commit, then reveal, then clearing), delivered in `d`, and
 * settled from `settleOffsetSeconds` into `d+1`. Pure functions of the deployed schedule, shared by
 * the cycle daemon, the tasks, the portal and the benchmarks.
 */
import type { ScheduleTimes } from "./deployment";

/** The interval that time `t` falls in (0 before the start). */
export function intervalAt(s: ScheduleTimes, t: number): number {
  return t < s.startTime ? 0 : Math.floor((t - s.startTime) / s.intervalSeconds);
}

/** Every moment of delivery interval `d`, in seconds. */
export function windowsOf(s: ScheduleTimes, d: number) {
  const start = s.startTime + d * s.intervalSeconds;
  const commitStart = start - s.intervalSeconds;
  const revealStart = commitStart + s.commitSeconds;
  const revealEnd = revealStart + s.revealSeconds;
  const settleStart = start + s.intervalSeconds + s.settleOffsetSeconds;
  return { commitStart, revealStart, revealEnd, start, end: start + s.intervalSeconds, settleStart, graceEnd: settleStart + s.readingGraceSeconds };
}

export const revealEnd = (s: ScheduleTimes, d: number): number => windowsOf(s, d).revealEnd;
export const settleStart = (s: ScheduleTimes, d: number): number => windowsOf(s, d).settleStart;

/** The first moment after `t` at which some interval's settlement opens. */
export function nextSettleStart(s: ScheduleTimes, t: number): number {
  const d = Math.max(0, Math.floor((t - settleStart(s, 0)) / s.intervalSeconds));
  return settleStart(s, d) > t ? settleStart(s, d) : settleStart(s, d + 1);
}

/** The last delivery interval whose reveal window has closed at time `t` (0: none). */
export function lastRevealClosed(s: ScheduleTimes, t: number): number {
  if (t < revealEnd(s, 1)) return 0;
  return 1 + Math.floor((t - revealEnd(s, 1)) / s.intervalSeconds);
}

/** The first interval that can have bids: the one after the interval the market was deployed in. */
export function firstTradedInterval(s: ScheduleTimes, deployedAt: number): number {
  return Math.max(1, intervalAt(s, deployedAt) + 1);
}

/** A unix time as the local wall-clock time people read ("14:07:30"). */
export const localTime = (unixSeconds: number): string => new Date(unixSeconds * 1000).toLocaleTimeString("en-GB", { hour12: false });
