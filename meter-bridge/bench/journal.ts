/**
 * Benchmark (not a test): `npm run bench:journal -w meter-bridge [-- <intervals>]`.
 * The daemon (`meter-bridge run`, a child process) reads two simulated meters over a pty pair at
 * 5-s intervals and posts to anvil (1-s blocks) for `intervals` intervals (default 40), with a
 * history window of 4 intervals; prints the journal's size at every boundary: it levels off at
 * the unsettled readings plus the window (the file may hold up to twice that before it compacts).
 */
import { mkdtempSync, statSync, writeFileSync, existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { JsonRpcProvider, Wallet } from "ethers";
import { boundaryMs, lastBoundary } from "../src/clock";
import { DEFAULT_LINE, closeSerialPort, openSerialPort } from "../src/line";
import { MeterSimulator } from "../src/simulator";
import { Anvil, CHAIN_ID, DEV_KEY, freePort } from "../test/support/anvil";
import { BridgeProcess } from "../test/support/bridgeProcess";
import { deployMarket } from "../test/support/market";
import { startPtyPair } from "../test/support/ptyPair";

const INTERVAL_SECONDS = 5;
const HISTORY_INTERVALS = 4;
const intervals = Number(process.argv[2] ?? 40);
const METERS = [
  { address: "000000000001", importWh: 1_000_000, importW: 3_600 },
  { address: "000000000002", importWh: 5_000, exportWh: 1_000, exportW: 7_200 },
];

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), "meter-bridge-bench-journal-"));
  const anvil = new Anvil({ port: await freePort(), blockTime: 1 });
  await anvil.start();
  const provider = new JsonRpcProvider(anvil.url, CHAIN_ID, { staticNetwork: true });
  const keys = METERS.map(() => Wallet.createRandom().privateKey);
  const startTime = Math.floor(Date.now() / 1000);
  const clock = { startTime, intervalSeconds: INTERVAL_SECONDS };
  const { address: market } = await deployMarket(new Wallet(DEV_KEY, provider), { startTime, intervalSeconds: INTERVAL_SECONDS, meters: METERS.map((meter, i) => ({ address: meter.address, account: new Wallet(keys[i]).address, ratedPowerW: 100_000 })) });
  keys.forEach((key, i) => writeFileSync(path.join(dir, `m${i}.key`), key));
  const pty = await startPtyPair();
  const meterPort = await openSerialPort(pty.b, DEFAULT_LINE);
  const simulator = new MeterSimulator(meterPort, METERS);
  const journal = path.join(dir, "journal.jsonl");
  writeFileSync(path.join(dir, "bridge.json"), JSON.stringify({ rpcUrl: anvil.url, chainId: CHAIN_ID, market, journal, journalHistoryIntervals: HISTORY_INTERVALS, maxReadDelaySeconds: 2, timeSync: { enabled: false }, poster: { pollMs: 300 }, ports: [{ path: pty.a, meters: METERS.map((meter, i) => ({ address: meter.address, key: { keyFile: `m${i}.key` } })) }] }));
  const bridge = new BridgeProcess(path.join(dir, "bridge.json"), path.join(dir, "bridge.log"));
  bridge.start();
  console.log(`journal of the daemon: ${METERS.length} meters, ${INTERVAL_SECONDS}-s intervals, anvil with 1-s blocks, journalHistoryIntervals ${HISTORY_INTERVALS}`);
  console.log("interval  bytes  records");
  const sizes: number[] = [];
  const first = lastBoundary(clock, Date.now()) + 1;
  for (let k = first; k < first + intervals; k++) {
    await new Promise((resolve) => setTimeout(resolve, boundaryMs(clock, k) + 4000 - Date.now())); // late in the interval: this boundary's readings posted
    const bytes = existsSync(journal) ? statSync(journal).size : 0;
    const records = existsSync(journal) ? readFileSync(journal, "utf8").split("\n").length - 1 : 0;
    sizes.push(bytes);
    console.log(`${String(k - 1).padStart(8)}  ${String(bytes).padStart(5)}  ${String(records).padStart(7)}`);
  }
  await bridge.stop();
  const growth = sizes
    .slice(1)
    .map((size, i) => size - sizes[i])
    .filter((step) => step > 0)
    .sort((a, b) => a - b);
  const perReading = Math.round(growth[Math.floor(growth.length / 2)] / METERS.length); // median growth per interval, per meter
  console.log(`largest ${Math.max(...sizes)} bytes; over the last half of the run ${Math.min(...sizes.slice(intervals / 2))}..${Math.max(...sizes.slice(intervals / 2))} bytes; about ${perReading} bytes per reading (reading, transaction, outcome)`);
  simulator.stop();
  await closeSerialPort(meterPort);
  await pty.stop();
  provider.destroy();
  await anvil.stop();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
