/**
 * What the bridge does with the market's refusals, on both paths (each meter's own posts, and
 * batches sent by the relayer), on anvil with the chain's clock moved by the test: a reading four
 * intervals ahead of the participant's settlement (SettlementBehind) waits and is posted once the
 * operator settles; a reading of an interval the market settled without it (ReadingTooLate) is
 * journaled as too late, and the next reading carries its energy into the next settlement.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Interface, JsonRpcProvider, Wallet } from "ethers";
import { BatchPoster } from "../src/batchPoster";
import { Journal } from "../src/journal";
import { MeterPoster } from "../src/poster";
import { Anvil, CHAIN_ID, DEV_KEY, freePort } from "./support/anvil";
import { CapturedLog } from "./support/capturedLog";
import { TestMarket, deployMarket, marketArtifact, warp } from "./support/market";
import { waitUntil } from "./support/wait";

const INTERVAL_SECONDS = 60;
const METERS = ["000000000031", "000000000032"];
const WH_PER_INTERVAL = 100n;

function refusalSuite(kind: "single" | "batch") {
  describe(`refusals on the ${kind === "single" ? "single-post path (each meter's own transactions)" : "batch path (the relayer's postReadings)"}`, () => {
    const dir = mkdtempSync(path.join(tmpdir(), "meter-bridge-refusals-"));
    const keys = METERS.map(() => new Wallet(Wallet.createRandom().privateKey));
    const relayer = new Wallet(Wallet.createRandom().privateKey);
    const compiled = new Interface(marketArtifact().abi);
    let anvil: Anvil;
    let provider: JsonRpcProvider;
    let market: TestMarket;
    let journal: Journal;
    let log: CapturedLog;
    let b: number; // the interval the meters were bound in: their first reading
    let settledThrough: number;
    const stop = new AbortController();
    let running: Promise<void>[] = [];
    let wake: () => void;
    const startTime = Math.floor(Date.now() / 1000) - 10 * INTERVAL_SECONDS;

    before(async () => {
      anvil = new Anvil({ port: await freePort() });
      await anvil.start();
      provider = new JsonRpcProvider(anvil.url, CHAIN_ID, { staticNetwork: true });
      market = await deployMarket(new Wallet(DEV_KEY, provider), {
        startTime,
        intervalSeconds: INTERVAL_SECONDS,
        meters: METERS.map((address, i) => ({ address, account: keys[i].address, ratedPowerW: 100_000, openImportWh: 1000n })),
        fundMeters: kind === "single",
      });
      b = Math.max(...market.boundIntervals);
      settledThrough = b - 1;
      if (kind === "batch") await market.fund(relayer.address);
      journal = Journal.open(path.join(dir, "journal.jsonl"), { chainId: String(CHAIN_ID), market: market.address, startTime, intervalSeconds: INTERVAL_SECONDS });
      log = new CapturedLog(10_000);
      const options = { pollMs: 100, retryMaxMs: 400 };
      const nodes = new JsonRpcProvider(anvil.url, CHAIN_ID, { staticNetwork: true, cacheTimeout: -1 });
      const posters =
        kind === "single"
          ? METERS.map((meter, i) => new MeterPoster(meter, keys[i], nodes, market.address, journal, log, options))
          : [new BatchPoster(relayer, [{ path: "port", meters: METERS.map((address, i) => ({ address, wallet: keys[i] })) }], nodes, market.address, CHAIN_ID, { startTime, intervalSeconds: INTERVAL_SECONDS }, journal, log, options)];
      wake = () => posters.forEach((poster) => poster.wake());
      running = posters.map((poster) => poster.run(stop.signal));
    });

    after(async () => {
      stop.abort();
      await Promise.all(running);
      journal?.close();
      provider?.destroy();
      await anvil?.stop();
    });

    /** Journals both meters' readings of `d` (100 Wh more per interval since the binding) and wakes the posters. */
    const journalReadings = (d: number) => {
      for (const meter of METERS) journal.addReading({ meter, interval: d, importWh: String(1000n + WH_PER_INTERVAL * BigInt(d - b + 1)), exportWh: "0", readAt: new Date().toISOString() });
      wake();
    };
    const outcome = (meter: string, d: number) => journal.get(meter, d)?.done?.outcome;
    const allDone = (d: number) => METERS.every((meter) => outcome(meter, d) !== undefined);

    /** The operator clears and settles every interval through `d` (in order, as the market requires). */
    async function settleThrough(d: number): Promise<void> {
      for (let x = settledThrough + 1; x <= d; x++) {
        await (await market.operator.clear(x, 1000)).wait();
        await (await market.operator.settle(x, market.participantIds)).wait();
        for (const id of market.participantIds) assert.ok(Number((await market.operator.settlementOf(id)).nextInterval) > x, `participant ${id} settled for ${x}`);
        settledThrough = x;
      }
    }

    /** The ParticipantSettled event of participant `id` for interval `d`. */
    async function settlement(id: number, d: number) {
      const logs = await provider.getLogs({ address: market.address, topics: compiled.encodeFilterTopics("ParticipantSettled", [d, id]), fromBlock: 0 });
      assert.equal(logs.length, 1);
      return compiled.parseLog(logs[0])!.args;
    }

    it("a reading four intervals ahead of the settlement waits (SettlementBehind) and is posted once the operator settles", async () => {
      await warp(provider, 4 * INTERVAL_SECONDS); // b..b+3 have ended
      for (let d = b; d < b + 4; d++) journalReadings(d);
      await waitUntil(() => allDone(b + 3), 15_000, "the first four readings posted");
      for (let d = b; d < b + 4; d++) for (const meter of METERS) assert.equal(outcome(meter, d), "posted");

      await warp(provider, INTERVAL_SECONDS);
      journalReadings(b + 4); // its ring slot still holds b, not settled
      const behind = `SettlementBehind(${market.participantIds[0]}, ${b})`;
      if (kind === "single") await log.next((line) => line.msg === "posting delayed" && line.meter === METERS[0] && String(line.error).includes(behind), "the post delayed");
      else await waitUntil(() => journal.get(METERS[0], b + 4)!.skips.length > 0, 10_000, "the batch's entry skipped");
      assert.equal(outcome(METERS[0], b + 4), undefined, "not settled: retried");
      assert.deepEqual([...(await market.operator.readingOf(market.participantIds[0], b + 4))], [false, 0n, 0n]);
      if (kind === "batch") {
        const [skip] = journal.get(METERS[0], b + 4)!.skips;
        assert.equal(skip.reason, behind, "journaled with the market's reason");
        assert.ok(log.find("reading skipped by the market, sent again later").some((line) => line.meter === METERS[0] && line.interval === b + 4 && line.reason === behind));
      }

      await settleThrough(b);
      await waitUntil(() => allDone(b + 4), 10_000, "the reading posted after the settlement");
      for (const [i, meter] of METERS.entries()) {
        assert.equal(outcome(meter, b + 4), "posted");
        assert.deepEqual([...(await market.operator.readingOf(market.participantIds[i], b + 4))], [true, 1000n + 5n * WH_PER_INTERVAL, 0n]);
      }
      assert.deepEqual(log.find("reading rejected by the market"), []);
    });

    it("a reading of an interval the market settled without it is journaled as too late, and the next reading carries its energy", async () => {
      // b+5 is read late: the operator settles it without its reading once the grace period is over
      const { settleOffsetSeconds, readingGraceSeconds } = market.schedule;
      const now = (await provider.getBlock("latest"))!.timestamp;
      await warp(provider, startTime + (b + 6) * INTERVAL_SECONDS + settleOffsetSeconds + readingGraceSeconds + 1 - now);
      await settleThrough(b + 5);
      for (const id of market.participantIds) assert.equal((await settlement(id, b + 5)).readingMissing, true);

      journalReadings(b + 5);
      await waitUntil(() => allDone(b + 5), 10_000, "the late reading's outcome");
      journalReadings(b + 6);
      await waitUntil(() => allDone(b + 6), 10_000, "the next reading posted");
      for (const meter of METERS) {
        assert.deepEqual(journal.get(meter, b + 5)!.done, { t: "done", meter, interval: b + 5, outcome: "too-late", reason: `ReadingTooLate(${b + 5}, ${b + 6})`, ...(kind === "batch" ? { hash: journal.get(meter, b + 5)!.txs.at(-1)!.hash } : {}) });
        assert.equal(outcome(meter, b + 6), "posted");
      }
      assert.deepEqual(log.find("reading too late: the market settled its interval without it, the next reading carries its energy").map((line) => [line.meter, line.interval]), METERS.map((meter) => [meter, b + 5]));
      assert.deepEqual(log.find("reading rejected by the market"), []);

      await warp(provider, settleOffsetSeconds);
      await settleThrough(b + 6);
      for (const id of market.participantIds) {
        const settled = await settlement(id, b + 6);
        assert.equal(settled.readingMissing, false);
        assert.equal(settled.actualWh, -2n * WH_PER_INTERVAL, "two intervals of import: its own and the late one's");
      }
    });
  });
}

refusalSuite("single");
refusalSuite("batch");
