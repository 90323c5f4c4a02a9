/**
 * The whole platform on a real Geth chain, for tests 2 and 3: the market deployed and set up through
 * the tasks, `cycle:run --network privnet` given every node's URL, the meter bridge reading simulated
 * DL/T 645 meters over a socat pseudo-terminal, and scripted bidders (`npx hardhat bid`, which commits
 * and later reveals) every interval. Meanwhile it kill -9's the daemon twice and the bridge once at
 * random points (seed printed, SEED=… replays) and starts them again, and, as asked, kill -9's the
 * daemon's node or cuts the network in two and heals it (test 3: a reorganization that takes the
 * daemon's and the bridge's transactions off the chain).
 *
 * Afterwards the chain's events must show every interval cleared exactly once, every prosumer settled
 * exactly once per interval (its reading there), every meter's reading of every interval posted
 * exactly once, and the market's ether equal to what came in minus what went out.
 */
import assert from "node:assert/strict";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Interface, JsonRpcProvider, Network, TransactionReceipt, Wallet, parseEther } from "ethers";
import { Engine, heal, killNode, partition, restartNode, rpc, stopChain } from "../../scripts/geth/chain";
import { windowsOf } from "../../lib/clock";
import type { Deployment } from "../../lib/deployment";
import { rng } from "../shared/random";
import { HARDHAT, REPO_ROOT, daemon, hardhat, killGroup, sleep, testChain } from "./support";

/** Windows wide enough for a `bid` task to start and commit on a loaded 2-core machine (Clique). */
const CLIQUE_SCHEDULE = { interval: 60, commit: 30, reveal: 12, settleOffset: 10, grace: 12 };
let SCHEDULE = CLIQUE_SCHEDULE;
/** Intervals with bids; the run ends when the last is settled. */
const BID_INTERVALS = 4;
const BRIDGE_CLI = path.join(REPO_ROOT, "meter-bridge/dist/cli.js");

type Key = { address: string; privateKey: string };
type Prosumer = { name: string; green: boolean; key: Key; meter: Key; meterNumber: string; exportW: number; importW: number; side: "sell" | "buy"; kWh: string; price: string; id?: number };
const prosumers: Prosumer[] = [
  { name: "wind", green: true, key: Wallet.createRandom(), meter: Wallet.createRandom(), meterNumber: "000000000001", exportW: 30_000, importW: 0, side: "sell", kWh: "0.3", price: "0.0006" },
  { name: "controllable", green: false, key: Wallet.createRandom(), meter: Wallet.createRandom(), meterNumber: "000000000002", exportW: 20_000, importW: 0, side: "sell", kWh: "0.2", price: "0.00065" },
  { name: "ev", green: true, key: Wallet.createRandom(), meter: Wallet.createRandom(), meterNumber: "000000000003", exportW: 0, importW: 25_000, side: "buy", kWh: "0.25", price: "0.0008" },
];

export interface PlatformOptions {
  engine: Engine;
  nodes: number;
  period?: number;
  /** Node (1-based) order of the daemon's URLs: it uses the first that answers. */
  daemonNodes: number[];
  /** Node order of the bidders' URLs. */
  bidderNodes: number[];
  /** Node order of the bridge's URLs (it posts through the first that answers). */
  bridgeNodes: number[];
  /** kill -9 the daemon's first node, mid-run, for good. */
  killDaemonNode?: boolean;
  /**
   * Cut nodes `a` from nodes `b` across a clearing, a reading boundary and a settlement, which the
   * daemon and the bridge (their first node in `b`) send through `b`; then `b` stops mining until
   * `a`'s branch is heavier, `b`'s nodes are killed and the network healed: the daemon and the
   * bridge move to `a` and must send again what only `b` had. `b` comes back after they have.
   * `seconds` bounds how long `b` mines alone.
   */
  partition?: { a: number[]; b: number[]; seconds: number };
  /**
   * A bid whose commit or reveal is mined after its window (the market refuses it: WrongPhase) is
   * logged as missed instead of failing the run: ethash blocks on a loaded machine can take longer
   * than a window. Every interval is still cleared and settled exactly once; some must trade.
   */
  tolerateLateBids?: boolean;
  /** Market windows in seconds (default: 60-second intervals, commit 30, reveal 12). */
  schedule?: typeof CLIQUE_SCHEDULE;
}

