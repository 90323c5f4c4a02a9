/**
 * The whole path: simulated meters -> pty pair -> bridge daemon (a child process) -> anvil, the
 * readings in batches sent by the gateway's relayer (the meters' accounts hold no ether). The
 * bridge is killed with SIGKILL twice (once right after a boundary, once while the chain is down)
 * and restarted; the chain is stopped for more than two intervals and restarted from its state
 * file; the operator settles meanwhile. In the end every interval's reading is on chain exactly
 * once, and each interval's readings came in one transaction.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Contract, Interface, JsonRpcProvider, Wallet, encryptKeystoreJson } from "ethers";
import type { SerialPort } from "serialport";
import { MARKET_ABI } from "../src/abi";
import { boundaryMs, lastBoundary } from "../src/clock";
import { DEFAULT_LINE, closeSerialPort, openSerialPort } from "../src/line";
import { MeterSimulator, SimulatedMeter } from "../src/simulator";
import { Anvil, CHAIN_ID, DEV_KEY, SECOND_DEV_KEY, freePort } from "./support/anvil";
import { BridgeProcess } from "./support/bridgeProcess";
import { Settler, batchSkips, batchesMined, deployMarket, intervalStarted } from "./support/market";
import { PtyPair, startPtyPair } from "./support/ptyPair";
import { sleep, waitUntil } from "./support/wait";

const INTERVAL_SECONDS = 10;
// the restarts below land 0.4 s and 1.5 s after a boundary: time to start and read four meters at 2400 baud (the dead one is
// probed last); on a loaded machine the start alone took 2-4 s and a meter's two registers 0.5-0.9 s
const MAX_READ_DELAY_SECONDS = 7;
const METERS: SimulatedMeter[] = [
  { address: "000000000001", importWh: 112_280_260, importW: 36_000 }, // 50 Wh per interval
  { address: "000000000002", importWh: 5_000, exportWh: 1_230, importW: 1_800, exportW: 20_000 },
  { address: "000000000003", importWh: 70_000, importW: 7_200 },
  { address: "000000000004", importWh: 0, exportWh: 900_000, exportW: 3_600 },
];
const DEAD_METER = "000000000099"; // configured, never answers

interface Posted {
  participantId: number;
  interval: number;
  importWh: bigint;
  exportWh: bigint;
  tx: string;
}

describe("bridge to chain, end to end", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "meter-bridge-chain-"));
  const events = new Interface(MARKET_ABI);
  let anvil: Anvil;
  let provider: JsonRpcProvider;
  let pty: PtyPair;
  let meterPort: SerialPort;
  let simulator: MeterSimulator;
  let bridge: BridgeProcess;
  let market: string;
  let participantIds: number[];
  let boundIntervals: number[];
  let settler: Settler;
  const meterKeys = METERS.map(() => Wallet.createRandom().privateKey);
  const accounts = meterKeys.map((key) => new Wallet(key).address);
  const relayer = Wallet.createRandom();
  const startTime = Math.floor(Date.now() / 1000);

  before(async () => {
    anvil = new Anvil({ port: await freePort(), stateFile: path.join(dir, "anvil-state.json") });
    await anvil.start();
    provider = new JsonRpcProvider(anvil.url, CHAIN_ID, { staticNetwork: true });
    const deployed = await deployMarket(new Wallet(DEV_KEY, provider), {
      startTime,
      intervalSeconds: INTERVAL_SECONDS,
      schedule: { readingGraceSeconds: 600 }, // the operator waits for missing readings long enough for the outage below
      meters: METERS.map((meter, i) => ({ address: meter.address, account: accounts[i], ratedPowerW: 100_000, openImportWh: BigInt(meter.importWh ?? 0), openExportWh: BigInt(meter.exportWh ?? 0) })),
      fundMeters: false,
    });
    ({ address: market, participantIds, boundIntervals } = deployed);
    await deployed.fund(relayer.address);
    await anvil.mineEvery(1);
    settler = new Settler(SECOND_DEV_KEY, anvil.url, market, participantIds, Math.min(...boundIntervals), 200).start();

    meterKeys.forEach((key, i) => i !== 1 && writeFileSync(path.join(dir, `meter${i + 1}.key`), i === 0 ? key.slice(2) : key));
    writeFileSync(path.join(dir, "meter2.password"), "correct horse\n");
    const keystore = await encryptKeystoreJson({ address: accounts[1], privateKey: meterKeys[1] }, "correct horse", { scrypt: { N: 1024 } });
    writeFileSync(path.join(dir, "meter2.json"), keystore);
    writeFileSync(path.join(dir, "relayer.password"), "relayer pass\n");
    writeFileSync(path.join(dir, "relayer.json"), await encryptKeystoreJson({ address: relayer.address, privateKey: relayer.privateKey }, "relayer pass", { scrypt: { N: 1024 } }));
    writeFileSync(path.join(dir, "dead.key"), Wallet.createRandom().privateKey);

    pty = await startPtyPair();
    meterPort = await openSerialPort(pty.b, DEFAULT_LINE);
    simulator = new MeterSimulator(meterPort, METERS);

    const config = {
      rpcUrl: anvil.url,
      chainId: CHAIN_ID,
      market,
      journal: "journal.jsonl",
      maxReadDelaySeconds: MAX_READ_DELAY_SECONDS,
      logLevel: "debug",
      timeSync: { enabled: false }, // the meters' clocks (reader.e2e) would share the line with the boundary reads after each restart
      relayerKey: { keystore: "relayer.json", passwordFile: "relayer.password" },
      poster: { pollMs: 300, retryMaxMs: 1500, rebroadcastMs: 2000 },
      ports: [
        {
          path: pty.a,
          baudRate: 2400,
          parity: "even",
          responseTimeoutMs: 300,
          interByteTimeoutMs: 100,
          retries: 1,
          deadRetryMs: 20_000,
          meters: [
            ...METERS.map((meter, i) => ({ address: meter.address, key: i === 1 ? { keystore: "meter2.json", passwordFile: "meter2.password" } : { keyFile: `meter${i + 1}.key` } })),
            { address: DEAD_METER, key: { keyFile: "dead.key" } },
          ],
        },
      ],
    };
    writeFileSync(path.join(dir, "bridge.json"), JSON.stringify(config, null, 2));
    bridge = new BridgeProcess(path.join(dir, "bridge.json"), path.join(dir, "bridge.log"));
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

  /** ReadingPosted events of the market, from the chain's logs. */
  async function postedEvents(): Promise<Posted[]> {
    const logs = await provider.getLogs({ address: market, topics: [events.getEvent("ReadingPosted")!.topicHash], fromBlock: 0 });
    return logs.map((log) => {
      const { args } = events.parseLog(log)!;
      return { participantId: Number(args.participantId), interval: Number(args.interval), importWh: args.importWh, exportWh: args.exportWh, tx: log.transactionHash };
    });
  }

  async function postedUpTo(interval: number): Promise<boolean> {
    const posted = await postedEvents().catch(() => []);
    return participantIds.every((id) => posted.some((event) => event.participantId === id && event.interval >= interval));
  }

  /** Waits until `offsetMs` after the next interval boundary; returns that boundary's index. */
  async function nextBoundary(offsetMs: number): Promise<number> {
    const clock = { startTime, intervalSeconds: INTERVAL_SECONDS };
    const k = lastBoundary(clock, Date.now()) + 1;
    await sleep(boundaryMs(clock, k) + offsetMs - Date.now());
    return k;
  }

  it("posts every interval's reading exactly once through kill -9 of the bridge and a chain outage", async () => {
    await intervalStarted({ startTime, intervalSeconds: INTERVAL_SECONDS }, Math.max(...boundIntervals)); // the bridge starts in the interval the meters serve from
    bridge.start();
    const firstBoundary = lastBoundary({ startTime, intervalSeconds: INTERVAL_SECONDS }, Date.now()) + 1;
    await waitUntil(() => postedUpTo(firstBoundary), 3 * INTERVAL_SECONDS * 1000, "the first readings on chain", 200);

    // kill -9 in the middle of reading / posting, right after a boundary, and restart at once
    const killedAt = await nextBoundary(400);
    await bridge.kill();
    bridge.start();
    await waitUntil(() => postedUpTo(killedAt), 4 * INTERVAL_SECONDS * 1000, "the readings of the boundary the bridge was killed at", 200);

    // the chain goes away for more than two intervals; the bridge is killed once more meanwhile
    await anvil.stop();
    const outageFrom = await nextBoundary(1500);
    await bridge.kill();
    bridge.start();
    await nextBoundary(1500);
    const outageTo = await nextBoundary(1500);
    await anvil.start();
    await waitUntil(() => postedUpTo(outageTo - 1), 6 * INTERVAL_SECONDS * 1000, "the readings journaled during the outage", 200);
    assert.equal(await bridge.stop(), 0, "a clean stop on SIGTERM");
    await batchesMined(provider, relayer.address); // a batch sent just before the stop lands in the next block: the chain is read after it

    const posted = await postedEvents();
    const logs = bridge.logs();
    const contract = new Contract(market, MARKET_ABI, provider);
    for (const [i, id] of participantIds.entries()) {
      const mine = posted.filter((event) => event.participantId === id).sort((a, b) => a.interval - b.interval);
      const intervals = mine.map((event) => event.interval);
      const first = intervals[0];
      assert.deepEqual(intervals, Array.from({ length: intervals.length }, (_, j) => first + j), `meter ${METERS[i].address}: every interval once, no gap`);
      assert.ok(first <= firstBoundary - 1 && intervals.at(-1)! >= outageTo - 1, `meter ${METERS[i].address} covers the outage: ${intervals.join(",")}`);
      assert.deepEqual([await provider.getTransactionCount(accounts[i]), await provider.getBalance(accounts[i])], [0, 0n], "the meter's account sent nothing and holds no ether");
      for (const event of mine) {
        const boundary = boundaryMs({ startTime, intervalSeconds: INTERVAL_SECONDS }, event.interval + 1);
        const low = simulator.registers(METERS[i].address, boundary);
        const high = simulator.registers(METERS[i].address, boundary + (MAX_READ_DELAY_SECONDS + 1) * 1000);
        assert.ok(low.importWh <= event.importWh && event.importWh <= high.importWh, `import ${event.importWh} of interval ${event.interval} within [${low.importWh}, ${high.importWh}]`);
        assert.ok(low.exportWh <= event.exportWh && event.exportWh <= high.exportWh, `export ${event.exportWh} of interval ${event.interval} within [${low.exportWh}, ${high.exportWh}]`);
        if (mine.slice(-4).includes(event)) assert.deepEqual([...(await contract.readingOf(id, event.interval))], [true, event.importWh, event.exportWh], "readingOf answers for the last four intervals"); // older ones: the events
      }
    }
    // one transaction per interval: the readings of an interval came in one batch
    const byInterval = new Map<number, Set<string>>();
    for (const event of posted) byInterval.set(event.interval, (byInterval.get(event.interval) ?? new Set()).add(event.tx));
    for (const [interval, txs] of byInterval) assert.equal(txs.size, 1, `interval ${interval}: its readings in one transaction`);
    // the relayer sent exactly the batches seen on chain: those that posted, and those whose every entry was skipped (and posted later)
    const skipped = await batchSkips(provider, market);
    const batches = new Set([...posted.map((event) => event.tx), ...skipped.map((skip) => skip.tx)]);
    for (const tx of batches) assert.equal((await provider.getTransaction(tx))?.from, relayer.address);
    assert.equal(await provider.getTransactionCount(relayer.address), batches.size, "no transaction of the relayer beyond the batches");
    const reasons = skipped.map((skip) => skip.reason);
    assert.ok(reasons.every((reason) => reason === "SettlementBehind" || reason === "ReadingOutOfOrder"), reasons.join(", "));
    // a reading skipped for a settlement four intervals behind was posted later; only one before the meter's binding was rejected
    const rejected = logs.filter((line) => line.msg === "reading rejected by the market");
    for (const line of rejected) {
      const bound = boundIntervals[METERS.findIndex((meter) => meter.address === line.meter)];
      assert.ok(Number(line.interval) < bound && line.reason === `ReadingOutOfOrder(${line.interval}, ${bound})`, JSON.stringify(line));
    }
    assert.equal(rejected.length, reasons.filter((reason) => reason === "ReadingOutOfOrder").length);
    assert.ok(outageTo - outageFrom >= 2);
    assert.ok(logs.some((line) => line.msg === "posting delayed"), "the outage was noticed");
    assert.ok(logs.some((line) => line.msg === "meter not answering, marked dead" && line.meter === DEAD_METER));
    assert.ok(logs.some((line) => line.msg === "node unreachable, using the known interval clock"), "restarted during the outage from the journal's clock");
    assert.ok(logs.some((line) => line.msg === "posting in batches" && line.relayer === relayer.address));
  });
});
