/**
 * Gas per reading on anvil (london, automine), as the bridge sends them: each meter's own
 * `postReading` transaction (MeterPoster) against `postReadings` batches of n readings sent by the
 * relayer (BatchPoster), for the same meters in the steady state (every reading slot of the ring
 * written before, the interval before settled). The chain's clock is moved to each interval's
 * settlement time; the operator clears and settles every interval.
 *
 *   npm run bench:gas -w meter-bridge -- [meters, default 100] [--json file]
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { setMaxListeners } from "node:events";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { JsonRpcProvider, Wallet } from "ethers";
import { BatchPoster } from "../src/batchPoster";
import { Journal } from "../src/journal";
import { createLogger } from "../src/log";
import { MeterPoster } from "../src/poster";
import { Anvil, CHAIN_ID, DEV_KEY, freePort } from "../test/support/anvil";
import { deployMarket } from "../test/support/market";
import { mined } from "../test/support/wait";

const INTERVAL_SECONDS = 60;
const args = process.argv.slice(2);
const jsonAt = args.indexOf("--json");
const jsonFile = jsonAt >= 0 ? args.splice(jsonAt, 2)[1] : undefined;
const METERS = Number(args[0] ?? 100);
const BATCH_SIZES = [...new Set([METERS, 32, 10, 4, 1].filter((n) => n <= METERS))];
const quiet = createLogger(new Writable({ write: (_chunk, _encoding, done) => done() }), "error");
const median = (values: bigint[]) => [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))[Math.floor(values.length / 2)];

async function main(): Promise<void> {
  const anvil = new Anvil({ port: await freePort() });
  await anvil.start();
  const provider = new JsonRpcProvider(anvil.url, CHAIN_ID, { staticNetwork: true });
  const dir = mkdtempSync(path.join(tmpdir(), "meter-bridge-gas-"));
  try {
    const startTime = Math.floor(Date.now() / 1000) - 10 * INTERVAL_SECONDS;
    const addresses = Array.from({ length: METERS }, (_, i) => String(i + 1).padStart(12, "0"));
    const keys = addresses.map(() => new Wallet(Wallet.createRandom().privateKey));
    const relayer = new Wallet(Wallet.createRandom().privateKey);
    const market = await deployMarket(new Wallet(DEV_KEY, provider), { startTime, intervalSeconds: INTERVAL_SECONDS, meters: addresses.map((address, i) => ({ address, account: keys[i].address, ratedPowerW: 100_000 })) });
    await market.fund(relayer.address, 10n ** 19n);
    const operator = market.operator;
    const { settleOffsetSeconds, readingGraceSeconds } = market.schedule;
    const journal = Journal.open(path.join(dir, "journal.jsonl"), { chainId: String(CHAIN_ID), market: market.address, startTime, intervalSeconds: INTERVAL_SECONDS });
    const first = Math.max(...market.boundIntervals);

    /** Moves the chain's clock past the settlement and grace of `d`, journals readings of `meters` for it and posts them with `post`; then clears and settles `d`. */
    async function interval(d: number, meters: number[], post: (meters: number[]) => Promise<void>): Promise<bigint[]> {
      await provider.send("evm_setNextBlockTimestamp", [startTime + (d + 1) * INTERVAL_SECONDS + settleOffsetSeconds + readingGraceSeconds + 1]);
      await provider.send("evm_mine", []);
      for (const i of meters) journal.addReading({ meter: addresses[i], interval: d, importWh: String(1_000 + 10 * (d - first + 1)), exportWh: "0", readAt: new Date().toISOString() });
      await post(meters);
      await mined(operator.clear(d, 1000));
      await mined(operator.settle(d, market.participantIds));
      const hashes = new Set(meters.map((i) => journal.get(addresses[i], d)!.done!.hash!));
      if (meters.some((i) => journal.get(addresses[i], d)!.done!.outcome !== "posted")) throw new Error(`a reading of interval ${d} was not posted`);
      return Promise.all([...hashes].map(async (hash) => (await provider.getTransactionReceipt(hash))!.gasUsed));
    }

    /** Runs posters until every reading in the journal is settled. */
    async function runUntilSettled(posters: Array<{ run(signal: AbortSignal): Promise<void>; wake(): void }>, meters: number[]): Promise<void> {
      const stop = new AbortController();
      setMaxListeners(posters.length + 10, stop.signal);
      const running = posters.map((poster) => poster.run(stop.signal));
      posters.forEach((poster) => poster.wake());
      while (meters.some((i) => journal.unsettled(addresses[i]).length > 0)) await new Promise((resolve) => setTimeout(resolve, 20));
      stop.abort();
      await Promise.all(running);
    }
    const batchOf = (meters: number[]) => runUntilSettled([new BatchPoster(relayer, [{ path: "bench", meters: meters.map((i) => ({ address: addresses[i], wallet: keys[i] })) }], provider, market.address, CHAIN_ID, { startTime, intervalSeconds: INTERVAL_SECONDS }, journal, quiet, { pollMs: 20 })], meters);
    const singles = (meters: number[]) => runUntilSettled(meters.map((i) => new MeterPoster(addresses[i], keys[i], provider, market.address, journal, quiet, { pollMs: 20 })), meters);

    const all = addresses.map((_, i) => i);
    let d = first;
    for (; d < first + 4; d++) await interval(d, all, batchOf); // every slot of every participant's reading ring written once
    const single = await interval(d++, all, singles);
    const batches: Array<{ size: number; gas: bigint }> = [];
    for (const size of BATCH_SIZES) {
      const [gas] = await interval(d++, all.slice(0, size), batchOf);
      batches.push({ size, gas });
      if (size < METERS) await interval(d++, all, batchOf); // the others catch up: every meter has a reading in the interval before
    }
    journal.close();

    const singleMedian = median(single);
    console.log(`gas per reading on anvil (london), ${METERS} meters, steady state (ring slots written, the interval before settled)`);
    console.log(`  single post (the meter's own transaction)  ${singleMedian} gas (median of ${single.length})`);
    for (const { size, gas } of batches) console.log(`  batch of ${String(size).padEnd(4)} (the relayer's)          ${gas / BigInt(size)} gas per reading (${gas} for the batch), ${((Number(gas) / size / Number(singleMedian)) * 100).toFixed(1)} % of a single post`);
    if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify({ meters: METERS, singlePostGas: Number(singleMedian), batches: batches.map(({ size, gas }) => ({ size, gas: Number(gas), perReading: Math.round(Number(gas) / size) })) }, null, 2)}\n`);
  } finally {
    provider.destroy();
    await anvil.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