/** The public grid's account: registered by the operator, it takes the balancing of every deviation. */
const grid = Wallet.createRandom();

let t: Awaited<ReturnType<typeof testChain>>;
let deployment: Deployment;
let provider: JsonRpcProvider;
let o: PlatformOptions;
let random: ReturnType<typeof rng>;
const logLines: string[] = [];
const children = new Set<ChildProcess>();
const urlsOf = (nodes: number[]) => nodes.map((i) => t.chain.rpcUrls[i - 1]).join(",");

function keep(name: string, child: ChildProcess): ChildProcess {
  children.add(child);
  child.once("exit", (code, signal) => {
    children.delete(child);
    logLines.push(`[test] ${name} exited (${signal ?? code})`);
  });
  return child;
}

const log = (who: string) => (line: string) => {
  logLines.push(`[${who}] ${line}`);
  appendFileSync(path.join(t.dir, "run.log"), `[${who}] ${line}\n`);
};

/** Start the chain; `stopPlatform` undoes it. */
export async function startPlatform(options: PlatformOptions): Promise<void> {
  // the meters' simulator and the bridge run from meter-bridge's build: without it no reading would
  // ever be posted, and the run would only fail at its end
  assert.ok(existsSync(BRIDGE_CLI), `${BRIDGE_CLI} is missing: build meter-bridge first (npm run build -w meter-bridge)`);
  o = options;
  SCHEDULE = o.schedule ?? CLIQUE_SCHEDULE;
  const seed = Number(process.env.SEED ?? Date.now() % 100000);
  random = rng(seed);
  const prefund = Object.fromEntries([...prosumers.flatMap((p) => [[p.key.address, parseEther("100")], [p.meter.address, parseEther("10")]]), [grid.address, parseEther("100")]]);
  t = await testChain({ engine: o.engine, nodes: o.nodes, period: o.period, prefund, partitionable: o.partition !== undefined });
  t.env.PRIVNET_RPC_URLS = urlsOf(o.bidderNodes);
  // the test reads the chain through the bidders' node (test 2 kills the daemon's, test 3 cuts it off)
  provider = new JsonRpcProvider(t.chain.rpcUrls[o.bidderNodes[0] - 1], Network.from(t.chain.chainId), { staticNetwork: true, cacheTimeout: -1 });
  console.log(`# seed ${seed}; chain in ${t.chain.dir}; run log ${path.join(t.dir, "run.log")} (KEEP_GETH_TEST=1 keeps it)`);
}

export async function stopPlatform(): Promise<void> {
  await Promise.all([...children].map((c) => killGroup(c, "SIGKILL")));
  provider?.destroy();
  if (!process.env.KEEP_GETH_TEST) return void (await t?.stop());
  await stopChain(t.chain.dir).catch(() => undefined); // nodes stopped, data and logs kept
  console.log(`# kept ${t.dir}`);
}

