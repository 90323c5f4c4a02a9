/**
 * The poster against a node that does not mine on its own: a transaction left unmined longer
 * than `replaceAfterMs` is replaced by one with the same nonce paying at least 12.5% more
 * (EIP-1559 fees on a london chain, a gas price on a berlin chain), and a transaction the node
 * dropped is broadcast again. Blocks are mined by the test (`evm_mine`); in the end the
 * reading is on chain once, from one transaction, and journaled as posted by it.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Contract, Interface, JsonRpcProvider, Transaction, Wallet } from "ethers";
import { MARKET_ABI } from "../src/abi";
import { Journal, TxRecord } from "../src/journal";
import { BatchPoster } from "../src/batchPoster";
import { MeterPoster, PosterOptions } from "../src/poster";
import { Anvil, CHAIN_ID, DEV_KEY, freePort } from "./support/anvil";
import { deployMarket, warp } from "./support/market";
import { CapturedLog, Line } from "./support/capturedLog";
import { waitUntil } from "./support/wait";

const INTERVAL_SECONDS = 60;
const REPLACE_AFTER_MS = 800;
/** the poster sleeps this long after each step; the test mines inside that pause */
const POLL_MS = 300;
const TIMEOUT_MS = 5000;

const broadcastOf = (hash?: string) => (line: Line) => line.msg === "transaction broadcast" && (hash === undefined || line.tx === hash);

interface Node {
  url: string;
  stop(): Promise<void>;
}

/** A fresh anvil: london (EIP-1559 fees) or berlin (no base fee, so the poster signs legacy transactions). */
const nodeOn = (hardfork: "london" | "berlin") => async (): Promise<Node> => {
  const anvil = new Anvil({ port: await freePort(), hardfork });
  await anvil.start();
  return { url: anvil.url, stop: () => anvil.stop() };
};

/**
 * A market on a fresh node with `meters` bound (and their accounts funded, or, with `relayer`, a
 * relayer funded instead); the node then mines only when told to.
 */
function chainFixture(startNode: () => Promise<Node>, meters: string[], { relayer = false } = {}) {
  const fixture = {
    node: undefined as Node | undefined,
    provider: undefined as unknown as JsonRpcProvider,
    market: "",
    keys: meters.map(() => Wallet.createRandom().privateKey),
    relayerKey: Wallet.createRandom().privateKey,
    participantIds: [] as number[],
    /** the interval the readings are for: the one the meters were bound in, ended (the chain's clock is moved on) */
    interval: 0,
    dir: mkdtempSync(path.join(tmpdir(), "meter-bridge-poster-")),
    startTime: Math.floor(Date.now() / 1000) - 10 * INTERVAL_SECONDS,
  };
  before(async () => {
    fixture.node = await startNode();
    fixture.provider = new JsonRpcProvider(fixture.node.url, CHAIN_ID, { staticNetwork: true });
    const deployed = await deployMarket(new Wallet(DEV_KEY, fixture.provider), {
      startTime: fixture.startTime,
      intervalSeconds: INTERVAL_SECONDS,
      meters: meters.map((address, i) => ({ address, account: new Wallet(fixture.keys[i]).address, ratedPowerW: 100_000 })),
      fundMeters: !relayer,
    });
    if (relayer) await deployed.fund(new Wallet(fixture.relayerKey).address);
    [fixture.market, fixture.participantIds, fixture.interval] = [deployed.address, deployed.participantIds, Math.max(...deployed.boundIntervals)];
    await warp(fixture.provider, INTERVAL_SECONDS);
    await fixture.provider.send("evm_setAutomine", [false]); // from here on as with --no-mining
  });
  after(async () => {
    fixture.provider?.destroy();
    await fixture.node?.stop();
  });
  return fixture;
}

type Fixture = ReturnType<typeof chainFixture>;

/** A journal holding one reading of `meter`, and a poster for it running until `stop`. */
function startPoster(fixture: Fixture, meter: string, key: string, reading: { importWh: string; exportWh: string }, options: PosterOptions) {
  const header = { chainId: String(CHAIN_ID), market: fixture.market, startTime: fixture.startTime, intervalSeconds: INTERVAL_SECONDS };
  const file = path.join(fixture.dir, `journal-${meter}.jsonl`);
  const journal = Journal.open(file, header);
  assert.equal(journal.addReading({ meter, interval: fixture.interval, ...reading, readAt: new Date().toISOString() }), true);
  const log = new CapturedLog();
  const provider = new JsonRpcProvider(fixture.node!.url, CHAIN_ID, { staticNetwork: true });
  const controller = new AbortController();
  const running = new MeterPoster(meter, new Wallet(key), provider, fixture.market, journal, log, options).run(controller.signal);
  const txs = (): TxRecord[] => journal.get(meter, fixture.interval)!.txs;
  let stopped: Promise<Journal> | undefined;
  return {
    journal,
    log,
    txs,
    /** Stops the poster (once); returns the journal as a restarted bridge would read it from disk. */
    stop(): Promise<Journal> {
      stopped ??= (async () => {
        controller.abort();
        await running;
        provider.destroy();
        journal.close();
        return Journal.open(file, header);
      })();
      return stopped;
    },
  };
}

