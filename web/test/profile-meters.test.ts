/**
 * The live demo's meters (scripts/profile-meters.ts): in each delivery interval a meter registers
 * the paper's day's metered energy of that time of day, the same day the bots bid from, so the
 * portal's balancing figures compare a bid with what its meter measured.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { PassThrough } from "node:stream";
import { loadScenario } from "../../lib/scenario";
import { deliveredWh, directionOf, profileMeter } from "../scripts/profile-meters";
import { REPO_ROOT } from "./support/paths";

const schedule = { startTime: 1_800_000_000, intervalSeconds: 60, commitSeconds: 8, revealSeconds: 4, settleOffsetSeconds: 40, readingGraceSeconds: 20 };
const startOf = (d: number) => schedule.startTime + d * schedule.intervalSeconds;

test("a profile delivers each interval's energy evenly over the interval", () => {
  const energy = (k: number) => [0, 600, 120, 0, 900][k] ?? 0;
  assert.equal(deliveredWh(schedule, energy, startOf(1), startOf(2)), 600);
  assert.equal(deliveredWh(schedule, energy, startOf(1) + 30, startOf(2) + 15), 300 + 30);
  assert.equal(deliveredWh(schedule, energy, startOf(0), startOf(5)), 1620);
  assert.equal(deliveredWh(schedule, energy, startOf(3), startOf(3)), 0);
});

test("each demo meter registers the paper's day: the metered energy of its interval's time of day", () => {
  const scenario = loadScenario(path.join(REPO_ROOT, "scenarios/paper-day.json"));
  const day = scenario.intervals.length;
  let wall = startOf(40) * 1000; // the meters start at the beginning of delivery interval 40
  const port = new PassThrough();
  for (const [i, name] of ["wind", "controllable", "ev", "conventional"].entries()) {
    const flows = scenario.intervals.map((iv) => iv.metered.get(name) ?? { importWh: 0n, exportWh: 0n });
    const address = String(i + 1).padStart(12, "0");
    const meter = profileMeter(port, address, schedule, flows, (d) => d % day, { line: { baudRate: 9600 }, wallMs: () => wall });
    const direction = directionOf(address, flows);
    let expected = 0n;
    for (let d = 40; d < 40 + day + 5; d++) {
      // at the end of delivery interval d the register has risen by the scenario's energy of interval d mod 96
      wall = startOf(d + 1) * 1000;
      const f = flows[d % day];
      expected += direction === "export" ? f.exportWh : f.importWh;
      const r = meter.registers(address);
      const got = direction === "export" ? r.exportWh : r.importWh;
      assert.equal(got, expected - (expected % 10n), `${name} at the end of interval ${d} (${scenario.intervals[d % day].label})`);
      assert.equal(direction === "export" ? r.importWh : r.exportWh, 0n);
    }
    meter.stop();
    wall = startOf(40) * 1000;
  }
  // 14:00 is the paper's worked interval: the conventional load draws 1.15 kWh against a bid of 1.02
  assert.equal(scenario.intervals[56].metered.get("conventional")!.importWh, 1150n);
});

test("a meter whose profile runs both ways is refused, naming it", () => {
  assert.throws(() => directionOf("000000000009", [{ importWh: 1n, exportWh: 0n }, { importWh: 0n, exportWh: 1n }]), /meter 000000000009: its profile both imports and exports/);
});
