/**
 * The bridge's side of the chain on anvil: a posted reading whose block a reorganization
 * replaces (`anvil_reorg`) is noticed by its block hash, journaled as unsettled again, and its
 * same signed transaction sent again, with the depth in the log; and with two nodes of one chain,
 * posting goes on through the second when the first stops answering.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Contract, Interface, JsonRpcProvider, Wallet } from "ethers";
import { MARKET_ABI } from "../src/abi";
import { ChainWatcher } from "../src/chain";
import { Journal } from "../src/journal";
import { MeterPoster } from "../src/poster";
import { NodePool } from "../src/rpc";
import { Anvil, CHAIN_ID, DEV_KEY, freePort } from "./support/anvil";
import { CapturedLog } from "./support/capturedLog";
import { startRpcProxy } from "./support/rpcProxy";
import { deployMarket, warp } from "./support/market";
import { waitUntil } from "./support/wait";

const INTERVAL_SECONDS = 60;
const METER = "000000000021";
const dir = mkdtempSync(path.join(tmpdir(), "meter-bridge-nodes-"));
const reading = (interval: number, importWh: string) => ({ meter: METER, interval, importWh, exportWh: "0", readAt: new Date().toISOString() });

/**
 * A market with METER bound, started ten intervals ago, on `anvil`; the chain's clock is then moved
 * two intervals on, so the binding interval (`first`, the first the meter posts) and the one after have ended.
 */
async function marketOn(anvil: Anvil, key: string) {
  const provider = new JsonRpcProvider(anvil.url, CHAIN_ID, { staticNetwork: true });
  const startTime = Math.floor(Date.now() / 1000) - 10 * INTERVAL_SECONDS;
  const { address, participantIds, boundIntervals } = await deployMarket(new Wallet(DEV_KEY, provider), { startTime, intervalSeconds: INTERVAL_SECONDS, meters: [{ address: METER, account: new Wallet(key).address, ratedPowerW: 100_000 }] });
  await warp(provider, 2 * INTERVAL_SECONDS);
  provider.destroy();
  return { market: address, participantId: participantIds[0], first: boundIntervals[0], header: { chainId: String(CHAIN_ID), market: address, startTime, intervalSeconds: INTERVAL_SECONDS } };
}

/** The market's ReadingPosted events of the canonical chain: [transaction, interval]. */
async function postedEvents(provider: JsonRpcProvider, market: string): Promise<Array<[string, number]>> {
  const events = new Interface(MARKET_ABI);
  const logs = await provider.getLogs({ address: market, topics: [events.getEvent("ReadingPosted")!.topicHash], fromBlock: 0 });
  return logs.map((log) => [log.transactionHash, Number(events.parseLog(log)!.args.interval)]);
}

describe("a posted reading taken off the chain by a reorganization", () => {
  let anvil: Anvil;
  before(async () => {
    anvil = new Anvil({ port: await freePort() });
    await anvil.start();
  });
  after(() => anvil?.stop());

  it("is noticed by its block hash, reopened and its transaction sent again, once; the log gives the depth", async () => {
    const key = Wallet.createRandom().privateKey;
    const { market, participantId, header, first: d } = await marketOn(anvil, key);
    const log = new CapturedLog(10_000);
    const provider = new NodePool([anvil.url], CHAIN_ID, log, { timeoutMs: 5000, onWrongChain: (error) => assert.fail(error) });
    const journal = Journal.open(path.join(dir, "reorg.jsonl"), header);
    journal.addReading(reading(d, "1500"));
    const poster = new MeterPoster(METER, new Wallet(key), provider, market, journal, log, { pollMs: 100 });
    const watcher = new ChainWatcher(provider, log, { windowBlocks: 16 });
    watcher.on("reorg", (reorg) => poster.reorganized(reorg));
    const stop = new AbortController();
    const running = poster.run(stop.signal);
    try {
      await waitUntil(() => journal.get(METER, d)?.done !== undefined, 10_000, "the first post");
      const first = journal.get(METER, d)!.done!;
      assert.equal(first.outcome, "posted");
      await provider.send("evm_mine", []);
      assert.equal(await watcher.check(), undefined, "no reorganization yet");

      await provider.send("anvil_reorg", [2, []]); // replaces the post's block and the one after it
      const reorg = await watcher.check();
      assert.deepEqual(reorg, { forkBlock: first.block! - 1, depth: 2, oldHead: first.block! + 1, newHead: first.block! + 1 });
      await waitUntil(() => journal.get(METER, d)?.done?.blockHash !== undefined && journal.get(METER, d)?.done?.blockHash !== first.blockHash, 10_000, "the post mined again");

      const again = journal.get(METER, d)!.done!;
      assert.equal(again.hash, first.hash, "the same signed transaction, sent again");
      assert.equal(journal.get(METER, d)!.txs.length, 1, "no second transaction");
      assert.ok(again.block! > first.block!);
      assert.equal((await provider.getBlock(again.block!))?.hash, again.blockHash, "now in a canonical block");
      assert.deepEqual(await postedEvents(provider, market), [[first.hash, d]], "on the chain once");
      assert.deepEqual([...(await new Contract(market, MARKET_ABI, provider).readingOf(participantId, d))], [true, 1500n, 0n]);
      assert.equal(await provider.getTransactionCount(new Wallet(key).address), 1);
      assert.deepEqual(log.find("chain reorganization").map((line) => line.depth), [2]);
      assert.deepEqual(log.find("reading's transaction was reorganized away, sending it again").map((line) => [line.interval, line.tx, line.depth]), [[d, first.hash, 2]]);
      assert.deepEqual(log.find("reading sent again after a reorganization").map((line) => [line.interval, line.tx]), [[d, first.hash]]);
    } finally {
      stop.abort();
      await running;
      journal.close();
      provider.destroy();
    }
  });
});

