/**
 * Batches end to end: four simulated meters on one pty -> the bridge daemon (a child process)
 * with a relayer key -> anvil, the operator settling meanwhile. Each interval's readings go in
 * one transaction of the relayer; a meter whose key the operator replaced on chain is skipped
 * with its reason while the rest of its batch stands; the bridge killed with SIGKILL while a batch
 * waits to be mined, and restarted (with the meter's new key), loses and doubles nothing; a chain
 * reorganization that drops a batch gets the same batch sent again. In the end every reading of
 * every meter is on chain exactly once, and the meters' accounts never held ether.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Interface, JsonRpcProvider, Log, Wallet } from "ethers";
import type { SerialPort } from "serialport";
import { MARKET_ABI } from "../src/abi";
import { lastBoundary } from "../src/clock";
import { DEFAULT_LINE, closeSerialPort, openSerialPort } from "../src/line";
import { MeterSimulator, SimulatedMeter } from "../src/simulator";
import { Anvil, CHAIN_ID, DEV_KEY, SECOND_DEV_KEY, freePort } from "./support/anvil";
import { BridgeProcess, LogLine } from "./support/bridgeProcess";
import { Settler, TestMarket, batchSkips, batchesMined, bindMeter, deployMarket, intervalStarted } from "./support/market";
import { PtyPair, startPtyPair } from "./support/ptyPair";
import { waitUntil } from "./support/wait";

const INTERVAL_SECONDS = 10; // a restart (2-4 s on a loaded machine) and a round of four meters fit between two boundaries
const METERS: SimulatedMeter[] = [
  { address: "000000000041", importWh: 10_000, importW: 36_000 },
  { address: "000000000042", importWh: 20_000, exportWh: 500, importW: 1_800, exportW: 20_000 },
  { address: "000000000043", importWh: 30_000, importW: 7_200 },
  { address: "000000000044", importWh: 0, exportWh: 40_000, exportW: 3_600 },
];
const REKEYED = 2; // the meter whose key the operator replaces on chain
const events = new Interface(MARKET_ABI);

interface Posted {
  meter: number;
  interval: number;
  tx: string;
  block: number;
}

describe("batches of signed readings over a pty, end to end", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "meter-bridge-batch-"));
  const keys = METERS.map(() => Wallet.createRandom());
  const newKey = Wallet.createRandom();
  const relayer = Wallet.createRandom();
  const startTime = Math.floor(Date.now() / 1000) - 2 * INTERVAL_SECONDS;
  const clock = { startTime, intervalSeconds: INTERVAL_SECONDS };
  let anvil: Anvil;
  let provider: JsonRpcProvider;
  let market: TestMarket;
  let settler: Settler;
  let pty: PtyPair;
  let meterPort: SerialPort;
  let simulator: MeterSimulator;
  let bridge: BridgeProcess;
  let firstPosted: number;

  before(async () => {
    anvil = new Anvil({ port: await freePort() });
    await anvil.start();
    provider = new JsonRpcProvider(anvil.url, CHAIN_ID, { staticNetwork: true, cacheTimeout: -1 });
    market = await deployMarket(new Wallet(DEV_KEY, provider), {
      startTime,
      intervalSeconds: INTERVAL_SECONDS,
      schedule: { readingGraceSeconds: 600 }, // the operator waits for a missing reading: none is settled without it here
      meters: METERS.map((meter, i) => ({ address: meter.address, account: keys[i].address, ratedPowerW: 100_000, openImportWh: BigInt(meter.importWh ?? 0), openExportWh: BigInt(meter.exportWh ?? 0) })),
      fundMeters: false,
    });
    await market.fund(relayer.address);
    await anvil.mineEvery(1);
    settler = new Settler(SECOND_DEV_KEY, anvil.url, market.address, market.participantIds, Math.min(...market.boundIntervals), 200).start();
    keys.forEach((key, i) => writeFileSync(path.join(dir, `meter${i}.key`), key.privateKey));
    writeFileSync(path.join(dir, "relayer.key"), relayer.privateKey);
    pty = await startPtyPair();
    meterPort = await openSerialPort(pty.b, DEFAULT_LINE);
    simulator = new MeterSimulator(meterPort, METERS);
    const config = {
      rpcUrl: anvil.url,
      chainId: CHAIN_ID,
      market: market.address,
      journal: "journal.jsonl",
      maxReadDelaySeconds: 7, // time to read four meters after a boundary on a loaded machine (a read started later is missed, and the market waits for it)
      logLevel: "debug",
      timeSync: { enabled: false },
      relayerKey: { keyFile: "relayer.key" },
      poster: { pollMs: 300, retryMaxMs: 1500, rebroadcastMs: 1000 },
      ports: [{ path: pty.a, responseTimeoutMs: 300, interByteTimeoutMs: 100, retries: 1, meters: METERS.map((meter, i) => ({ address: meter.address, key: { keyFile: `meter${i}.key` } })) }],
    };
    writeFileSync(path.join(dir, "bridge.json"), JSON.stringify(config, null, 2));
    bridge = new BridgeProcess(path.join(dir, "bridge.json"), path.join(dir, "bridge.log"));
    await intervalStarted(clock, Math.max(...market.boundIntervals)); // the bridge starts in the interval the meters serve from
  });

  after(async () => {
    await bridge?.kill();
    await settler?.close();
    simulator?.stop();
    if (meterPort) await closeSerialPort(meterPort);
    await pty?.stop();
    provider?.destroy();
    await anvil?.stop();
  });

  /** The market's ReadingPosted events on the canonical chain. */
  async function posted(): Promise<Posted[]> {
    const logs = await provider.getLogs({ address: market.address, topics: [events.getEvent("ReadingPosted")!.topicHash], fromBlock: 0 });
    return logs.map((log) => {
      const { args } = events.parseLog(log)!;
      return { meter: market.participantIds.indexOf(Number(args.participantId)), interval: Number(args.interval), tx: log.transactionHash, block: log.blockNumber };
    });
  }

  /** The newest interval every meter (but `except`) has on chain. */
  async function postedThrough(except: number[] = []): Promise<number> {
    const all = await posted().catch(() => []);
    return Math.min(...METERS.map((_, i) => (except.includes(i) ? Infinity : Math.max(-1, ...all.filter((event) => event.meter === i).map((event) => event.interval)))));
  }

  /** The next line of the bridge's log (after the `seen` lines already read) that matches. */
  async function nextLine(seen: number, match: (line: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine> {
    let found: LogLine | undefined;
    await waitUntil(() => (found = bridge.logs().slice(seen).find(match)) !== undefined, timeoutMs, what, 100);
    return found!;
  }

  /** The journal's records of one kind, as the bridge wrote them. */
  const journalRecords = (t: string) =>
    readFileSync(path.join(dir, "journal.jsonl"), "utf8")
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((record) => record.t === t);

  /** The market's events in a receipt: readings posted (by meter index) and entries skipped (index, subject, reason). */
  function batchEvents(logs: readonly Log[]) {
    const decoded = logs.map((log) => events.parseLog(log)!);
    return {
      posted: decoded.filter((event) => event.name === "ReadingPosted").map((event) => market.participantIds.indexOf(Number(event.args.participantId))),
      skipped: decoded.filter((event) => event.name === "EntrySkipped").map((event) => {
        const reason = events.parseError(event.args.reason)!;
        return [Number(event.args.index), event.args.subject, `${reason.name}(${reason.args.join(", ")})`];
      }),
    };
  }

  it("posts the four meters' readings of each interval in one transaction of the relayer", async () => {
    bridge.start();
    const started = lastBoundary(clock, Date.now());
    await waitUntil(async () => (await postedThrough()) >= started + 2, 6 * INTERVAL_SECONDS * 1000, "three intervals on chain", 200);
    const all = await posted();
    firstPosted = Math.min(...all.map((event) => event.interval));
    for (let d = firstPosted; d <= started + 2; d++) {
      const mine = all.filter((event) => event.interval === d);
      assert.deepEqual(mine.map((event) => event.meter).sort(), [0, 1, 2, 3], `interval ${d}: every meter once (bound in ${market.boundIntervals.join(", ")})`);
      assert.equal(new Set(mine.map((event) => event.tx)).size, 1, `interval ${d}: one transaction`);
      assert.equal((await provider.getTransaction(mine[0].tx))?.from, relayer.address);
    }
    // the batches of the intervals the meters serve (the start's read of the boundary before their binding may
    // come too late for some meters: those readings are missed, and the market rejects the others as out of order)
    const served = bridge.logs().filter((line) => line.msg === "batch sent" && (line.intervals as number[]).some((interval) => interval >= firstPosted));
    assert.ok(served.length >= 3 && served.every((line) => line.readings === 4 && (line.intervals as number[]).length === 1), JSON.stringify(served));
  });

  it("skips the reading of a meter whose key was replaced on chain, with its reason, and the rest of the batch stands", async () => {
    const seen = bridge.logs().length;
    const rebound = await bindMeter(market, market.prosumers[REKEYED], market.participantIds[REKEYED], { address: METERS[REKEYED].address, account: newKey.address, ratedPowerW: 100_000 });
    const skippedLine = await nextLine(seen, (line) => line.msg === "reading skipped by the market, sent again later" && line.meter === METERS[REKEYED].address, 3 * INTERVAL_SECONDS * 1000, "the skipped reading");
    const reason = `UnknownMeterAccount(${keys[REKEYED].address})`;
    assert.deepEqual([skippedLine.level, skippedLine.reason], ["error", reason]);
    assert.ok(Number(skippedLine.interval) >= rebound - 1, `interval ${skippedLine.interval}, rebound in ${rebound}`);

    const receipt = (await provider.getTransactionReceipt(String(skippedLine.tx)))!;
    assert.equal(receipt.status, 1);
    const { posted: inBatch, skipped } = batchEvents(receipt.logs);
    assert.deepEqual(inBatch.sort(), [0, 1, 3], "the other three readings posted by the same transaction");
    assert.deepEqual(skipped, [[REKEYED, BigInt(METERS[REKEYED].address), reason]], "EntrySkipped names the entry, the meter number and the reason");
    const records = journalRecords("skip").filter((record) => record.meter === METERS[REKEYED].address && record.hash === skippedLine.tx);
    assert.deepEqual(records.map((record) => [record.interval, record.reason, record.block]), [[skippedLine.interval, reason, receipt.blockNumber]], "journaled with its reason");
    assert.ok(!journalRecords("done").some((record) => record.meter === METERS[REKEYED].address && record.interval === skippedLine.interval), "not settled: it is sent again later");
  });

  it("loses and doubles nothing when killed -9 while a batch waits to be mined; restarted with the meter's new key, its held-back readings are posted", async () => {
    await provider.send("evm_setIntervalMining", [0]); // blocks stop: the next batch stays pending
    const seen = bridge.logs().length;
    const sent = await nextLine(seen, (line) => line.msg === "batch sent", 3 * INTERVAL_SECONDS * 1000, "a batch sent while no block comes");
    await waitUntil(async () => JSON.stringify(await provider.send("txpool_content", [])).includes(String(sent.tx)), 2000, "the batch in the node's pool");
    assert.equal(await provider.getTransactionReceipt(String(sent.tx)), null, "not mined");
    await bridge.kill();
    writeFileSync(path.join(dir, `meter${REKEYED}.key`), newKey.privateKey); // the gateway gets the key the meter is now bound with

    const restartedAt = bridge.logs().length;
    bridge.start();
    await nextLine(restartedAt, (line) => line.msg === "bridge started", 10_000, "the restart");
    await anvil.mineEvery(1);
    const settled = await nextLine(restartedAt, (line) => line.msg === "batch included" && line.tx === sent.tx, 4 * INTERVAL_SECONDS * 1000, "the pending batch settled by the restarted bridge");
    assert.equal(settled.readings, sent.readings);
    const all = await posted();
    const fromBatch = all.filter((event) => event.tx === sent.tx);
    for (const event of fromBatch) assert.equal(all.filter((other) => other.meter === event.meter && other.interval === event.interval).length, 1, `meter ${event.meter}, interval ${event.interval}: once`);
    assert.ok(!bridge.logs().slice(restartedAt).some((line) => line.msg === "batch sent" && line.nonce === sent.nonce), "no other batch under its nonce");

    // the meter's readings held back since its key changed go out signed with the new key, in order, each once
    const others = await postedThrough([REKEYED]);
    await waitUntil(async () => (await postedThrough()) >= others, 6 * INTERVAL_SECONDS * 1000, "the re-keyed meter caught up", 200);
    const rekeyed = (await posted()).filter((event) => event.meter === REKEYED).map((event) => event.interval);
    assert.deepEqual(rekeyed, Array.from({ length: rekeyed.length }, (_, j) => firstPosted + j), "every interval once, none lost while its key was wrong");
  });

  it("sends the same batch again when a reorganization drops it, and its readings are on chain once", async () => {
    const seen = bridge.logs().length;
    const included = await nextLine(seen, (line) => line.msg === "batch included" && line.posted === 4, 3 * INTERVAL_SECONDS * 1000, "a whole batch included");
    const head = await provider.getBlockNumber();
    await provider.send("anvil_reorg", [head - Number(included.block) + 1, []]); // its block and those after it replaced by empty ones
    const again = await nextLine(seen, (line) => line.msg === "batch sent again after a reorganization", 3 * INTERVAL_SECONDS * 1000, "the batch sent again");
    assert.equal(again.tx, included.tx, "the same signed batch");
    // found by the chain watcher (which never reports it if its last look came before the batch's block) or by the
    // relayer's transaction count falling back: whichever came first reopened the batch before it was sent again
    const found = bridge.logs().slice(seen).find((line) => line.msg === "chain reorganization" || line.msg === "the relayer's nonce went back: a batch was taken off the chain")!;
    if (found.msg === "chain reorganization") assert.ok(Number(found.forkBlock) < Number(included.block) && Number(found.depth) >= 1, JSON.stringify(found));
    else assert.ok(Number(found.nonce) <= Number(again.nonce) && Number(found.highestMined) >= Number(again.nonce), JSON.stringify(found));
    const reopened = bridge.logs().slice(seen).filter((line) => line.msg === "reading's transaction was reorganized away, sending it again");
    assert.deepEqual(reopened.map((line) => line.tx), [included.tx, included.tx, included.tx, included.tx]);
    await waitUntil(async () => (await provider.getTransactionReceipt(String(included.tx)))?.status === 1, 3 * INTERVAL_SECONDS * 1000, "the batch mined again");
    const receipt = (await provider.getTransactionReceipt(String(included.tx)))!;
    assert.equal((await provider.getBlock(receipt.blockNumber))?.hash, receipt.blockHash, "mined again in a canonical block");
    const all = await posted();
    for (const line of reopened) {
      const meter = METERS.findIndex((m) => m.address === line.meter);
      const onChain = all.filter((event) => event.meter === meter && event.interval === line.interval);
      assert.deepEqual(onChain.map((event) => event.tx), [included.tx], `meter ${line.meter}, interval ${line.interval}: once, from the same batch`);
    }
    await waitUntil(() => journalRecords("done").filter((record) => record.hash === included.tx && record.blockHash === receipt.blockHash).length === 4, 5000, "the journal follows the batch into its new block");
  });

  it("in the end: every reading of every meter on chain once with no gap, only the relayer's batches, the meters' accounts empty", async () => {
    const through = lastBoundary(clock, Date.now()) - 1;
    await waitUntil(async () => (await postedThrough()) >= through, 4 * INTERVAL_SECONDS * 1000, "the last readings", 200);
    assert.equal(await bridge.stop(), 0, "a clean stop on SIGTERM");
    await batchesMined(provider, relayer.address); // a batch sent just before the stop lands in the next block: the chain is read after it
    const all = await posted();
    for (const [i, meter] of METERS.entries()) {
      const intervals = all.filter((event) => event.meter === i).map((event) => event.interval).sort((a, b) => a - b);
      assert.deepEqual(intervals, Array.from({ length: intervals.length }, (_, j) => firstPosted + j), `meter ${meter.address}: every interval once, no gap`);
      assert.deepEqual([await provider.getTransactionCount(keys[i].address), await provider.getBalance(keys[i].address)], [0, 0n]);
    }
    const skips = await batchSkips(provider, market.address);
    const batches = new Set([...all.map((event) => event.tx), ...skips.map((skip) => skip.tx)]);
    for (const tx of batches) assert.equal((await provider.getTransaction(tx))?.from, relayer.address, `${tx} is the relayer's`);
    assert.equal(await provider.getTransactionCount(relayer.address), batches.size, "the relayer sent the batches seen on chain and nothing else");
    const rejected = bridge.logs().filter((line) => line.msg === "reading rejected by the market");
    for (const line of rejected) assert.ok(Number(line.interval) < firstPosted && String(line.reason).startsWith("ReadingOutOfOrder("), JSON.stringify(line));
  });
});
