/**
 * Writes scenarios/paper-day.json: the paper's five users over one day of 96 intervals.
 *
 *   npx ts-node scripts/make-paper-day.ts
 *
 * Daily profiles (wind, dispatchable generation, EV charging, a conventional load with morning
 * and evening peaks) plus forecast errors between bids and meter readings, drawn from a seeded
 * generator so the file is reproduced byte for byte. The 03:00, 14:00 and 18:30 intervals are
 * the paper's (Table 1 and section 3.2) and are written exactly as published.
 * Units inside: energy in Wh, prices in micro-ether per kWh (integers, so no float rounding).
 */
import { writeFileSync } from "fs";
import * as path from "path";
import { clearBook, type BidSide, type ModelBid } from "../lib/model";
import { whToKWh, weiToEther } from "../lib/units";

const OUTPUT = path.join(__dirname, "..", "scenarios", "paper-day.json");
const SEED = 20190315;

const MARKET = {
  intervalSeconds: 900,
  commitSeconds: 120,
  revealSeconds: 60,
  balancingShortRatio: "1.1",
  balancingLongRatio: "0.9",
  rewardRatio: "0.01",
  penaltyRatio: "0.05",
  marginEther: "0.001",
  referencePriceEtherPerKWh: "0.0007",
  incentivePoolEther: "1",
  cnyPerEther: "626.2",
};

/** Registration order is the tie-break order of the matching. */
const PARTICIPANTS = [
  { name: "wind", green: true, depositEther: "1" },
  { name: "controllable", green: false, depositEther: "1" },
  { name: "ev", green: true, depositEther: "1" },
  { name: "conventional", green: false, depositEther: "1" },
  { name: "grid", green: false, grid: true, depositEther: "100" },
];

type Prosumer = "wind" | "controllable" | "ev" | "conventional";
const PRODUCERS: Prosumer[] = ["wind", "controllable"];
const PROSUMERS: Prosumer[] = ["wind", "controllable", "ev", "conventional"];

interface Bid {
  participant: Prosumer;
  side: BidSide;
  wh: number;
  microPrice: number;
}

type Metered = Record<Prosumer, number>;

interface Interval {
  label: string;
  bids: Bid[];
  metered: Metered;
}

// ---------------------------------------------------------------------------------------
// The paper's intervals, exactly as published.

function paperBid(participant: Prosumer, kWh: number, microPrice: number): Bid {
  return { participant, side: PRODUCERS.includes(participant) ? "sell" : "buy", wh: Math.round(kWh * 1000), microPrice };
}

const PAPER_INTERVALS: Record<string, Omit<Interval, "label">> = {
  // Supply 1.53, demand 1.04: wind -> EV 0.84 @ 0.532, controllable -> conventional 0.10 @ 0.488,
  // controllable -> EV 0.10 @ 0.484.
  "03:00": {
    bids: [paperBid("wind", 0.84, 504), paperBid("controllable", 0.69, 408), paperBid("ev", 0.94, 560), paperBid("conventional", 0.1, 568)],
    metered: { wind: 830, controllable: 200, ev: 950, conventional: 110 },
  },
  // Supply 0.55, demand 1.27, A = 0.757; the conventional load imports 1.15: short by 0.85.
  "14:00": {
    bids: [paperBid("wind", 0.43, 700), paperBid("controllable", 0.12, 734), paperBid("ev", 0.25, 786), paperBid("conventional", 1.02, 824)],
    metered: { wind: 420, controllable: 120, ev: 260, conventional: 1150 },
  },
  // Every trade at 0.723; the conventional load imports 0.52 of 0.60 cleared: long by 0.08.
  "18:30": {
    bids: [paperBid("wind", 0.3, 700), paperBid("controllable", 0.6, 700), paperBid("ev", 0.3, 746), paperBid("conventional", 0.6, 746)],
    metered: { wind: 290, controllable: 600, ev: 310, conventional: 520 },
  },
};

// ---------------------------------------------------------------------------------------
// Seeded randomness.

/** mulberry32: a small, well-known 32-bit generator; uniform in [0, 1). */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = seededRandom(SEED);

/** Standard normal sample (Box-Muller). */
function normal(): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

// ---------------------------------------------------------------------------------------
// Daily profiles; `hour` is the start of the interval in hours (0 .. 23.75).

const bump = (hour: number, centre: number, width: number) => Math.exp(-(((hour - centre) / width) ** 2) / 2);
const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value));

/** Wind varies slowly around a stronger night: a smooth curve plus an autocorrelated gust term. */
let gust = 0;
function windWh(hour: number): number {
  gust = 0.85 * gust + 90 * normal();
  return clamp(650 + 300 * Math.cos((2 * Math.PI * (hour - 3)) / 24) + gust, 100, 1500);
}

/** Dispatchable generation offered more in the day and evening, when prices are higher. */
function controllableWh(hour: number): number {
  return clamp(350 + 350 * bump(hour, 11, 3) + 300 * bump(hour, 19, 2) + 60 * normal(), 150, 1200);
}