/** The transactions of `account` the node holds in its pool, by nonce. */
async function pooled(provider: JsonRpcProvider, account: string): Promise<Record<string, string>> {
  const content = (await provider.send("txpool_content", [])) as Record<"pending" | "queued", Record<string, Record<string, { hash: string }>>>;
  const byNonce: Record<string, string> = {};
  for (const group of [content.pending, content.queued]) {
    for (const [from, txs] of Object.entries(group ?? {})) {
      if (from.toLowerCase() !== account.toLowerCase()) continue;
      for (const [nonce, tx] of Object.entries(txs)) byNonce[nonce] = tx.hash;
    }
  }
  return byNonce;
}

/** The market's ReadingPosted events of one participant, any interval: [transaction hash, interval, importWh, exportWh]. */
async function postedEvents(fixture: Fixture, participantId: number): Promise<Array<[string, number, bigint, bigint]>> {
  const events = new Interface(MARKET_ABI);
  const logs = await fixture.provider.getLogs({ address: fixture.market, topics: events.encodeFilterTopics("ReadingPosted", [participantId]), fromBlock: 0 });
  return logs.map((log) => {
    const { args } = events.parseLog(log)!;
    return [log.transactionHash, Number(args.interval), args.importWh, args.exportWh];
  });
}

/** What a user checks once a reading is through: one transaction mined, the reading on chain once, the journal says posted. */
async function assertPostedOnce(fixture: Fixture, participantId: number, account: string, nonceBefore: number, minedHash: string, journal: Journal, meter: string, reading: { importWh: string; exportWh: string }) {
  const { provider } = fixture;
  const receipt = await provider.getTransactionReceipt(minedHash);
  assert.equal(receipt?.status, 1, "the mined transaction succeeded");
  assert.equal(await provider.getTransactionCount(account, "latest"), nonceBefore + 1, "the meter account's nonce went up by exactly 1");
  assert.deepEqual(await pooled(provider, account), {}, "nothing of the meter account left in the pool");
  const market = new Contract(fixture.market, MARKET_ABI, provider);
  assert.deepEqual([...(await market.readingOf(participantId, fixture.interval))], [true, BigInt(reading.importWh), BigInt(reading.exportWh)]);
  assert.deepEqual(await postedEvents(fixture, participantId), [[minedHash, fixture.interval, BigInt(reading.importWh), BigInt(reading.exportWh)]], "one ReadingPosted event, from the mined transaction");
  assert.deepEqual(journal.get(meter, fixture.interval)?.done, { t: "done", meter, interval: fixture.interval, outcome: "posted", hash: minedHash, block: receipt!.blockNumber, blockHash: receipt!.blockHash });
  assert.deepEqual(journal.unsettled(meter), []);
}

