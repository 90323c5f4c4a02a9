/**
 * The market's interval clock. Interval d spans [startTime + d*I, startTime + (d+1)*I); the
 * registers read at boundary k = startTime + k*I are the reading at the end of interval k-1.
 */
export interface IntervalClock {
  /** start of interval 0, unix seconds */
  startTime: number;
  /** interval length, seconds */
  intervalSeconds: number;
}

/** The market's interval clock and, when known, how long it waits for a reading. */
export interface MarketTiming extends IntervalClock {
  /** settlement of interval d opens this long after d ends, s */
  settleOffsetSeconds?: number;
  /** and waits this much longer for a missing reading, s */
  readingGraceSeconds?: number;
}

export function checkClock(clock: IntervalClock): IntervalClock {
  if (!Number.isSafeInteger(clock.startTime) || clock.startTime < 0) throw new TypeError(`startTime must be unix seconds, got ${clock.startTime}`);
  if (!Number.isSafeInteger(clock.intervalSeconds) || clock.intervalSeconds <= 0) throw new TypeError(`intervalSeconds must be a positive integer, got ${clock.intervalSeconds}`);
  return clock;
}

/** Index of the last boundary at or before `nowMs` (-1 before the start). */
export function lastBoundary(clock: IntervalClock, nowMs: number): number {
  const elapsed = nowMs - clock.startTime * 1000;
  return elapsed < 0 ? -1 : Math.floor(elapsed / (clock.intervalSeconds * 1000));
}

/** Time of boundary `k`, ms. */
export function boundaryMs(clock: IntervalClock, k: number): number {
  return (clock.startTime + k * clock.intervalSeconds) * 1000;
}
