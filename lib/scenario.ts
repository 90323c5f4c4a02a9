/**
 * Scenario files for the simulator: parsing and validation with errors that name the field, and the
 * paper's values as defaults. Decimal strings in, exact integers (Wh, wei, ppm) out.
 */
import { readFileSync } from "node:fs";
import { MarketParams, PAPER_PARAMS, Schedule, scheduleFor } from "./market";
import type { ScheduleTimes } from "./deployment";
import { UnitError, etherToWei, kWhToWh, parseDecimal, ratioToPpm, whToKWh } from "./units";

export class ScenarioError extends Error {}

/** A scenario's market: the schedule's durations (its start is the run's), parameters as decimal strings. */
export interface ScenarioMarket extends Omit<ScheduleTimes, "startTime"> {
  balancingShortRatio: string;
  balancingLongRatio: string;
  rewardRatio: string;
  penaltyRatio: string;
  marginEther: string;
  forfeitEther: string;
  referencePriceEtherPerKWh: string;
  maxPriceEtherPerKWh: string;
  maxEnergyKWh: string;
  incentivePoolEther: string;
  cnyPerEther: string;
}

export interface ScenarioParticipant {
  name: string;
  green: boolean;
  grid: boolean;
  depositWei: bigint;
  /** The meter's rated power: given, or sized from the scenario (see `defaultRatedPowerW`). */
  ratedPowerW: bigint;
}

export interface ScenarioBid {
  participant: string;
  side: "sell" | "buy";
  energyWh: bigint;
  priceWeiPerKWh: bigint;
}

export interface ScenarioInterval {
  label: string;
  bids: ScenarioBid[];
  /** Energy per prosumer in this interval; a prosumer missing here had no flow. */
  metered: Map<string, { importWh: bigint; exportWh: bigint }>;
}

export interface Scenario {
  market: ScenarioMarket;
  participants: ScenarioParticipant[];
  intervals: ScenarioInterval[];
}

/** Shortest default commit or reveal window, seconds (when the interval is long enough for it). */
const MIN_WINDOW_SECONDS = 3;

const PAPER_MARKET = {
  balancingShortRatio: "1.1",
  balancingLongRatio: "0.9",
  rewardRatio: "0.01",
  penaltyRatio: "0.05",
  marginEther: "0.001",
  forfeitEther: "0.0001",
  referencePriceEtherPerKWh: "0.0007",
  maxPriceEtherPerKWh: "1",
  maxEnergyKWh: "1000",
  incentivePoolEther: "1",
  cnyPerEther: "626.2",
};