async function setUpMarket() {
  const { interval, commit, reveal, settleOffset, grace } = SCHEDULE;
  await hardhat(["deploy", "--network", "privnet", "--interval", String(interval), "--commit", String(commit), "--reveal", String(reveal), "--settle-offset", String(settleOffset), "--grace", String(grace)], t.env);
  deployment = JSON.parse(readFileSync(t.env.MARKET_DEPLOYMENT!, "utf8"));
  for (const p of prosumers) {
    writeFileSync(path.join(t.dir, `${p.name}.key`), p.key.privateKey + "\n");
    writeFileSync(path.join(t.dir, `${p.meterNumber}.key`), p.meter.privateKey + "\n");
  }
  const keyFile = (p: Prosumer) => ["--key-file", path.join(t.dir, `${p.name}.key`)];
  await Promise.all(prosumers.map((p) => hardhat(["register", "--network", "privnet", "--name", p.name, ...(p.green ? ["--green"] : []), ...keyFile(p)], t.env)));
  await Promise.all(prosumers.map((p) => hardhat(["deposit", "--network", "privnet", "--amount", "5", ...keyFile(p)], t.env)));
  // operator tasks one after another: one key, one nonce sequence
  for (const p of prosumers) {
    await hardhat(["authorize", "--network", "privnet", "--participant", p.key.address], t.env);
    await hardhat(["meter:propose", "--network", "privnet", "--participant", p.key.address, "--meter", p.meterNumber, "--account", p.meter.address, "--rated-kw", "1000"], t.env);
  }
  // each prosumer consents to its meter (its deposit holds the meter's security)
  await Promise.all(prosumers.map((p) => hardhat(["meter:accept", "--network", "privnet", "--meter", p.meterNumber, ...keyFile(p)], t.env)));
  await hardhat(["grid:register", "--network", "privnet", "--address", grid.address], t.env);
  writeFileSync(path.join(t.dir, "grid.key"), grid.privateKey + "\n");
  await hardhat(["deposit", "--network", "privnet", "--amount", "10", "--key-file", path.join(t.dir, "grid.key")], t.env);
  await hardhat(["pool:fund", "--network", "privnet", "--amount", "1"], t.env);
}

function startMeters() {
  const a = path.join(t.dir, "bridge.pty");
  const b = path.join(t.dir, "meters.pty");
  assert.equal(spawnSync("socat", ["-V"], { stdio: "ignore" }).status, 0, "socat is installed (.ci/run installs it)");
  keep("socat", spawn("socat", [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: "ignore", detached: true }));
  const line = { baudRate: 9600, parity: "even" };
  writeFileSync(path.join(t.dir, "meters.json"), JSON.stringify({ replyDelayMs: 20, line, meters: prosumers.map((p) => ({ address: p.meterNumber, importWh: 0, exportWh: 0, importW: p.importW, exportW: p.exportW })) }));
  writeFileSync(
    path.join(t.dir, "bridge.json"),
    JSON.stringify({
      rpcUrls: o.bridgeNodes.map((i) => t.chain.rpcUrls[i - 1]),
      chainId: t.chain.chainId,
      market: deployment.market,
      journal: "journal.jsonl",
      maxReadDelaySeconds: 6,
      logLevel: "info",
      poster: { confirmations: t.chain.confirmations, pollMs: 500 },
      ports: [{ path: a, ...line, responseTimeoutMs: 300, meters: prosumers.map((p) => ({ address: p.meterNumber, key: { keyFile: `${p.meterNumber}.key` } })) }],
    }),
  );
  for (const end = Date.now() + 5000; !(existsSync(a) && existsSync(b)); ) if (Date.now() > end) throw new Error("the pseudo-terminal pair did not appear");
  keep("meter simulator", daemon(process.execPath, [BRIDGE_CLI, "simulate", "--port", b, "--meters", path.join(t.dir, "meters.json"), "--baud", "9600", "--parity", "even"], { ...process.env }, log("meters")));
}

let bridgeRuns = 0;
const bridgeLog: Record<string, unknown>[] = [];
function startBridge(): ChildProcess {
  const n = ++bridgeRuns;
  const say = log(`bridge ${n}`);
  return keep(
    `bridge run ${n}`,
    daemon(process.execPath, [BRIDGE_CLI, "run", "--config", path.join(t.dir, "bridge.json")], { ...process.env }, (line) => {
      say(line);
      try {
        bridgeLog.push({ run: n, ...JSON.parse(line) });
      } catch {
        /* not a JSON line */
      }
    }),
  );
}

let missedBids = 0;
let daemonRuns = 0;
const daemonLog: { run: number; record: Record<string, unknown> }[] = [];
function startDaemon(): ChildProcess {
  const n = ++daemonRuns;
  const say = log(`cycle ${n}`);
  return keep(
    `cycle:run ${n}`,
    daemon(process.execPath, [HARDHAT, "cycle:run", "--network", "privnet", "--poll-ms", "1000", "--json"], { ...t.env, PRIVNET_RPC_URLS: urlsOf(o.daemonNodes) }, (line) => {
      say(line);
      try {
        daemonLog.push({ run: n, record: JSON.parse(line) });
      } catch {
        /* a non-JSON line (Hardhat's own) */
      }
    }),
  );
}

