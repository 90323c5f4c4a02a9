/**
 * When the cycle daemon may skip its settlement scan (one call per participant): only while nothing is
 * ready, nothing waits for a reading, and no settlement window opens.
 */
import { expect } from "chai";
import { nextSettleStart, settleStart } from "../lib/clock";
import { quietUntil, type SettlementDue } from "../lib/cycle";

const schedule = { startTime: 1_000_000, intervalSeconds: 900, commitSeconds: 120, revealSeconds: 60, settleOffsetSeconds: 600, readingGraceSeconds: 300 };

describe("cycle daemon: skipping the settlement scan", () => {
  it("finds the next settlement opening after any moment", () => {
    // interval d settles from start + (d+1)·900 + 600
    expect(settleStart(schedule, 0)).to.equal(1_001_500);
    for (const t of [0, 999_999, 1_000_000, 1_001_499, 1_001_500, 1_001_501, 1_002_399, 1_002_400, 1_009_000]) {
      const next = nextSettleStart(schedule, t);
      expect(next, `after ${t}`).to.be.greaterThan(t);
      if (t >= schedule.startTime) expect(next - t, `after ${t}`).to.be.at.most(schedule.intervalSeconds + schedule.settleOffsetSeconds + schedule.intervalSeconds);
      expect((next - 1_001_500) % 900, `after ${t}`).to.equal(0);
      if (next - 900 >= 1_001_500) expect(next - 900, `after ${t}`).to.be.at.most(t);
    }
  });

  const head = { block: 10, time: 1_002_000 }; // interval 2; interval 0 settles from 1,001,500, interval 1 from 1,002,400
  const due = (x: Partial<SettlementDue>): SettlementDue => ({ id: 1, interval: 1, ready: false, ...x });

  it("is quiet until the earliest opening when every cursor waits for its window", () => {
    const q = quietUntil(schedule, head, [due({ opensAt: 1_002_400 }), due({ id: 2, interval: 3, ready: false, reason: "interval not cleared yet" })], 2);
    expect(q).to.deep.equal({ until: 1_002_400, clearedBelow: 2 });
  });

  it("is quiet until the next interval's opening when no one is metered yet", () => {
    expect(quietUntil(schedule, head, [], 1)).to.deep.equal({ until: 1_002_400, clearedBelow: 1 });
  });

  it("looks again at the next tick when anything is ready or waits for its reading", () => {
    expect(quietUntil(schedule, head, [due({ opensAt: 1_002_400 }), due({ id: 2, interval: 0, ready: true })], 2)).to.equal(undefined);
    expect(quietUntil(schedule, head, [due({ interval: 0, reason: "waiting for the reading until …" })], 2)).to.equal(undefined);
  });
});