export function loadScenario(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new ScenarioError(`cannot read scenario file ${path}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ScenarioError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  return parseScenario(json);
}

/** Validate a parsed scenario; every error names the offending field, e.g. `intervals[3].bids[0].side`. */
export function parseScenario(json: unknown): Scenario {
  const root = object(json, "scenario");
  const market = parseMarket(root.market === undefined ? {} : object(root.market, "market"));
  const participants = array(root.participants, "participants").map((p, i) => parseParticipant(p, `participants[${i}]`));
  if (!participants.length) throw new ScenarioError("participants: at least one participant is needed");
  const names = new Set<string>();
  for (const [i, p] of participants.entries()) {
    if (names.has(p.name)) throw new ScenarioError(`participants[${i}].name: "${p.name}" appears twice`);
    names.add(p.name);
  }
  if (participants.filter((p) => p.grid).length > 1) throw new ScenarioError("participants: at most one participant can be the grid");
  const byName = new Map(participants.map((p) => [p.name, p]));
  const intervals = array(root.intervals, "intervals").map((x, i) => parseInterval(x, `intervals[${i}]`, byName));
  if (!intervals.length) throw new ScenarioError("intervals: at least one interval is needed");
  const given = array(root.participants, "participants").map((p) => (p as Record<string, unknown>).ratedPowerKW !== undefined);
  participants.forEach((p, i) => {
    if (p.grid) return;
    if (!given[i]) p.ratedPowerW = defaultRatedPowerW(p.name, intervals, market.intervalSeconds);
    else checkRating(p, `participants[${i}].ratedPowerKW`, intervals, market.intervalSeconds);
  });
  return { market, participants, intervals };
}

/** The power a meter needs to register `wh` within one interval, in W, rounded up. */
const powerFor = (wh: bigint, intervalSeconds: number): bigint => (wh * 3600n + BigInt(intervalSeconds) - 1n) / BigInt(intervalSeconds);

/**
 * A meter rating sized from the scenario: 1.5 times the highest power the participant's meter
 * registers in any interval (its largest interval energy over the interval length), rounded up to
 * whole kW, at least 1 kW. The market refuses a reading above rating × elapsed time, so a fixed
 * default would refuse the same energies once the intervals are short (a real-time replay).
 */
export function defaultRatedPowerW(name: string, intervals: ScenarioInterval[], intervalSeconds: number): bigint {
  let most = 0n;
  for (const iv of intervals) {
    const e = iv.metered.get(name);
    if (e) most = [e.importWh, e.exportWh, most].reduce((a, b) => (a > b ? a : b));
  }
  const needed = (powerFor(most, intervalSeconds) * 3n) / 2n;
  const kW = (needed + 999n) / 1000n;
  return (kW < 1n ? 1n : kW) * 1000n;
}

/** A given rating must let the meter register every interval's energy: say which interval needs more. */
function checkRating(p: ScenarioParticipant, at: string, intervals: ScenarioInterval[], intervalSeconds: number) {
  for (const [j, iv] of intervals.entries()) {
    const e = iv.metered.get(p.name);
    if (!e) continue;
    const wh = e.importWh > e.exportWh ? e.importWh : e.exportWh;
    const needed = powerFor(wh, intervalSeconds);
    if (needed > p.ratedPowerW) {
      throw new ScenarioError(
        `intervals[${j}].metered.${p.name}: ${whToKWh(wh)} kWh in a ${intervalSeconds}-s interval needs a meter rated at least ${whToKWh(needed)} kW, but ${at} is ${whToKWh(p.ratedPowerW)} (leave it out to size it from the scenario)`,
      );
    }
  }
}

function parseMarket(m: Record<string, unknown>): ScenarioMarket {
  const known = new Set([
    "intervalSeconds", "commitSeconds", "revealSeconds", "settleOffsetSeconds", "readingGraceSeconds", ...Object.keys(PAPER_MARKET),
  ]);
  for (const k of Object.keys(m)) if (!known.has(k)) throw new ScenarioError(`market.${k}: unknown field`);
  const intervalSeconds = integer(m.intervalSeconds ?? 900, "market.intervalSeconds", 3);
  const defaults = scheduleFor(intervalSeconds);
  // the paper's 2/15 and 1/15 of an interval, but a few seconds at least where the interval allows:
  // replayed in real time on a node with 1-second blocks, a 1-second window closes before its batch is mined
  const window = (scaled: unknown) => Math.max(Number(scaled), Math.min(MIN_WINDOW_SECONDS, Math.floor(intervalSeconds / 4)));
  const out: ScenarioMarket = {
    intervalSeconds,
    commitSeconds: integer(m.commitSeconds ?? window(defaults.commitSeconds), "market.commitSeconds", 1),
    revealSeconds: integer(m.revealSeconds ?? window(defaults.revealSeconds), "market.revealSeconds", 1),
    settleOffsetSeconds: integer(m.settleOffsetSeconds ?? Number(defaults.settleOffsetSeconds), "market.settleOffsetSeconds", 0),
    readingGraceSeconds: integer(m.readingGraceSeconds ?? Number(defaults.readingGraceSeconds), "market.readingGraceSeconds", 0),
    ...PAPER_MARKET,
  };
  for (const k of Object.keys(PAPER_MARKET) as (keyof typeof PAPER_MARKET)[]) {
    if (m[k] !== undefined) out[k] = decimalString(m[k], `market.${k}`);
  }
  if (out.commitSeconds + out.revealSeconds >= out.intervalSeconds) {
    throw new ScenarioError("market.commitSeconds + market.revealSeconds must be shorter than market.intervalSeconds");
  }
  if (out.settleOffsetSeconds >= out.intervalSeconds) throw new ScenarioError("market.settleOffsetSeconds must be shorter than market.intervalSeconds");
  field(() => marketParams(out), "market", true);
  return out;
}

function parseParticipant(x: unknown, at: string): ScenarioParticipant {
  const p = object(x, at);
  const name = p.name;
  if (typeof name !== "string" || !name.length || Buffer.byteLength(name) > 64) throw new ScenarioError(`${at}.name: a name of 1 to 64 bytes is needed`);
  return {
    name,
    green: boolean(p.green ?? false, `${at}.green`),
    grid: boolean(p.grid ?? false, `${at}.grid`),
    depositWei: field(() => etherToWei(decimalString(p.depositEther ?? "0", `${at}.depositEther`)), `${at}.depositEther`),
    ratedPowerW: p.ratedPowerKW === undefined ? 0n : positive(field(() => parseDecimal(decimalString(p.ratedPowerKW, `${at}.ratedPowerKW`), 3, "ratedPowerKW"), `${at}.ratedPowerKW`), `${at}.ratedPowerKW`),
  };
}

function parseInterval(x: unknown, at: string, byName: Map<string, ScenarioParticipant>): ScenarioInterval {
  const iv = object(x, at);
  const label = iv.label === undefined ? at : iv.label;
  if (typeof label !== "string") throw new ScenarioError(`${at}.label: expected a string`);
  const bidders = new Set<string>();
  const bids = array(iv.bids ?? [], `${at}.bids`).map((b, j) => {
    const bat = `${at}.bids[${j}]`;
    const bid = object(b, bat);
    const participant = knownName(bid.participant, `${bat}.participant`, byName);
    if (bidders.has(participant)) throw new ScenarioError(`${bat}.participant: "${participant}" already bid in this interval (one bid per participant)`);
    bidders.add(participant);
    if (bid.side !== "sell" && bid.side !== "buy") throw new ScenarioError(`${bat}.side: expected "sell" or "buy", got ${JSON.stringify(bid.side)}`);
    return {
      participant,
      side: bid.side,
      energyWh: field(() => kWhToWh(decimalString(bid.energyKWh, `${bat}.energyKWh`)), `${bat}.energyKWh`),
      priceWeiPerKWh: field(() => etherToWei(decimalString(bid.priceEtherPerKWh, `${bat}.priceEtherPerKWh`)), `${bat}.priceEtherPerKWh`),
    } as ScenarioBid;
  });
  const metered = new Map<string, { importWh: bigint; exportWh: bigint }>();
  const m = iv.metered === undefined ? {} : object(iv.metered, `${at}.metered`);
  for (const [name, v] of Object.entries(m)) {
    const mat = `${at}.metered.${name}`;
    const p = knownName(name, mat, byName);
    if (byName.get(p)!.grid) throw new ScenarioError(`${mat}: the grid has no meter`);
    const e = object(v, mat);
    for (const k of Object.keys(e)) if (k !== "importKWh" && k !== "exportKWh") throw new ScenarioError(`${mat}.${k}: unknown field (importKWh or exportKWh)`);
    const importWh = field(() => kWhToWh(decimalString(e.importKWh ?? "0", `${mat}.importKWh`)), `${mat}.importKWh`);
    const exportWh = field(() => kWhToWh(decimalString(e.exportKWh ?? "0", `${mat}.exportKWh`)), `${mat}.exportKWh`);
    if (importWh < 0n || exportWh < 0n) throw new ScenarioError(`${mat}: energies are amounts, not negative`);
    metered.set(p, { importWh, exportWh });
  }
  return { label, bids, metered };
}

/**
 * The contract's parameters from the scenario's market block. The balancing price's band and minimum
 * volume are not scenario fields (yet): the paper's defaults (lib/market PAPER_PARAMS) apply.
 */
export function marketParams(m: ScenarioMarket): MarketParams {
  return {
    marginWei: etherToWei(m.marginEther, "marginEther"),
    forfeitWei: etherToWei(m.forfeitEther, "forfeitEther"),
    referencePriceWeiPerKWh: etherToWei(m.referencePriceEtherPerKWh, "referencePriceEtherPerKWh"),
    maxPriceWeiPerKWh: etherToWei(m.maxPriceEtherPerKWh, "maxPriceEtherPerKWh"),
    maxEnergyWh: kWhToWh(m.maxEnergyKWh, "maxEnergyKWh"),
    minVolumeWh: PAPER_PARAMS.minVolumeWh,
    floorPriceWeiPerKWh: PAPER_PARAMS.floorPriceWeiPerKWh,
    capPriceWeiPerKWh: PAPER_PARAMS.capPriceWeiPerKWh,
    shortRatioPpm: ratioToPpm(m.balancingShortRatio, "balancingShortRatio"),
    longRatioPpm: ratioToPpm(m.balancingLongRatio, "balancingLongRatio"),
    rewardRatioPpm: ratioToPpm(m.rewardRatio, "rewardRatio"),
    penaltyRatioPpm: ratioToPpm(m.penaltyRatio, "penaltyRatio"),
  };
}

export function marketSchedule(m: ScenarioMarket, startTime: bigint): Schedule {
  return {
    startTime,
    intervalSeconds: m.intervalSeconds,
    commitSeconds: m.commitSeconds,
    revealSeconds: m.revealSeconds,
    settleOffsetSeconds: m.settleOffsetSeconds,
    readingGraceSeconds: m.readingGraceSeconds,
  };
}

// ------------------------------------------------------------------ field checks

function object(x: unknown, at: string): Record<string, unknown> {
  if (typeof x !== "object" || x === null || Array.isArray(x)) throw new ScenarioError(`${at}: expected an object`);
  return x as Record<string, unknown>;
}

function array(x: unknown, at: string): unknown[] {
  if (!Array.isArray(x)) throw new ScenarioError(`${at}: expected an array`);
  return x;
}

function boolean(x: unknown, at: string): boolean {
  if (typeof x !== "boolean") throw new ScenarioError(`${at}: expected true or false`);
  return x;
}

function integer(x: unknown, at: string, min: number): number {
  if (typeof x !== "number" || !Number.isInteger(x) || x < min) throw new ScenarioError(`${at}: expected a whole number >= ${min}, got ${JSON.stringify(x)}`);
  return x;
}

function positive(x: bigint, at: string): bigint {
  if (x <= 0n) throw new ScenarioError(`${at}: expected a power above 0 kW`);
  return x;
}

function decimalString(x: unknown, at: string): string {
  if (typeof x !== "string") throw new ScenarioError(`${at}: expected a decimal string such as "0.43", got ${JSON.stringify(x)}`);
  return x;
}

function knownName(x: unknown, at: string, byName: Map<string, ScenarioParticipant>): string {
  if (typeof x !== "string" || !byName.has(x)) throw new ScenarioError(`${at}: unknown participant ${JSON.stringify(x)}`);
  return x;
}

/** Run a unit conversion, reporting its failure against the field (or, with `nested`, below it). */
function field<T>(f: () => T, at: string, nested = false): T {
  try {
    return f();
  } catch (e) {
    if (nested && e instanceof UnitError) throw new ScenarioError(`${at}.${e.message}`);
    if (e instanceof UnitError || e instanceof ScenarioError) {
      const msg = e.message.replace(/^[^:]*: /, "");
      throw new ScenarioError(e.message.startsWith(at) ? e.message : `${at}: ${msg}`);
    }
    throw e;
  }
}