describe("a posted reading whose transaction the new branch holds too", () => {
  let anvil: Anvil;
  before(async () => {
    anvil = new Anvil({ port: await freePort() });
    await anvil.start();
  });
  after(() => anvil?.stop());

  it("is settled in its new block, and nothing is sent again", async () => {
    const key = Wallet.createRandom().privateKey;
    const { market, header, first: d } = await marketOn(anvil, key);
    const log = new CapturedLog(10_000);
    const provider = new NodePool([anvil.url], CHAIN_ID, log, { timeoutMs: 5000, onWrongChain: (error) => assert.fail(error) });
    const journal = Journal.open(path.join(dir, "remined.jsonl"), header);
    journal.addReading(reading(d, "1500"));
    const poster = new MeterPoster(METER, new Wallet(key), provider, market, journal, log, { pollMs: 100 });
    const watcher = new ChainWatcher(provider, log, { windowBlocks: 16 });
    watcher.on("reorg", (reorg) => poster.reorganized(reorg));
    const stop = new AbortController();
    const running = poster.run(stop.signal);
    try {
      await waitUntil(() => journal.get(METER, d)?.done !== undefined, 10_000, "the first post");
      const first = journal.get(METER, d)!.done!;
      await provider.send("evm_mine", []);
      await watcher.check();
      const [tx] = journal.get(METER, d)!.txs;
      await provider.send("anvil_reorg", [2, [[tx.raw, 1]]]); // the new branch holds the post one block later
      assert.equal((await watcher.check())?.depth, 2);
      await waitUntil(() => journal.get(METER, d)?.done?.blockHash !== first.blockHash, 10_000, "the journal to follow the post into its new block");
      const moved = journal.get(METER, d)!.done!;
      assert.deepEqual([moved.outcome, moved.hash, moved.block], ["posted", first.hash, first.block! + 1]);
      assert.equal((await provider.getBlock(moved.block!))?.hash, moved.blockHash);
      assert.deepEqual(log.find("reading's transaction is in another block after a reorganization").map((line) => [line.interval, line.block, line.previousBlock, line.depth]), [[d, first.block! + 1, first.block, 2]]);
      assert.deepEqual([log.find("reading's transaction was reorganized away, sending it again"), log.find("reading sent again after a reorganization")], [[], []]);
      assert.equal(journal.get(METER, d)!.txs.length, 1);
    } finally {
      stop.abort();
      await running;
      journal.close();
      provider.destroy();
    }
  });
});

describe("two nodes of one chain", () => {
  const stateA = path.join(dir, "node-a.json");
  const stateB = path.join(dir, "node-b.json");
  let a: Anvil;
  let b: Anvil;
  before(async () => {
    [a, b] = [new Anvil({ port: await freePort(), stateFile: stateA }), new Anvil({ port: await freePort(), stateFile: stateB })];
    await a.start();
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
  });

  it("posts through the first node, and through the second when the first stops answering, saying which it uses", async () => {
    const key = Wallet.createRandom().privateKey;
    const { market, participantId, header, first: d } = await marketOn(a, key);
    const log = new CapturedLog(15_000);
    const nodes = new NodePool([a.url, b.url], CHAIN_ID, log, { timeoutMs: 2000, onWrongChain: (error) => assert.fail(error) });
    const journal = Journal.open(path.join(dir, "failover.jsonl"), header);
    const poster = new MeterPoster(METER, new Wallet(key), nodes, market, journal, log, { pollMs: 100, retryMaxMs: 500 });
    const stop = new AbortController();
    const running = poster.run(stop.signal);
    try {
      journal.addReading(reading(d, "1500"));
      poster.wake();
      await waitUntil(() => journal.get(METER, d)?.done !== undefined, 10_000, "the post through node A");
      assert.deepEqual(log.find("using node").map((line) => line.node), [a.url]);

      // node A goes away; node B, a node of the same chain (started from A's state), answers
      await a.stop();
      copyFileSync(stateA, stateB);
      await b.start();
      const onB = new JsonRpcProvider(b.url, CHAIN_ID, { staticNetwork: true });
      await warp(onB, 2 * INTERVAL_SECONDS); // node B's clock starts from the wall clock, behind A's (moved on by the test)
      journal.addReading(reading(d + 1, "1550"));
      poster.wake();
      await waitUntil(() => journal.get(METER, d + 1)?.done !== undefined, 15_000, "the post through node B");
      assert.deepEqual(log.find("using another node").map((line) => [line.node, line.notAnswering]), [[b.url, a.url]]);
      assert.equal(nodes.nodeInUse, b.url);
      const contract = new Contract(market, MARKET_ABI, onB);
      assert.deepEqual([...(await contract.readingOf(participantId, d))], [true, 1500n, 0n]);
      assert.deepEqual([...(await contract.readingOf(participantId, d + 1))], [true, 1550n, 0n]);
      assert.equal(await onB.getTransactionCount(new Wallet(key).address), 2);
      onB.destroy();
      assert.deepEqual(log.lines.filter((line) => line.level === "error"), []);
    } finally {
      stop.abort();
      await running;
      journal.close();
      nodes.destroy();
    }
  });

  it("refuses a node of another chain with one line naming both chain ids", async () => {
    const other = new Anvil({ port: await freePort(), chainId: 1 });
    await other.start();
    const wrong: string[] = [];
    const nodes = new NodePool([other.url], CHAIN_ID, new CapturedLog(), { timeoutMs: 2000, onWrongChain: (error) => wrong.push(error.message) });
    try {
      await assert.rejects(nodes.getBlockNumber());
      assert.deepEqual(wrong, [`chain id mismatch: the node at ${other.url} is on chain 1, the config says chainId ${CHAIN_ID}`]);
    } finally {
      nodes.destroy();
      await other.stop();
    }
  });
});

