/**
 * Writes a generated scenario of any size, for performance runs:
 *
 *   npx ts-node scripts/make-scenario.ts <participants> <intervals> <out.json>
 *
 * Half producers, half consumers, a third green, one grid; each prosumer bids every interval with
 * prices that cross and meters its bid within ±10 %. Seeded, so the same size gives the same file.
 */
import { writeFileSync } from "node:fs";
import { rng } from "../test/shared/random";

function generate(participants: number, intervals: number) {
  const r = rng(participants * 7919 + intervals);
  const prosumers = Array.from({ length: participants - 1 }, (_, i) => ({
    name: `p${String(i).padStart(4, "0")}`,
    green: i % 3 === 0,
    depositEther: "1",
    producer: i % 2 === 0,
  }));
  const kWh = (wh: number) => (wh / 1000).toFixed(3);
  return {
    market: {},
    participants: [...prosumers.map(({ producer: _, ...p }) => p), { name: "grid", grid: true, depositEther: "1000" }],
    intervals: Array.from({ length: intervals }, (_, j) => {
      const bids = prosumers.map((p) => ({
        participant: p.name,
        side: p.producer ? "sell" : "buy",
        energyKWh: kWh(r.int(100, 2000)),
        priceEtherPerKWh: (r.int(p.producer ? 400 : 500, p.producer ? 800 : 900) / 1e6).toFixed(6),
      }));
      const metered = Object.fromEntries(
        bids.map((b) => {
          const wh = Math.round(Number(b.energyKWh) * 1000 * (0.9 + r.next() * 0.2));
          return [b.participant, b.side === "sell" ? { exportKWh: kWh(wh) } : { importKWh: kWh(wh) }];
        }),
      );
      return { label: `interval ${j + 1}`, bids, metered };
    }),
  };
}

const [participants, intervals, out] = process.argv.slice(2);
if (!/^\d+$/.test(participants ?? "") || !/^\d+$/.test(intervals ?? "") || !out || Number(participants) < 2) {
  console.error("usage: npx ts-node scripts/make-scenario.ts <participants >= 2> <intervals> <out.json>");
  process.exit(2);
}
writeFileSync(out, JSON.stringify(generate(Number(participants), Number(intervals)), null, 1) + "\n");
console.log(`wrote ${out}: ${participants} participants, ${intervals} intervals`);