/** EV charging: overnight and in the evening at home, a little at work, otherwise idle (0). */
function evWh(hour: number): number {
  if (hour < 6.5) return clamp(900 + 120 * normal(), 600, 1200);
  if (hour >= 18) return clamp(750 + 150 * normal(), 400, 1100);
  if (hour >= 10 && hour < 16) return clamp(250 + 60 * normal(), 100, 400);
  return 0;
}

/** Conventional load with a morning and a larger evening peak. */
function conventionalWh(hour: number): number {
  return clamp(300 + 700 * bump(hour, 8, 1.3) + 1000 * bump(hour, 19.5, 1.8) + 60 * normal(), 100, 2000);
}

/** Price level of the hour (micro-ether per kWh): cheap at night, dearer at the peaks. */
function priceLevel(hour: number): number {
  return 540 + 130 * bump(hour, 9, 2.5) + 200 * bump(hour, 19.5, 2.5) - 60 * bump(hour, 3, 2.5);
}

function quote(level: number, offset: number, spread: number): number {
  return Math.round(clamp(level + offset + spread * normal(), 400, 900));
}

function generatedBids(hour: number): Bid[] {
  const level = priceLevel(hour);
  const bids: Bid[] = [
    { participant: "wind", side: "sell", wh: windWh(hour), microPrice: quote(level, -50, 20) },
    { participant: "controllable", side: "sell", wh: controllableWh(hour), microPrice: quote(level, -10, 25) },
    { participant: "ev", side: "buy", wh: evWh(hour), microPrice: quote(level, 40, 20) },
    { participant: "conventional", side: "buy", wh: conventionalWh(hour), microPrice: quote(level, 50, 25) },
  ];
  return bids.map((b) => ({ ...b, wh: Math.round(b.wh) })).filter((b) => b.wh > 0);
}

// ---------------------------------------------------------------------------------------
// Meter readings: what actually flowed, given the bids and the matching.

function clearedWh(bids: Bid[]): Map<Prosumer, number> {
  const modelBids: ModelBid[] = bids.map((b) => ({
    id: PROSUMERS.indexOf(b.participant),
    side: b.side,
    green: PARTICIPANTS.find((p) => p.name === b.participant)!.green,
    energyWh: BigInt(b.wh),
    priceWeiPerKWh: BigInt(b.microPrice) * 10n ** 12n,
  }));
  const filled = clearBook(modelBids).filledWh;
  return new Map(PROSUMERS.map((name, id) => [name, Number(filled.get(id) ?? 0n)]));
}

/** Forecast error: `energy` scaled by a normal deviation of `sigma`, never below zero. */
function withError(wh: number, sigma: number): number {
  return Math.max(0, Math.round(wh * (1 + sigma * normal())));
}

/**
 * Wind and loads follow the weather and the consumers, whatever cleared (forecast errors of
 * 8 %, 3 % and 10 %); the controllable source follows its cleared schedule within 2 %.
 */
function meteredWh(bids: Bid[]): Metered {
  const declared = (name: Prosumer) => bids.find((b) => b.participant === name)?.wh ?? 0;
  const cleared = clearedWh(bids);
  return {
    wind: withError(declared("wind"), 0.08),
    controllable: withError(cleared.get("controllable")!, 0.02),
    ev: withError(declared("ev"), 0.03),
    conventional: withError(declared("conventional"), 0.1),
  };
}

// ---------------------------------------------------------------------------------------
// The scenario file.

function label(index: number): string {
  const minutes = index * 15;
  return `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`;
}

/** Every interval draws its random numbers, so the paper's intervals do not shift the others. */
function makeInterval(index: number): Interval {
  const bids = generatedBids(index / 4);
  const generated = { label: label(index), bids, metered: meteredWh(bids) };
  return { ...generated, ...PAPER_INTERVALS[generated.label] };
}

function scenarioInterval({ label, bids, metered }: Interval) {
  return {
    label,
    bids: bids.map((b) => ({
      participant: b.participant,
      side: b.side,
      energyKWh: whToKWh(BigInt(b.wh)),
      priceEtherPerKWh: weiToEther(BigInt(b.microPrice) * 10n ** 12n),
    })),
    metered: Object.fromEntries(
      PROSUMERS.map((name) => [name, { [PRODUCERS.includes(name) ? "exportKWh" : "importKWh"]: whToKWh(BigInt(metered[name])) }]),
    ),
  };
}

function main(): void {
  const intervals = Array.from({ length: 96 }, (_, index) => scenarioInterval(makeInterval(index)));
  const scenario = { market: MARKET, participants: PARTICIPANTS, intervals };
  writeFileSync(OUTPUT, JSON.stringify(scenario, null, 2) + "\n");
  console.log(`wrote ${path.relative(process.cwd(), OUTPUT)}: ${intervals.length} intervals`);
}

main();