describe("a reading found already on chain", () => {
  let anvil: Anvil;
  let setup: Awaited<ReturnType<typeof marketOn>>;
  const key = Wallet.createRandom().privateKey;
  before(async () => {
    anvil = new Anvil({ port: await freePort() });
    await anvil.start();
    setup = await marketOn(anvil, key);
  });
  after(() => anvil?.stop());

  /** Runs a poster over `journal` through `url` until the reading of `interval` is settled; returns its log. */
  async function postUntilSettled(url: string, journal: Journal, interval: number): Promise<CapturedLog> {
    const log = new CapturedLog();
    const nodes = new NodePool([url], CHAIN_ID, log, { timeoutMs: 5000, onWrongChain: (error) => assert.fail(error) });
    const stop = new AbortController();
    const running = new MeterPoster(METER, new Wallet(key), nodes, setup.market, journal, log, { pollMs: 100 }).run(stop.signal);
    try {
      await waitUntil(() => journal.get(METER, interval)?.done !== undefined, 10_000, `interval ${interval} settled`);
    } finally {
      stop.abort();
      await running;
      nodes.destroy();
    }
    return log;
  }

  it("is logged as posted when its own journaled transaction put it there, even if the node gives no receipt of it", async () => {
    const first = Journal.open(path.join(dir, "own-1.jsonl"), setup.header);
    first.addReading(reading(setup.first, "1500"));
    await postUntilSettled(anvil.url, first, setup.first);
    const [tx] = first.get(METER, setup.first)!.txs;
    const { block, blockHash } = first.get(METER, setup.first)!.done!;
    first.close();

    // as after a kill -9 between the broadcast and the receipt, on a node that keeps no transaction index
    const restarted = Journal.open(path.join(dir, "own-2.jsonl"), setup.header);
    restarted.addReading(reading(setup.first, "1500"));
    restarted.addTx(tx);
    const proxy = await startRpcProxy(anvil.url, ["eth_getTransactionReceipt"]);
    try {
      const log = await postUntilSettled(proxy.url, restarted, setup.first);
      assert.deepEqual(restarted.get(METER, setup.first)!.done, { t: "done", meter: METER, interval: setup.first, outcome: "posted", hash: tx.hash, block, blockHash });
      assert.deepEqual(log.find("reading posted").map((line) => line.tx), [tx.hash]);
      assert.deepEqual(log.find("reading already on chain, posted by another transaction"), []);
      assert.equal(restarted.get(METER, setup.first)!.txs.length, 1, "nothing sent");
    } finally {
      restarted.close();
      await proxy.stop();
    }
  });

  it("is logged as already on chain, naming the transaction, when another transaction posted it", async () => {
    const provider = new JsonRpcProvider(anvil.url, CHAIN_ID, { staticNetwork: true });
    const byHand = await (await new Contract(setup.market, MARKET_ABI, new Wallet(key, provider)).postReading(BigInt(METER), setup.first + 1, 1550n, 0n)).wait();
    provider.destroy();
    const journal = Journal.open(path.join(dir, "other.jsonl"), setup.header);
    journal.addReading(reading(setup.first + 1, "1550"));
    const log = await postUntilSettled(anvil.url, journal, setup.first + 1);
    assert.deepEqual([journal.get(METER, setup.first + 1)!.done!.outcome, journal.get(METER, setup.first + 1)!.done!.hash], ["already-posted", byHand!.hash]);
    assert.deepEqual(log.find("reading already on chain, posted by another transaction").map((line) => line.tx), [byHand!.hash]);
    assert.deepEqual(log.find("reading posted"), []);
    journal.close();
  });
});