function replacementSuite(name: string, startNode: () => Promise<Node>, fees: "eip1559" | "legacy") {
  describe(name, () => {
    const METER = "000000000011";
    const DROPPED_METER = "000000000012";
    const fixture = chainFixture(startNode, fees === "eip1559" ? [METER, DROPPED_METER] : [METER]);

    it(`replaces a transaction stuck longer than replaceAfterMs by one with the same nonce and ${fees === "eip1559" ? "both EIP-1559 fees" : "a gas price"} raised by at least 12.5%; exactly one of them is mined`, async () => {
      const { provider } = fixture;
      const account = new Wallet(fixture.keys[0]).address;
      const reading = { importWh: "1500", exportWh: "20" };
      const nonceBefore = await provider.getTransactionCount(account, "latest");
      const poster = startPoster(fixture, METER, fixture.keys[0], reading, { pollMs: POLL_MS, replaceAfterMs: REPLACE_AFTER_MS, rebroadcastMs: 60_000 });
      let journal = poster.journal;
      try {
        await poster.log.next(broadcastOf(), "the first transaction broadcast");
        assert.equal(poster.txs().length, 1);
        const [first] = poster.txs();
        assert.equal(first.nonce, nonceBefore);
        assert.deepEqual(await pooled(provider, account), { [String(nonceBefore)]: first.hash }, "the node holds the first transaction, unmined");

        const replaced = await poster.log.next((line) => line.msg === "replacing a stuck transaction", "the replacement");
        await poster.log.next(broadcastOf(String(replaced.tx)), "the replacement's broadcast");
        // the poster now pauses POLL_MS: look at the pool and mine within that pause
        const pool = await pooled(provider, account);
        await provider.send("evm_mine", []);

        assert.equal(poster.txs().length, 2, "one replacement");
        const second = poster.txs()[1];
        assert.equal(replaced.replaces, first.hash);
        assert.equal(replaced.tx, second.hash);
        assert.deepEqual(pool, { [String(nonceBefore)]: second.hash }, "the node replaced the first transaction with the second");
        assert.ok(second.sentAt - first.sentAt >= REPLACE_AFTER_MS, `replaced after ${second.sentAt - first.sentAt} ms, not before ${REPLACE_AFTER_MS} ms`);

        const [a, b] = [Transaction.from(first.raw), Transaction.from(second.raw)];
        assert.equal(a.from, account);
        assert.equal(b.from, account);
        assert.equal(b.nonce, a.nonce, "the same nonce");
        assert.equal(b.nonce, nonceBefore);
        assert.equal(b.to, a.to);
        assert.equal(b.data, a.data, "the same post");
        assert.equal(a.type, fees === "eip1559" ? 2 : 0);
        assert.equal(b.type, a.type);
        const atLeastEighthMore = (field: string, before: bigint | null, now: bigint | null) => {
          assert.ok(before !== null && now !== null && before > 0n, `${field} set: ${before} -> ${now}`);
          assert.ok(now * 8n >= before * 9n, `${field} raised by at least 12.5%: ${before} -> ${now}`);
        };
        if (fees === "eip1559") {
          atLeastEighthMore("maxFeePerGas", a.maxFeePerGas, b.maxFeePerGas);
          atLeastEighthMore("maxPriorityFeePerGas", a.maxPriorityFeePerGas, b.maxPriorityFeePerGas);
        } else {
          atLeastEighthMore("gasPrice", a.gasPrice, b.gasPrice);
        }

        const block = await provider.getBlock("latest");
        assert.deepEqual(block?.transactions, [second.hash], "the block holds the replacement only");
        const receipt = await provider.getTransactionReceipt(second.hash);
        assert.equal(receipt?.status, 1, `the replacement succeeded (gas used ${receipt?.gasUsed} of ${b.gasLimit}; the original had ${a.gasLimit})`);
        assert.equal(await provider.getTransactionReceipt(first.hash), null, "the original has no receipt");
        assert.equal(await provider.getTransaction(first.hash), null, "the node no longer knows the original");

        await waitUntil(() => journal.get(METER, fixture.interval)?.done !== undefined, TIMEOUT_MS, "the journal to settle the reading");
        journal = await poster.stop();
        assert.equal(journal.get(METER, fixture.interval)?.txs.length, 2, "no transaction after the two");
        await assertPostedOnce(fixture, fixture.participantIds[0], account, nonceBefore, second.hash, journal, METER, reading);
        assert.ok(poster.log.lines.some((line) => line.msg === "reading posted" && line.tx === second.hash));
        assert.deepEqual(poster.log.lines.filter((line) => line.level === "error" || line.msg === "posting delayed"), []);
      } finally {
        (await poster.stop()).close();
        await provider.send("anvil_dropAllTransactions", []); // after a failure: nothing stuck for the next test
      }
    });

    if (fees === "eip1559") {
      it("broadcasts a transaction the node dropped again, and it is mined once", async () => {
        const { provider } = fixture;
        const account = new Wallet(fixture.keys[1]).address;
        const reading = { importWh: "900", exportWh: "0" };
        const nonceBefore = await provider.getTransactionCount(account, "latest");
        assert.deepEqual(await provider.send("txpool_status", []), { pending: "0x0", queued: "0x0" }, "no transaction left over from the test before");
        const poster = startPoster(fixture, DROPPED_METER, fixture.keys[1], reading, { pollMs: POLL_MS, replaceAfterMs: 60_000, rebroadcastMs: 500 });
        let journal = poster.journal;
        try {
          await poster.log.next(broadcastOf(), "the first broadcast");
          const [sent] = poster.txs();
          assert.deepEqual(await pooled(provider, account), { [String(nonceBefore)]: sent.hash });
          await provider.send("anvil_dropTransaction", [sent.hash]);
          assert.equal(await provider.getTransaction(sent.hash), null, "the node dropped the transaction");
          assert.deepEqual(await pooled(provider, account), {});

          await poster.log.next(broadcastOf(sent.hash), "the broadcast after the drop");
          const pool = await pooled(provider, account);
          await provider.send("evm_mine", []);
          assert.deepEqual(pool, { [String(nonceBefore)]: sent.hash }, "the node holds the transaction again");
          assert.deepEqual((await provider.getBlock("latest"))?.transactions, [sent.hash]);

          await waitUntil(() => journal.get(DROPPED_METER, fixture.interval)?.done !== undefined, TIMEOUT_MS, "the journal to settle the reading");
          journal = await poster.stop();
          assert.deepEqual(journal.get(DROPPED_METER, fixture.interval)?.txs.map((tx) => tx.hash), [sent.hash], "the same signed transaction, not a new one");
          await assertPostedOnce(fixture, fixture.participantIds[1], account, nonceBefore, sent.hash, journal, DROPPED_METER, reading);
        } finally {
          (await poster.stop()).close();
        }
      });
    }
  });
}

