/**
 * Simulated meters for `npm run demo:live` whose registers follow a scenario's metered energy
 * interval by interval (the paper's day, with its forecast errors), the same day the bots bid from:
 * in delivery interval d a meter registers the energy of the scenario's interval d mod 96.
 *
 * meter-bridge's MeterSimulator advances a register at a constant power from its own clock. Each
 * profile meter is a simulator of one meter at 3.6 MW (one Wh per millisecond of its clock) whose
 * clock runs one millisecond per Wh the profile has delivered: its register follows the profile,
 * through the simulator's public API. Several simulators share the bus; each answers only its own
 * address. A meter runs in one direction (export or import), as each of the paper's users does.
 */
import type { Duplex } from "node:stream";
import { MeterSimulator, type LineOptions } from "../../meter-bridge/src/index";
import { intervalAt } from "../../lib/clock";
import type { ScheduleTimes } from "../../lib/deployment";

/** One Wh per millisecond of the simulator's clock. */
const WATTS_PER_WH_PER_MS = 3_600_000;

export interface Flow {
  importWh: bigint;
  exportWh: bigint;
}

/** The direction a meter's profile runs in, or an error naming the meter if it runs both ways. */
export function directionOf(address: string, flows: Flow[]): "import" | "export" {
  const exports = flows.some((f) => f.exportWh > 0n);
  const imports = flows.some((f) => f.importWh > 0n);
  if (exports && imports) throw new Error(`meter ${address}: its profile both imports and exports; a demo meter runs one way`);
  return exports ? "export" : "import";
}

/**
 * The energy a profile delivers from time `from` to time `to` (unix seconds), in Wh: in delivery
 * interval k it delivers `energyOf(k)` evenly over the interval.
 */
export function deliveredWh(s: ScheduleTimes, energyOf: (interval: number) => number, from: number, to: number): number {
  let wh = 0;
  for (let t = from, k = intervalAt(s, from); t < to; k++) {
    const end = s.startTime + (k + 1) * s.intervalSeconds;
    const upto = Math.min(end, to);
    wh += (energyOf(k) * (upto - t)) / s.intervalSeconds;
    t = upto;
  }
  return wh;
}

export interface ProfileMeterOptions {
  line: Partial<LineOptions>;
  replyDelayMs?: number;
  /** Wall clock, ms (tests set it). */
  wallMs?: () => number;
}

/** A meter on `port` whose register follows `flows[dayIndex(d)]` in each delivery interval d. */
export function profileMeter(port: Duplex, address: string, s: ScheduleTimes, flows: Flow[], dayIndex: (d: number) => number, o: ProfileMeterOptions): MeterSimulator {
  const direction = directionOf(address, flows);
  const wallMs = o.wallMs ?? Date.now;
  const energyOf = (d: number) => Number(direction === "export" ? flows[dayIndex(d)].exportWh : flows[dayIndex(d)].importWh);
  const started = wallMs();
  const clock = () => started + Math.floor(deliveredWh(s, energyOf, started / 1000, wallMs() / 1000));
  const watts = { importW: direction === "import" ? WATTS_PER_WH_PER_MS : 0, exportW: direction === "export" ? WATTS_PER_WH_PER_MS : 0 };
  return new MeterSimulator(port, [{ address, ...watts }], { line: o.line, replyDelayMs: o.replyDelayMs ?? 20, now: clock });
}