async function blockTime(): Promise<number> {
  return Number((await provider.send("eth_getBlockByNumber", ["latest", false])).timestamp);
}

/**
 * A bid that missed its window on slow blocks (tolerateLateBids): refused before sending (the phase
 * in words, or the raw WrongPhase), or mined after the window closed and failed (the task's one line
 * for a mined failure; nothing changed).
 */
const lateBid = /WrongPhase\(|: this is not possible now\.|was mined in block \d+ but failed .*nothing changed/;

/** Each prosumer bids for interval `d`: launched when d's commit window opens; each `bid` commits and later reveals. */
async function bidFor(d: number): Promise<void> {
  const w = windowsOf(deployment.schedule, d);
  while ((await blockTime()) < w.commitStart) await sleep(500);
  const runs = prosumers.map(
    (p) =>
      new Promise<void>((resolve, reject) => {
        const args = [HARDHAT, "bid", "--network", "privnet", "--side", p.side, "--energy", p.kWh, "--price", p.price, "--key-file", path.join(t.dir, `${p.name}.key`), "--salt-dir", path.join(t.dir, "salts", p.name)];
        const child = keep(`bid ${p.name} ${d}`, spawn(process.execPath, args, { cwd: REPO_ROOT, env: t.env, stdio: ["ignore", "pipe", "pipe"] }));
        let out = "";
        child.stdout!.on("data", (x) => (out += x));
        child.stderr!.on("data", (x) => (out += x));
        child.once("exit", (code) => {
          log(`bid ${p.name}`)(out.trim().replace(/\n/g, " | "));
          if (code === 0 && new RegExp(`for interval ${d}\\b`).test(out)) resolve();
          else if (o.tolerateLateBids && lateBid.test(out)) {
            missedBids++;
            log("test")(`${p.name}'s bid for interval ${d} missed its window`);
            resolve();
          } else reject(new Error(`bid of ${p.name} for interval ${d} failed (exit ${code}): ${out.trim()}`));
        });
      }),
  );
  await Promise.all(runs);
}

async function events(name: string): Promise<Record<string, bigint | boolean>[]> {
  const iface = new Interface(JSON.parse(readFileSync(path.join(REPO_ROOT, "artifacts/contracts/EnergyMarket.sol/EnergyMarket.json"), "utf8")).abi);
  const topic = iface.getEvent(name)!.topicHash;
  const logs = await provider.getLogs({ address: deployment.market, topics: [topic], fromBlock: deployment.deployedAt.block });
  return logs.map((l) => iface.parseLog(l)!.args.toObject() as Record<string, bigint | boolean>);
}

const untilIn = async (records: () => Record<string, unknown>[], what: string, ok: (r: Record<string, unknown>) => boolean, timeoutMs: number) => {
  for (const end = Date.now() + timeoutMs; !records().some(ok); await sleep(200)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; log: ${path.join(t.dir, "run.log")}`);
  }
};
const untilLogged = (what: string, ok: (r: Record<string, unknown>) => boolean, timeoutMs = 300_000) => untilIn(() => daemonLog.map((l) => l.record), what, ok, timeoutMs);
const untilBridgeLogged = (what: string, ok: (r: Record<string, unknown>) => boolean, timeoutMs = 300_000) => untilIn(() => bridgeLog, what, ok, timeoutMs);

export interface PlatformRun {
  daemonLog: Record<string, unknown>[];
  /** The bridge's JSON log lines, each with the `run` it came from. */
  bridgeLog: Record<string, unknown>[];
  /** The heads of both sides when the partition healed (test 3). */
  reorgAt?: { a: { number: number; hash: string; td: bigint }; b: { number: number; hash: string; td: bigint } };
  /** The chain's events, as the test reads them at the end. */
  events: (name: string) => Promise<Record<string, bigint | boolean>[]>;
  /** A transaction's receipt on the chain as the test reads it (null: not on the chain). */
  receipt: (hash: string) => Promise<TransactionReceipt | null>;
  first: number;
  last: number;
}

/** The run and the checks every run must pass; returns the daemon's log for the caller's own checks. */
export async function runPlatform(): Promise<PlatformRun> {
  let reorgAt: PlatformRun["reorgAt"];
  await setUpMarket();
  const ids = await events("ParticipantRegistered");
  for (const p of prosumers) p.id = Number(ids.find((x) => x.account === (p.key.address as unknown))?.id ?? 0);
  startMeters();
  let bridge = startBridge();
  let cycle = startDaemon();

  const now = await blockTime();
  const current = Math.floor((now - deployment.schedule.startTime) / deployment.schedule.intervalSeconds);
  const first = current + 2; // the first interval whose commit window is wholly ahead
  const last = first + BID_INTERVALS - 1;
  const bids = (async () => {
    for (let d = first; d <= last; d++) await bidFor(d);
  })();

  // the daemon says which node it uses: the first of its list
  await untilLogged("the daemon's node", (r) => r.action === "rpc" && r.event === "node-in-use");
  assert.equal(daemonLog.find((l) => l.record.event === "node-in-use")!.record.node, t.chain.rpcUrls[o.daemonNodes[0] - 1]);

  // Kills at random points of the run, spread over its intervals.
  const ms = (x: number) => x * 1000;
  const span = ms(BID_INTERVALS * SCHEDULE.interval);
  const kill = async (what: string, started: number) => {
    log("test")(`kill -9 ${what} at +${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (what === "daemon") {
      await killGroup(cycle, "SIGKILL");
      await sleep(random.int(500, 4000));
      cycle = startDaemon();
    } else if (what === "bridge") {
      await killGroup(bridge, "SIGKILL");
      await sleep(random.int(500, 4000));
      bridge = startBridge();
    } else {
      await killNode(t.chain, o.daemonNodes[0]);
    }
  };
  const runPlan = async (plan: { at: number; what: string }[]) => {
    const started = Date.now();
    for (const k of plan.sort((a, b) => a.at - b.at)) {
      await sleep(Math.max(0, started + k.at - Date.now()));
      await kill(k.what, started);
    }
  };
  if (o.partition) {
    // kills before the partition, and after the daemon and the bridge have noticed the reorg: one
    // killed while cut off would forget what it sent on the losing side (the daemon still derives
    // what is due from chain state, the bridge from its journal, but the reorg's log would be lost)
    const cut = splitAcrossClearing(first + 1);
    await runPlan([
      { at: random.int(ms(5), ms(40)), what: "daemon" },
      { at: random.int(ms(5), ms(60)), what: "bridge" },
    ]);
    reorgAt = await cut;
    await untilLogged("the daemon's re-send", (r) => r.event === "resent", 300_000);
    await untilBridgeLogged("the bridge's re-send", (r) => r.msg === "reading sent again after a reorganization", 300_000);
    await rejoin();
    await runPlan([
      { at: random.int(ms(5), ms(30)), what: "daemon" },
      { at: random.int(ms(5), ms(30)), what: "bridge" },
    ]);
  } else {
    await runPlan([
      { at: random.int(ms(10), span * 0.3), what: "daemon" },
      { at: random.int(span * 0.2, span * 0.6), what: "bridge" },
      ...(o.killDaemonNode ? [{ at: random.int(span * 0.35, span * 0.55), what: "node" }] : []),
      { at: random.int(span * 0.6, span * 0.9), what: "daemon" },
    ]);
  }
  await bids;

  // wait until the last interval is settled for every prosumer
  for (const end = Date.now() + 5 * 60_000; ; await sleep(1000)) {
    const settled = (await events("ParticipantSettled")).filter((a) => Number(a.interval) === last);
    if (settled.length >= prosumers.length) break;
    if (Date.now() > end) throw new Error(`interval ${last} was not settled; log: ${path.join(t.dir, "run.log")}`);
  }
  await killGroup(cycle, "SIGTERM");
  await killGroup(bridge, "SIGTERM");

  assert.ok(daemonRuns >= 3 && bridgeRuns >= 2);

  // every interval cleared exactly once
  const firstTraded = Math.floor((deployment.deployedAt.time - deployment.schedule.startTime) / deployment.schedule.intervalSeconds) + 1;
  const cleared = (await events("IntervalCleared")).map((a) => Number(a.interval));
  for (let d = firstTraded; d <= last; d++) assert.equal(cleared.filter((x) => x === d).length, 1, `IntervalCleared(${d}) once`);
  const trades = await events("TradeMatched");
  if (o.tolerateLateBids) assert.ok(trades.length > 0, `some interval traded (${missedBids} bids missed their windows)`);
  else for (let d = first; d <= last; d++) assert.ok(trades.some((x) => Number(x.interval) === d), `interval ${d} traded`);

  // every prosumer settled exactly once per interval, from the first interval its reading opened
  const settled = await events("ParticipantSettled");
  const readings = await events("ReadingPosted");
  for (const p of prosumers) {
    const mine = readings.filter((r) => Number(r.participantId) === p.id).map((r) => Number(r.interval));
    const from = Math.min(...mine);
    for (let d = from; d <= last; d++) assert.equal(mine.filter((x) => x === d).length, 1, `${p.name}'s reading of interval ${d} on chain exactly once`);
    for (let d = from + 1; d <= last; d++) {
      const s = settled.filter((x) => Number(x.interval) === d && Number(x.id) === p.id);
      assert.equal(s.length, 1, `${p.name} settled once in interval ${d}`);
      assert.equal(s[0].readingMissing, false, `${p.name}'s reading of ${d} was there at settlement`);
    }
    assert.ok(from <= first, `${p.name}'s readings start before the first traded interval (${from})`);
  }

  // conservation: the market holds exactly what came in (deposits, pool funding) less what went out
  const sum = async (name: string) => (await events(name)).reduce((a, x) => a + (x.amount as bigint), 0n);
  const held = await provider.getBalance(deployment.market);
  assert.equal(held, (await sum("Deposited")) + (await sum("PoolFunded")) - (await sum("Withdrawn")), "ether held = deposits + pool funding - withdrawals");
  console.log(`# intervals ${first}..${last} cleared and settled; daemon runs ${daemonRuns}, bridge runs ${bridgeRuns}`);
  return { daemonLog: daemonLog.map((l) => l.record), bridgeLog, reorgAt, first, last, events, receipt: (hash) => provider.getTransactionReceipt(hash) };
}

/** Logs of the market's event `name` as node `node` sees them (its own branch while cut off). */
async function eventsOn(node: number, name: string): Promise<Record<string, bigint | boolean>[]> {
  const iface = new Interface(JSON.parse(readFileSync(path.join(REPO_ROOT, "artifacts/contracts/EnergyMarket.sol/EnergyMarket.json"), "utf8")).abi);
  const logs = await rpc<{ topics: string[]; data: string }[]>(t.chain.rpcUrls[node - 1], "eth_getLogs", [{ address: deployment.market, topics: [iface.getEvent(name)!.topicHash], fromBlock: "0x" + deployment.deployedAt.block.toString(16) }]);
  return logs.map((l) => iface.parseLog(l)!.args.toObject() as Record<string, bigint | boolean>);
}

type Head = { number: number; hash: string; td: bigint; difficulty: bigint };
async function headOf(node: number): Promise<Head> {
  const b = await rpc<{ number: string; hash: string; totalDifficulty: string; difficulty: string }>(t.chain.rpcUrls[node - 1], "eth_getBlockByNumber", ["latest", false]);
  return { number: Number(b.number), hash: b.hash, td: BigInt(b.totalDifficulty), difficulty: BigInt(b.difficulty) };
}

/**
 * Cut the network in two (`a` | `b`) just before interval `d`'s reveal window closes. While cut, `b`
 * mines alone what the daemon and the bridge send through it: the clearing of `d`, the meters'
 * readings of `d-1` (posted at its end) and the settlement of `d-1`. Once all of them are on `b`'s
 * branch (or `seconds` have passed), `b` stops mining and `a` mines on until its branch is heavier by
 * more than a block's work. Then `b`'s nodes are killed and the network healed: everything `b` mined
 * alone is off the chain the daemon and the bridge now reach (through `a`, which never saw it), and
 * they must notice it and send it again. Had `b` lived, a Geth node that drops blocks in a reorg puts
 * their transactions back in its own pool and mines them again by itself (seen in this test's first
 * run: the senders only logged them "mined again"). Returns the heads at the heal; `rejoin` brings
 * `b` back.
 */
async function splitAcrossClearing(d: number): Promise<{ a: Head; b: Head }> {
  const { a, b, seconds } = o.partition!;
  const w = windowsOf(deployment.schedule, d);
  while ((await blockTime()) < w.revealEnd - 4) await sleep(500);
  await partition(t.chain, a, b);
  const heads = async () => (await Promise.all(t.chain.nodes.map((n) => headOf(n.index)))).map((h) => h.number).join(", ");
  log("test")(`partition ${a.join(",")} | ${b.join(",")} at heights ${await heads()}`);
  const onB = async () => {
    const count = async (name: string, interval: number) => (await eventsOn(b[0], name)).filter((x) => Number(x.interval) === interval).length;
    return { cleared: await count("IntervalCleared", d), readings: await count("ReadingPosted", d - 1), settled: await count("ParticipantSettled", d - 1) };
  };
  let mined = await onB();
  for (const end = Date.now() + seconds * 1000; Date.now() < end; await sleep(1000)) {
    mined = await onB();
    if (mined.cleared >= 1 && mined.readings >= prosumers.length && mined.settled >= prosumers.length) break;
  }
  for (const i of b) await rpc(t.chain.rpcUrls[i - 1], "miner_stop", []);
  log("test")(`side ${b.join(",")} stops mining at heights ${await heads()}; on its branch: clearing of ${d} ${mined.cleared}, readings of ${d - 1} ${mined.readings}, settlements of ${d - 1} ${mined.settled}`);
  const heavier = async () => {
    const [ha, hb] = [await headOf(a[0]), await headOf(b[0])];
    return ha.td > hb.td + hb.difficulty;
  };
  for (const end = Date.now() + 10 * 60_000; !(await heavier()); await sleep(500)) if (Date.now() > end) throw new Error(`side ${a.join(",")} did not outweigh side ${b.join(",")} in 10 minutes`);
  const at = { a: await headOf(a[0]), b: await headOf(b[0]) };
  for (const i of b) await killNode(t.chain, i);
  log("test")(`side ${b.join(",")} killed at heights ${at.a.number} | ${at.b.number} (total difficulty ${at.a.td} | ${at.b.td}); healing`);
  await heal(t.chain);
  return at;
}

/**
 * After the senders' re-sends: the losing side's nodes start again on their data, find the heavier
 * branch and take it (they mine again only once they have: mining on their own branch first could
 * make it the heavier again).
 */
async function rejoin(): Promise<void> {
  const { a, b } = o.partition!;
  for (const i of b) {
    await restartNode(t.chain, i);
    await rpc(t.chain.rpcUrls[i - 1], "miner_stop", []);
  }
  const target = await headOf(a[0]);
  const hashAt = (node: number, n: number) => rpc<{ hash: string } | null>(t.chain.rpcUrls[node - 1], "eth_getBlockByNumber", ["0x" + n.toString(16), false]).then((x) => x?.hash);
  for (const i of b) {
    for (const end = Date.now() + 180_000; (await hashAt(i, target.number)) !== target.hash; await sleep(500)) if (Date.now() > end) throw new Error(`node ${i} did not take side ${a.join(",")}'s branch`);
    await rpc(t.chain.rpcUrls[i - 1], "miner_start", [1]);
  }
  log("test")(`side ${b.join(",")} restarted, took the other branch at height ${target.number} and mines again`);
}