replacementSuite("poster on a london chain that does not mine by itself", nodeOn("london"), "eip1559");

describe("batch poster on a london chain that does not mine by itself", () => {
  const ALL = ["000000000013", "000000000014", "000000000015", "000000000016"];
  const fixture = chainFixture(nodeOn("london"), ALL, { relayer: true });
  const readings = [{ importWh: "700", exportWh: "0" }, { importWh: "0", exportWh: "300" }];
  const [STUCK, DROPPED] = [ALL.slice(0, 2), ALL.slice(2)];

  /** A journal holding readings of two meters, and the batch poster for them running until `stop`. */
  function startBatchPoster(name: string, METERS: string[], options: PosterOptions) {
    const header = { chainId: String(CHAIN_ID), market: fixture.market, startTime: fixture.startTime, intervalSeconds: INTERVAL_SECONDS };
    const journal = Journal.open(path.join(fixture.dir, `journal-${name}.jsonl`), header);
    METERS.forEach((meter, i) => journal.addReading({ meter, interval: fixture.interval, ...readings[i], readAt: new Date().toISOString() }));
    const log = new CapturedLog();
    const provider = new JsonRpcProvider(fixture.node!.url, CHAIN_ID, { staticNetwork: true });
    const controller = new AbortController();
    const ports = [{ path: "port", meters: METERS.map((address) => ({ address, wallet: new Wallet(fixture.keys[ALL.indexOf(address)]) })) }];
    const clock = { startTime: fixture.startTime, intervalSeconds: INTERVAL_SECONDS };
    const running = new BatchPoster(new Wallet(fixture.relayerKey), ports, provider, fixture.market, CHAIN_ID, clock, journal, log, options).run(controller.signal);
    return {
      journal,
      log,
      METERS,
      txs: (): TxRecord[] => journal.get(METERS[0], fixture.interval)!.txs,
      async stop(): Promise<void> {
        controller.abort();
        await running;
        provider.destroy();
        journal.close();
      },
    };
  }

  /** Both readings on chain once, from `minedHash`, the relayer's nonce up by one, the meters' accounts untouched, the journal says posted. */
  async function assertBatchPostedOnce(METERS: string[], nonceBefore: number, minedHash: string, journal: Journal) {
    const { provider } = fixture;
    const relayer = new Wallet(fixture.relayerKey).address;
    const receipt = await provider.getTransactionReceipt(minedHash);
    assert.equal(receipt?.status, 1);
    assert.equal(await provider.getTransactionCount(relayer, "latest"), nonceBefore + 1, "the relayer's nonce went up by exactly 1");
    assert.deepEqual(await pooled(provider, relayer), {}, "nothing of the relayer left in the pool");
    for (const [i, meter] of METERS.entries()) {
      const at = ALL.indexOf(meter);
      assert.deepEqual(await postedEvents(fixture, fixture.participantIds[at]), [[minedHash, fixture.interval, BigInt(readings[i].importWh), BigInt(readings[i].exportWh)]], `meter ${meter}: one ReadingPosted event, from the mined batch`);
      assert.deepEqual(journal.get(meter, fixture.interval)?.done, { t: "done", meter, interval: fixture.interval, outcome: "posted", hash: minedHash, block: receipt!.blockNumber, blockHash: receipt!.blockHash });
      assert.deepEqual([await provider.getTransactionCount(new Wallet(fixture.keys[at]).address), await provider.getBalance(new Wallet(fixture.keys[at]).address)], [0, 0n], "the meter's account sent nothing and holds nothing");
    }
  }

  it("replaces a batch stuck longer than replaceAfterMs by one with the same readings, nonce and gas limit and both fees raised by at least 12.5%; exactly one of them is mined", async () => {
    const { provider } = fixture;
    const relayer = new Wallet(fixture.relayerKey).address;
    const nonceBefore = await provider.getTransactionCount(relayer, "latest");
    const poster = startBatchPoster("stuck", STUCK, { pollMs: POLL_MS, replaceAfterMs: REPLACE_AFTER_MS, rebroadcastMs: 60_000 });
    const METERS = STUCK;
    try {
      const sent = await poster.log.next((line) => line.msg === "batch sent", "the batch sent");
      assert.deepEqual([sent.readings, sent.intervals, sent.nonce], [2, [fixture.interval], nonceBefore], "one batch of both meters' readings");
      const replaced = await poster.log.next((line) => line.msg === "replacing a stuck transaction", "the replacement");
      await poster.log.next(broadcastOf(String(replaced.tx)), "the replacement's broadcast");
      const pool = await pooled(provider, relayer);
      await provider.send("evm_mine", []);

      const [first, second] = poster.txs();
      assert.deepEqual([first.hash, second.hash, second.replaces, replaced.replaces], [sent.tx, replaced.tx, first.hash, first.hash]);
      for (const meter of METERS) assert.deepEqual(poster.journal.get(meter, fixture.interval)!.txs.map((tx) => tx.hash), [first.hash, second.hash], `meter ${meter} in both`);
      assert.deepEqual(pool, { [String(nonceBefore)]: second.hash }, "the node replaced the first batch with the second");
      const [a, b] = [Transaction.from(first.raw), Transaction.from(second.raw)];
      assert.deepEqual([b.from, b.nonce, b.to, b.data, b.gasLimit, b.type], [relayer, a.nonce, a.to, a.data, a.gasLimit, 2], "the same readings, nonce and gas limit");
      assert.ok(b.maxFeePerGas! * 8n >= a.maxFeePerGas! * 9n && b.maxPriorityFeePerGas! * 8n >= a.maxPriorityFeePerGas! * 9n, "both fees raised by at least 12.5%");
      assert.deepEqual((await provider.getBlock("latest"))?.transactions, [second.hash], "the block holds the replacement only");

      await waitUntil(() => METERS.every((meter) => poster.journal.get(meter, fixture.interval)?.done !== undefined), TIMEOUT_MS, "the journal to settle the readings");
      await assertBatchPostedOnce(METERS, nonceBefore, second.hash, poster.journal);
      assert.deepEqual(poster.log.lines.filter((line) => line.level === "error" || line.msg === "posting delayed"), []);
    } finally {
      await poster.stop();
      await provider.send("anvil_dropAllTransactions", []);
    }
  });

  it("broadcasts a batch the node dropped again, and it is mined once", async () => {
    const { provider } = fixture;
    const relayer = new Wallet(fixture.relayerKey).address;
    const nonceBefore = await provider.getTransactionCount(relayer, "latest");
    assert.deepEqual(await provider.send("txpool_status", []), { pending: "0x0", queued: "0x0" }, "no transaction left over from the test before");
    const poster = startBatchPoster("dropped", DROPPED, { pollMs: POLL_MS, replaceAfterMs: 60_000, rebroadcastMs: 500 });
    try {
      const sent = await poster.log.next((line) => line.msg === "batch sent", "the batch sent");
      assert.deepEqual(await pooled(provider, relayer), { [String(nonceBefore)]: sent.tx });
      await provider.send("anvil_dropTransaction", [sent.tx]);
      assert.equal(await provider.getTransaction(String(sent.tx)), null, "the node dropped the batch");

      await poster.log.next(broadcastOf(String(sent.tx)), "the broadcast after the drop");
      const pool = await pooled(provider, relayer);
      await provider.send("evm_mine", []);
      assert.deepEqual(pool, { [String(nonceBefore)]: sent.tx }, "the node holds the batch again");
      await waitUntil(() => DROPPED.every((meter) => poster.journal.get(meter, fixture.interval)?.done !== undefined), TIMEOUT_MS, "the journal to settle the readings");
      for (const meter of DROPPED) assert.deepEqual(poster.journal.get(meter, fixture.interval)!.txs.map((tx) => tx.hash), [sent.tx], "the same signed batch, not a new one");
      await assertBatchPostedOnce(DROPPED, nonceBefore, String(sent.tx), poster.journal);
    } finally {
      await poster.stop();
    }
  });
});
replacementSuite("poster on a berlin chain (legacy gas price) that does not mine by itself", nodeOn("berlin"), "legacy");
