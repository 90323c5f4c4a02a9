/**
 * Test 1 on real Geth: a two-node Clique chain (Geth 1.13.15); `simulate --network privnet` plays the
 * paper's day in real time with 40-second intervals through the deployed market; its result.json
 * equals the in-process run's, field by field.
 *
 * The default run (npm test) plays 6 intervals of the paper's day (10:00 to 11:15, where bids
 * cross); `npm run test:geth` plays all 96 (PAPER_DAY_INTERVALS=96, about 70 minutes).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { REPO_ROOT, hardhat, testChain } from "./support";

const INTERVALS = Number(process.env.PAPER_DAY_INTERVALS ?? "6");
const FIRST = INTERVALS >= 96 ? 0 : 40;

let t: Awaited<ReturnType<typeof testChain>>;
before(async () => {
  t = await testChain({ engine: "clique", nodes: 2, period: 1 });
});
after(async () => t?.stop());

test(`the paper's day (${INTERVALS} intervals of 40 s) through simulate --network privnet equals the in-process run`, { timeout: 100 * 60_000 }, async () => {
  const day = JSON.parse(readFileSync(path.join(REPO_ROOT, "scenarios/paper-day.json"), "utf8"));
  // 40-second intervals; a rated power of 1 MW lets a 40-second interval meter the paper's 15-minute energies
  const scenario = {
    ...day,
    market: { ...day.market, intervalSeconds: 40, commitSeconds: 10, revealSeconds: 8, settleOffsetSeconds: 8, readingGraceSeconds: 6 },
    participants: day.participants.map((p: { grid?: boolean }) => (p.grid ? p : { ...p, ratedPowerKW: "1000" })),
    intervals: day.intervals.slice(FIRST, FIRST + INTERVALS),
  };
  const file = path.join(t.dir, "scenario.json");
  writeFileSync(file, JSON.stringify(scenario));
  const started = Date.now();
  // real time: the intervals themselves, plus enrolment and the last settlement
  const realTimeMs = (INTERVALS + 6) * 40_000 + 5 * 60_000;
  const { stderr } = await hardhat(["simulate", "--network", "privnet", "--scenario", file, "--out", path.join(t.dir, "geth"), "--quiet"], t.env, realTimeMs);
  const gethSeconds = (Date.now() - started) / 1000;
  assert.match(stderr, /privnet: using http:\/\/127\.0\.0\.1:\d+/, "the task says which node it uses");
  await hardhat(["simulate", "--scenario", file, "--out", path.join(t.dir, "inprocess"), "--quiet"], { ...process.env });
  const geth = JSON.parse(readFileSync(path.join(t.dir, "geth", "result.json"), "utf8"));
  const local = JSON.parse(readFileSync(path.join(t.dir, "inprocess", "result.json"), "utf8"));
  assert.equal(geth.intervals.length, INTERVALS);
  assert.ok(geth.intervals.flatMap((i: { trades: unknown[] }) => i.trades).length > INTERVALS, "bids crossed and traded");
  for (const k of ["market", "participants", "intervals", "wallets", "incentivePoolEther", "owed"]) assert.deepEqual(geth[k], local[k], k);
  // gas differs by a few units with the random salts' zero bytes (calldata pricing), not by chain: same transactions
  const counts = (g: Record<string, { transactions?: number }>) => Object.fromEntries(Object.entries(g).map(([k, v]) => [k, v?.transactions]));
  // except the closing of the intervals before the first traded one: enrolling takes real seconds on
  // Geth, none in process, so it may span one interval more (a clearing and a settlement each)
  const { settleBeforeFirst: gethBefore, ...gethCounts } = counts(geth.gas);
  const { settleBeforeFirst: localBefore, ...localCounts } = counts(local.gas);
  assert.deepEqual(gethCounts, localCounts, "the same transactions of each kind");
  assert.ok(localBefore! >= 2 && gethBefore! >= localBefore! && gethBefore! % 2 === 0, `closing the intervals before the first: ${gethBefore} on Geth, ${localBefore} in process`);
  console.log(`# ${INTERVALS} intervals on Geth Clique in ${gethSeconds.toFixed(0)} s`);
});
