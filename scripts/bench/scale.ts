/**
 * The scale benchmark (issue 11, "Scale"): N prosumers on a fresh 2-node Clique chain, whole intervals
 * with the paper's windows, every message through the platform's own parts.
 *
 *   npm run bench:scale -- --participants N --engine clique [--json FILE]
 *     [--intervals 2] [--interval-seconds 900] [--period 5] [--gas-limit G]
 *     [--settle-batch 500] [--clear-steps 1000] [--concurrency 64] [--start-in S] [--dir D] [--keep]
 *
 * - The chain: scripts/geth/chain.ts (Geth 1.13.15, one sealer, `--period` seconds a block).
 * - The market: `hardhat deploy` with scheduleFor(interval) windows (900 s: commit 2 min, reveal 1 min),
 *   starting `--start-in` seconds after deployment so that the setup ends inside interval 0.
 * - Setup (timed apart, not a phase): the operator sends `registerBatch` (registrations signed by each
 *   prosumer, lib/signed.ts), `authorize` one by one (the contract has no batch form), `depositFor`,
 *   `proposeMeter`, and `acceptMeterFor` (the prosumer's signed consent), in waves of raw
 *   transactions with consecutive nonces.
 * - Each interval: every prosumer signs an EIP-712 commit (ahead of the window; the time is reported)
 *   and POSTs it to the relayer of `cycle:run --relay-port` over HTTP, each prosumer from its own
 *   loopback address (127.x.y.z), as separate clients; then it POSTs its reveal. After delivery every
 *   meter signs its reading and "bridges" of 100 meters each post them: one `postReadings` transaction
 *   per bridge, paid by the bridge's own account: the transaction meter-bridge's BatchPoster sends for
 *   a port, built here rather than by 100 gateway processes on one 2-core machine. `cycle:run` (the real
 *   daemon, a child process) clears and settles.
 * - SIGUSR2 stops the wait for the last settlement and measures what is on chain (sent earlier, the
 *   setup, bids and readings finish first).
 * - Measured from the chain afterwards (every block's transactions and receipts): per interval and
 *   phase, gas, blocks, wall seconds from the first submission to the last inclusion, the window the
 *   schedule gives the phase, and whether everything landed inside it; plus CPU of each process and
 *   the load average while the phase ran.
 */
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { appendFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { cpus, loadavg } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { Transaction, Wallet, keccak256, parseEther, toUtf8Bytes } from "ethers";
import { Chain, ChainError, REPO_ROOT, freePort, isRunning, rpc, startChain, stopChain } from "../geth/chain";
import { windowsOf } from "../../lib/clock";
import type { Deployment, ScheduleTimes } from "../../lib/deployment";
import { EnergyMarket__factory } from "../../typechain-types";
import { commitmentOf, newMeter, scheduleFor } from "../../lib/market";
import { marketDomain, signAcceptance, signCommit, signReading, signRegistration } from "../../lib/signed";

const HARDHAT = path.join(REPO_ROOT, "node_modules/hardhat/internal/cli/cli.js");
const PHASES = ["commit", "reveal", "clear", "readings", "settle"] as const;
type PhaseName = (typeof PHASES)[number];
const GWEI = 1_000_000_000n;
const RATED_POWER_W = 10_000;
const METERS_PER_BRIDGE = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const iface = EnergyMarket__factory.createInterface();

class UsageError extends Error {}

// ------------------------------------------------------------------ options

interface Options {
  participants: number;
  engine: "clique";
  json?: string;
  intervals: number;
  intervalSeconds: number;
  period: number;
  gasLimit?: number;
  settleBatch: number;
  clearSteps: number;
  concurrency: number;
  startIn?: number;
  keep: boolean;
  /** Where the chain, the deployment and cycle:run's log go (emptied first). */
  dir: string;
}

function wholeNumber(v: string | undefined, flag: string, fallback: number | undefined, min = 1): number | undefined {
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v))) throw new UsageError(`${flag} must be a whole number of at least ${min}, not ${JSON.stringify(v)}`);
  return Number(v);
}

export function parseOptions(argv: string[]): Options {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        participants: { type: "string" },
        engine: { type: "string" },
        json: { type: "string" },
        intervals: { type: "string" },
        "interval-seconds": { type: "string" },
        period: { type: "string" },
        "gas-limit": { type: "string" },
        "settle-batch": { type: "string" },
        "clear-steps": { type: "string" },
        concurrency: { type: "string" },
        "start-in": { type: "string" },
        keep: { type: "boolean" },
        dir: { type: "string" },
      },
    }).values;
  } catch (e) {
    throw new UsageError(String((e as Error).message).split("\n")[0]);
  }
  const s = (k: string) => values[k] as string | undefined;
  if (s("participants") === undefined) throw new UsageError("--participants is required: the number of prosumers, e.g. --participants 10000");
  const engine = s("engine") ?? "clique";
  if (engine !== "clique") throw new UsageError(`--engine must be clique (the benchmark runs on a Clique chain), not ${JSON.stringify(engine)}`);
  const intervalSeconds = wholeNumber(s("interval-seconds"), "--interval-seconds", 900, 60)!;
  return {
    participants: wholeNumber(s("participants"), "--participants", undefined, 1)!,
    engine,
    json: s("json"),
    intervals: wholeNumber(s("intervals"), "--intervals", 2, 1)!,
    intervalSeconds,
    period: wholeNumber(s("period"), "--period", 5, 1)!,
    gasLimit: wholeNumber(s("gas-limit"), "--gas-limit", undefined, 10_000_000),
    settleBatch: wholeNumber(s("settle-batch"), "--settle-batch", 500, 1)!,
    clearSteps: wholeNumber(s("clear-steps"), "--clear-steps", 1000, 1)!,
    concurrency: wholeNumber(s("concurrency"), "--concurrency", 64, 1)!,
    startIn: wholeNumber(s("start-in"), "--start-in", undefined, 10),
    keep: Boolean(values.keep),
    dir: path.resolve(s("dir") ?? path.join(REPO_ROOT, ".cache/bench-scale")),
  };
}

// ------------------------------------------------------------------ machine

interface Sample {
  at: number;
  load1: number;
  /** CPU seconds used so far, per process group. */
  cpu: Record<string, number>;
}

const TICKS = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;

/** CPU seconds (user + system) of every process whose process group or pid is in `roots`. */
function cpuSecondsOf(roots: number[]): number {
  let ticks = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const pgid = Number(f[2]);
      if (roots.includes(Number(entry)) || roots.includes(pgid)) ticks += Number(f[11]) + Number(f[12]);
    } catch {
      /* gone */
    }
  }
  return ticks / TICKS;
}

class Monitor {
  readonly samples: Sample[] = [];
  private timer?: NodeJS.Timeout;
  constructor(private readonly groups: () => Record<string, number[]>) {}
  start(everyMs = 5000) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }
  stop() {
    clearInterval(this.timer);
    this.sample();
  }
  sample() {
    const cpu: Record<string, number> = {};
    for (const [name, pids] of Object.entries(this.groups())) cpu[name] = cpuSecondsOf(pids);
    const self = process.cpuUsage();
    cpu.bench = (self.user + self.system) / 1e6;
    this.samples.push({ at: Date.now() / 1000, load1: loadavg()[0], cpu });
  }
  /** Mean CPU use (percent of one core) of each group, and the mean load, between two times. */
  between(from: number, to: number): Record<string, number> {
    const inside = this.samples.filter((s) => s.at >= from - 5 && s.at <= to + 5);
    if (inside.length < 2) return {};
    const [a, b] = [inside[0], inside[inside.length - 1]];
    const out: Record<string, number> = {};
    for (const k of Object.keys(b.cpu)) out[`${k}CpuPercent`] = Math.round(((b.cpu[k] - (a.cpu[k] ?? 0)) / Math.max(1, b.at - a.at)) * 100);
    out.load1 = Math.round((inside.reduce((x, s) => x + s.load1, 0) / inside.length) * 100) / 100;
    return out;
  }
}

function machine() {
  let model = cpus()[0]?.model ?? "unknown";
  try {
    model = /Model name:\s*(.*)/.exec(execFileSync("lscpu", { env: { ...process.env, LC_ALL: "C" } }).toString())?.[1].trim() ?? model;
  } catch {
    /* lscpu missing */
  }
  return { nproc: Number(execFileSync("nproc").toString().trim()), cpuModel: model, memGiB: Math.round(Number(/MemTotal:\s*(\d+)/.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0) / 1048576) };
}

// ------------------------------------------------------------------ people

interface Prosumer {
  index: number;
  key: Wallet;
  meter: Wallet;
  meterNumber: bigint;
  green: boolean;
  side: 0 | 1;
  id?: number;
  proposal?: string;
  /** Cumulative registers of its meter. */
  importWh: bigint;
  exportWh: bigint;
}

/** Deterministic keys (a seed per run): making 2N random wallets is slower and gains nothing. */
function makeProsumers(n: number, seed: string): Prosumer[] {
  const out: Prosumer[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      index: i,
      key: new Wallet(keccak256(toUtf8Bytes(`${seed}/prosumer/${i}`))),
      meter: new Wallet(keccak256(toUtf8Bytes(`${seed}/meter/${i}`))),
      meterNumber: 100_000_000_000n + BigInt(i),
      green: i % 4 < 2,
      side: (i % 2) as 0 | 1,
      importWh: 0n,
      exportWh: 0n,
    });
    if ((i + 1) % 2000 === 0) say(`keys: ${i + 1}/${n}`);
  }
  return out;
}

/** Each prosumer is its own HTTP client, on its own loopback address (the relayer limits per client). */
function clientAddress(i: number): string {
  return `127.${10 + Math.floor(i / 62_500)}.${(Math.floor(i / 250) % 250) + 1}.${(i % 250) + 1}`;
}

// ------------------------------------------------------------------ JSON-RPC in bulk

/** JSON-RPC batches of `size` calls (Geth answers at most 1,000 calls and 25 MB a batch). */
async function rpcBatch<T>(url: string, calls: { method: string; params: unknown[] }[], size = 200): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < calls.length; i += size) {
    const chunk = calls.slice(i, i + size);
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(chunk.map((c, j) => ({ jsonrpc: "2.0", id: j, ...c }))), signal: AbortSignal.timeout(120_000) });
    const body = (await res.json()) as { id: number; result?: T; error?: { message: string } }[];
    body.sort((a, b) => a.id - b.id);
    for (const r of body) {
      if (r.error) throw new Error(`${chunk[r.id].method}: ${r.error.message}`);
      out.push(r.result as T);
    }
  }
  return out;
}

interface RawReceipt {
  transactionHash: string;
  status: string;
  gasUsed: string;
  blockNumber: string;
  logs: { address: string; topics: string[]; data: string }[];
}

/**
 * The operator's setup transactions: signed locally with consecutive nonces, sent in waves (Geth's
 * pool holds 5,120 pending transactions), each wave waited for; every receipt must succeed.
 */
class BulkSender {
  private nonce = -1;
  constructor(
    private readonly wallet: Wallet,
    private readonly url: string,
    private readonly chainId: number,
  ) {}

  async send(label: string, calls: { to: string; data: string; value?: bigint }[], wave = 2500): Promise<{ receipts: RawReceipt[]; gas: bigint; seconds: number }> {
    const started = Date.now();
    if (this.nonce < 0) this.nonce = Number(await rpc<string>(this.url, "eth_getTransactionCount", [this.wallet.address, "pending"]));
    const receipts: RawReceipt[] = [];
    for (let i = 0; i < calls.length; i += wave) {
      const chunk = calls.slice(i, i + wave);
      // one estimate per function in the wave (the calls of one function cost about the same)
      const gasLimits = new Map<string, bigint>();
      for (const c of chunk) {
        const selector = c.data.slice(0, 10);
        if (gasLimits.has(selector)) continue;
        const estimate = BigInt(await rpc<string>(this.url, "eth_estimateGas", [{ from: this.wallet.address, to: c.to, data: c.data, value: "0x" + (c.value ?? 0n).toString(16) }]));
        gasLimits.set(selector, (estimate * 3n) / 2n + 20_000n);
      }
      const raws = chunk.map((c) =>
        Transaction.from({ type: 0, chainId: this.chainId, nonce: this.nonce++, to: c.to, data: c.data, value: c.value ?? 0n, gasLimit: gasLimits.get(c.data.slice(0, 10))!, gasPrice: GWEI }),
      );
      const signed = raws.map((tx) => {
        tx.signature = this.wallet.signingKey.sign(tx.unsignedHash);
        return tx;
      });
      await rpcBatch<string>(this.url, signed.map((tx) => ({ method: "eth_sendRawTransaction", params: [tx.serialized] })));
      const last = signed[signed.length - 1].nonce;
      for (;;) {
        const mined = Number(await rpc<string>(this.url, "eth_getTransactionCount", [this.wallet.address, "latest"]));
        if (mined > last) break;
        await sleep(1000);
      }
      const got = await rpcBatch<RawReceipt>(this.url, signed.map((tx) => ({ method: "eth_getTransactionReceipt", params: [tx.hash] })));
      const failed = got.findIndex((r) => !r || r.status !== "0x1");
      if (failed >= 0) throw new Error(`${label}: transaction ${i + failed + 1} of ${calls.length} failed (${signed[failed].hash})`);
      receipts.push(...got);
      say(`${label}: ${Math.min(i + wave, calls.length)}/${calls.length} mined`);
    }
    return { receipts, gas: receipts.reduce((a, r) => a + BigInt(r.gasUsed), 0n), seconds: (Date.now() - started) / 1000 };
  }
}

function logsOf(receipts: RawReceipt[], event: "ParticipantRegistered" | "MeterProposed") {
  const topic = iface.getEvent(event).topicHash;
  return receipts.flatMap((r) => r.logs.filter((l) => l.topics[0] === topic).map((l) => iface.parseLog(l)!));
}

// ------------------------------------------------------------------ HTTP to the relayer

function post(port: number, kind: string, body: unknown, localAddress: string): Promise<{ status: number; text: string }> {
  const data = JSON.stringify(body, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path: `/relay/${kind}`, method: "POST", localAddress, agent: false, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(data) } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.setTimeout(120_000, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(data);
  });
}

/**
 * POST every message with `concurrency` in flight, in order, until the phase's window closes (`until`,
 * unix seconds: a prosumer stops trying then); counts refusals by their one-line reason.
 */
async function submitAll(port: number, kind: string, items: { body: unknown; from: string }[], concurrency: number, until: number) {
  const refused = new Map<string, number>();
  let next = 0;
  let accepted = 0;
  const firstAt = Date.now() / 1000;
  const worker = async () => {
    while (next < items.length && Date.now() / 1000 < until) {
      const item = items[next++];
      let res: { status: number; text: string };
      try {
        res = await post(port, kind, item.body, item.from);
      } catch (e) {
        res = { status: 0, text: JSON.stringify({ error: String((e as Error).message) }) };
      }
      if (res.status === 202) accepted++;
      else {
        let reason = res.text;
        try {
          reason = JSON.parse(res.text).error;
        } catch {
          /* as is */
        }
        const key = `${res.status} ${String(reason).replace(/\b\d+\b/g, "#").slice(0, 160)}`;
        refused.set(key, (refused.get(key) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  const notSubmitted = items.length - next;
  if (notSubmitted) refused.set(`not submitted before the window closed`, notSubmitted);
  return { firstAt, doneAt: Date.now() / 1000, accepted, refused: Object.fromEntries(refused) };
}

// ------------------------------------------------------------------ the run

interface PhaseResult {
  interval: number;
  name: PhaseName;
  gas: number;
  blocks: number;
  wallSeconds: number | null;
  windowSeconds: number;
  inWindow: boolean;
  transactions: number;
  entries: number;
  expected: number;
  skipped: number;
  refused?: Record<string, number>;
  signSeconds?: number;
  maxBlockGasUsed: number;
  cpu?: Record<string, number>;
}

async function main(argv: string[]) {
  const o = parseOptions(argv);
  const n = o.participants;
  const host = machine();
  say(`scale benchmark: ${n} participants, ${o.intervals} intervals of ${o.intervalSeconds} s, Clique period ${o.period} s; ${host.nproc} cores (${host.cpuModel}), load ${loadavg()[0].toFixed(2)}`);
  const seed = `scale-${Date.now()}`;
  const people = makeProsumers(n, seed);
  const grid = new Wallet(keccak256(toUtf8Bytes(`${seed}/grid`)));
  const bridges = Array.from({ length: Math.ceil(n / METERS_PER_BRIDGE) }, (_, i) => new Wallet(keccak256(toUtf8Bytes(`${seed}/bridge/${i}`))));

  const runDir = o.dir;
  mkdirSync(runDir, { recursive: true });
  const prefund = Object.fromEntries([...bridges.map((b) => [b.address, parseEther("100")] as const), [grid.address, parseEther("10")]]);
  const chain = await startChain({ engine: "clique", nodes: 2, period: o.period, gasLimit: o.gasLimit, prefund, dir: path.join(runDir, "chain"), log: say });
  const url = chain.rpcUrls[0];
  const children: ChildProcess[] = [];
  const monitor = new Monitor(() => ({ geth1: [chain.nodes[0].pid], geth2: [chain.nodes[1].pid], cycleRun: children.filter((c) => c.pid && isRunning(c.pid)).map((c) => c.pid!) }));
  monitor.start();
  const cleanup = async () => {
    monitor.stop();
    for (const c of children) if (c.pid && isRunning(c.pid)) process.kill(-c.pid, "SIGTERM");
    if (!o.keep) await stopChain(chain.dir).catch(() => undefined);
  };
  // Ctrl-C or a timeout: stop the daemon and the chain before leaving
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      say(`${signal}: stopping cycle:run and the chain`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  try {
    const result = await run(o, chain, people, grid, bridges, runDir, children, monitor);
    await cleanup();
    const doc = { participants: n, engine: o.engine, genesisGasLimit: chain.gasLimit, maxBlockGas: result.maxBlockGas, ...result.doc, machine: host };
    if (o.json) {
      mkdirSync(path.dirname(path.resolve(o.json)), { recursive: true });
      writeFileSync(o.json, JSON.stringify(doc, null, 2) + "\n");
      say(`written to ${o.json}`);
    }
    console.log(table(doc.phases, n, chain.gasLimit, result.maxBlockGas));
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/**
 * Waits until every account's sent transactions are in blocks (its nonce at "latest" reaches the one
 * at "pending"), at most `seconds`: a run measured by SIGUSR2 right after the bridges sent their
 * batches measures them once mined, not as they were a moment after sending.
 */
async function untilMined(url: string, accounts: Wallet[], seconds: number): Promise<void> {
  const nonces = (tag: string) => Promise.all(accounts.map((a) => rpc<string>(url, "eth_getTransactionCount", [a.address, tag]).then(Number)));
  for (const until = Date.now() + seconds * 1000; Date.now() < until; await sleep(2000)) {
    const [mined, sent] = await Promise.all([nonces("latest"), nonces("pending")]);
    if (mined.every((m, i) => m >= sent[i])) return;
  }
  say(`some of the bridges' readings were still not mined after ${seconds} s; measuring anyway`);
}

async function run(o: Options, chain: Chain, people: Prosumer[], grid: Wallet, bridges: Wallet[], runDir: string, children: ChildProcess[], monitor: Monitor) {
  const n = people.length;
  const url = chain.rpcUrls[0];
  // SIGUSR2: measure without waiting for the last settlement (a run that must end by a deadline). Set
  // here, so that a signal sent during the setup or the bids does not end the run: they finish first.
  let measureNow = false;
  process.once("SIGUSR2", () => {
    say("SIGUSR2: measuring what the chain holds once the bids and readings are done");
    measureNow = true;
  });
  const env: NodeJS.ProcessEnv = { ...process.env, ...chain.settings, MARKET_DEPLOYMENT: path.join(runDir, "deployment.json") };

  // ---- the market, starting after the setup (bound meters then settle from interval 1 on)
  const sched = scheduleFor(o.intervalSeconds);
  const startIn = o.startIn ?? Math.ceil(120 + n * 0.08);
  const now = Number((await rpc<{ timestamp: string }>(url, "eth_getBlockByNumber", ["latest", false])).timestamp);
  const startTime = now + startIn;
  say(`deploying the market: intervals of ${o.intervalSeconds} s (commit ${sched.commitSeconds} s, reveal ${sched.revealSeconds} s), interval 1's commit window opens in ${startIn} s`);
  execFileSync(process.execPath, [HARDHAT, "deploy", "--network", "privnet", "--interval", String(o.intervalSeconds), "--start", String(startTime), "--json"], { cwd: REPO_ROOT, env, stdio: ["ignore", "ignore", "inherit"] });
  const deployment = JSON.parse(readFileSync(env.MARKET_DEPLOYMENT!, "utf8")) as Deployment;
  const market = deployment.market;
  const s: ScheduleTimes = deployment.schedule;
  const domain = marketDomain(chain.chainId, market);
  const operator = new Wallet(Wallet.fromEncryptedJsonSync(readFileSync(chain.operator.keystore, "utf8"), readFileSync(chain.operator.passwordFile, "utf8").trim()).privateKey);
  const bulk = new BulkSender(operator, url, chain.chainId);

  // ---- setup
  const setupStarted = Date.now();
  const setup: Record<string, { transactions: number; gas: number; seconds: number; gasPerParticipant: number }> = {};
  const note = (kind: string, r: { receipts: RawReceipt[]; gas: bigint; seconds: number }, per = n) =>
    (setup[kind] = { transactions: r.receipts.length, gas: Number(r.gas), seconds: Math.round(r.seconds), gasPerParticipant: Math.round(Number(r.gas) / per) });

  const gridSetup = await bulk.send("grid", [{ to: market, data: iface.encodeFunctionData("registerGrid", [grid.address, "grid"]) }]);
  const gridId = Number(logsOf(gridSetup.receipts, "ParticipantRegistered")[0].args.id);
  await bulk.send("grid deposit, pool", [
    { to: market, data: iface.encodeFunctionData("depositFor", [gridId]), value: parseEther("100") },
    { to: market, data: iface.encodeFunctionData("fundPool"), value: parseEther("100") },
  ]);

  let t = Date.now();
  const registrations = [];
  for (const p of people) {
    registrations.push(await signRegistration(p.key, domain, `p${p.index}`, p.green));
    if (registrations.length % 2000 === 0) say(`signing registrations: ${registrations.length}/${n}`);
  }
  const signRegistrationSeconds = (Date.now() - t) / 1000;
  const regCalls = [];
  for (let i = 0; i < n; i += 100) regCalls.push({ to: market, data: iface.encodeFunctionData("registerBatch", [registrations.slice(i, i + 100)]) });
  const reg = await bulk.send("registerBatch (100 a transaction)", regCalls, 40);
  note("registerBatch", reg);
  const idOf = new Map(logsOf(reg.receipts, "ParticipantRegistered").map((l) => [String(l.args.account), Number(l.args.id)]));
  for (const p of people) {
    p.id = idOf.get(p.key.address);
    if (!p.id) throw new Error(`prosumer ${p.index} (${p.key.address}) was not registered`);
  }
  // authorize, depositFor and proposeMeter are independent: one stream of consecutive nonces
  const streamed = await bulk.send(
    "authorize (no batch form: one transaction each), depositFor (1 ether each), proposeMeter",
    people.flatMap((p) => [
      { to: market, data: iface.encodeFunctionData("authorize", [p.id!, true]) },
      { to: market, data: iface.encodeFunctionData("depositFor", [p.id!]), value: parseEther("1") },
      { to: market, data: iface.encodeFunctionData("proposeMeter", [p.id!, newMeter(p.meterNumber, p.meter.address, RATED_POWER_W)]) },
    ]),
  );
  for (const [k, name] of ["authorize", "depositFor", "proposeMeter"].entries()) {
    const receipts = streamed.receipts.filter((_, i) => i % 3 === k);
    note(name, { receipts, gas: receipts.reduce((a, r) => a + BigInt(r.gasUsed), 0n), seconds: streamed.seconds });
  }
  const proposed = { receipts: streamed.receipts.filter((_, i) => i % 3 === 2) };
  const proposalOf = new Map(logsOf(proposed.receipts, "MeterProposed").map((l) => [Number(l.args.participantId), String(l.args.proposal)]));
  t = Date.now();
  const acceptCalls = [];
  for (const p of people) {
    const sig = await signAcceptance(p.key, domain, { participant: p.id!, proposal: proposalOf.get(p.id!)! });
    acceptCalls.push({ to: market, data: iface.encodeFunctionData("acceptMeterFor", [p.id!, proposalOf.get(p.id!)!, sig.r, sig.vs]) });
    if (acceptCalls.length % 2000 === 0) say(`signing meter acceptances: ${acceptCalls.length}/${n}`);
  }
  const signAcceptSeconds = (Date.now() - t) / 1000;
  note("acceptMeterFor", await bulk.send("acceptMeterFor (relayed consent)", acceptCalls));
  const setupSeconds = (Date.now() - setupStarted) / 1000;
  say(`setup done in ${setupSeconds.toFixed(0)} s`);

  // ---- the daemon and its relayer
  const relayPort = await freePort();
  const daemonLog: Record<string, unknown>[] = [];
  const daemonOut = path.join(runDir, "cycle-run.log");
  writeFileSync(daemonOut, "");
  const child = spawn(
    process.execPath,
    [HARDHAT, "cycle:run", "--network", "privnet", "--json", "--poll-ms", "1000", "--relay-port", String(relayPort), "--batch", String(o.settleBatch), "--steps", String(o.clearSteps)],
    { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  children.push(child);
  const lines = (stream: NodeJS.ReadableStream, onLine: (l: string) => void) => {
    let rest = "";
    stream.on("data", (d: Buffer) => {
      const parts = (rest + d.toString("utf8")).split("\n");
      rest = parts.pop()!;
      parts.forEach(onLine);
    });
  };
  for (const stream of [child.stdout!, child.stderr!])
    lines(stream, (l) => {
      appendFileSync(daemonOut, l + "\n");
      try {
        daemonLog.push(JSON.parse(l));
      } catch {
        /* Hardhat's own lines */
      }
    });
  for (const end = Date.now() + 120_000; !daemonLog.some((r) => r.action === "relay" && r.event === "listening"); await sleep(250)) {
    if (child.exitCode !== null || Date.now() > end) throw new Error(`cycle:run did not start its relayer (see ${daemonOut})`);
  }
  say(`cycle:run is up, relaying on port ${relayPort}; its log: ${daemonOut}`);

  const blockTime = async () => Number((await rpc<{ timestamp: string }>(url, "eth_getBlockByNumber", ["latest", false])).timestamp);
  const untilBlockTime = async (t: number) => {
    while ((await blockTime()) < t) await sleep(300);
  };

  // ---- intervals
  const head = await blockTime();
  const first = Math.max(1, Math.floor((head - s.startTime) / s.intervalSeconds) + 2);
  if (first !== 1) say(`the setup ran past interval 1's commit window: bidding from interval ${first} (earlier intervals are settled without readings)`);
  const intervals = Array.from({ length: o.intervals }, (_, i) => first + i);
  const submitted: Record<string, { firstAt: number; doneAt: number; accepted: number; refused: Record<string, number>; signSeconds?: number }> = {};

  const ratedWh = BigInt(Math.floor((RATED_POWER_W * s.intervalSeconds) / 3600));
  const bidOf = (p: Prosumer, d: number) => {
    // Prices move one way in submission order within each book (sells fall, buys rise), so each
    // reveal sorts at its book's head: hint 0 is then the exact hint, as a fresh `revealHint` gives.
    const k = BigInt(p.index);
    const step = 30_000_000_000n; // 0.00000003 ether/kWh
    const price = p.side === 0 ? 800_000_000_000_000n - k * step : 300_000_000_000_000n + k * step;
    const energyWh = (ratedWh * BigInt(20 + ((p.index * 7 + d) % 60))) / 100n;
    return { interval: d, side: p.side, energyWh, priceWeiPerKWh: price, salt: keccak256(toUtf8Bytes(`${p.key.address}/${d}`)) };
  };

  const bidding = async (d: number) => {
    const w = windowsOf(s, d);
    // sign ahead of the window (each prosumer's own device would)
    await untilBlockTime(w.commitStart - s.intervalSeconds + s.commitSeconds + s.revealSeconds);
    let t0 = Date.now();
    const commits = [];
    for (const p of people) {
      const bid = bidOf(p, d);
      const signed = await signCommit(p.key, domain, { participant: p.id!, interval: d, commitment: commitmentOf(BigInt(chain.chainId), market, p.key.address, bid) });
      commits.push({ body: { interval: d, participant: p.id!, commitment: signed.commitment, r: signed.r, vs: signed.vs }, from: clientAddress(p.index) });
      if (commits.length % 2000 === 0) say(`interval ${d}: signed ${commits.length}/${n} commits`);
    }
    const signSeconds = (Date.now() - t0) / 1000;
    say(`interval ${d}: ${n} commits signed in ${signSeconds.toFixed(1)} s; waiting for the commit window`);
    await untilBlockTime(w.commitStart);
    say(`interval ${d}: commit window open: submitting ${n} commits`);
    submitted[`${d}/commit`] = { ...(await submitAll(relayPort, "commit", commits, o.concurrency, w.revealStart)), signSeconds };
    say(`interval ${d}: commits submitted: ${JSON.stringify({ ...submitted[`${d}/commit`], firstAt: undefined, doneAt: undefined })}`);
    await untilBlockTime(w.revealStart);
    say(`interval ${d}: reveal window open: submitting ${n} reveals`);
    const reveals = people.map((p) => {
      const b = bidOf(p, d);
      return { body: { interval: d, participant: p.id!, side: b.side === 0 ? "sell" : "buy", energyWh: b.energyWh, priceWeiPerKWh: b.priceWeiPerKWh, salt: b.salt, hintPrevId: 0 }, from: clientAddress(p.index) };
    });
    submitted[`${d}/reveal`] = await submitAll(relayPort, "reveal", reveals, o.concurrency, w.revealEnd);
    say(`interval ${d}: reveals submitted: ${JSON.stringify({ ...submitted[`${d}/reveal`], firstAt: undefined, doneAt: undefined })}`);
    // after delivery: each meter signs its registers, bridges of 100 meters post one batch each
    await untilBlockTime(w.end);
    say(`interval ${d}: delivery over: signing ${n} readings`);
    t0 = Date.now();
    const readings: Awaited<ReturnType<typeof signReading>>[] = [];
    for (const p of people) {
      const e = bidOf(p, d).energyWh;
      if (p.side === 0) p.exportWh += e;
      else p.importWh += e;
      readings.push(await signReading(p.meter, domain, { meterNumber: p.meterNumber, interval: d, importWh: p.importWh, exportWh: p.exportWh }));
    }
    const readSign = (Date.now() - t0) / 1000;
    const firstAt = Date.now() / 1000;
    const outcomes = await Promise.all(
      bridges.map(async (b, i) => {
        const batch = readings.slice(i * METERS_PER_BRIDGE, (i + 1) * METERS_PER_BRIDGE);
        const data = iface.encodeFunctionData("postReadings", [batch]);
        try {
          const gas = BigInt(await rpc<string>(url, "eth_estimateGas", [{ from: b.address, to: market, data }]));
          const nonce = Number(await rpc<string>(url, "eth_getTransactionCount", [b.address, "pending"]));
          const tx = Transaction.from({ type: 0, chainId: chain.chainId, nonce, to: market, data, gasLimit: (gas * 6n) / 5n + 10_000n, gasPrice: GWEI });
          tx.signature = b.signingKey.sign(tx.unsignedHash);
          await rpc(url, "eth_sendRawTransaction", [tx.serialized]);
          return "sent";
        } catch (e) {
          return String((e as Error).message).split("\n")[0].slice(0, 160);
        }
      }),
    );
    const refused: Record<string, number> = {};
    for (const x of outcomes) if (x !== "sent") refused[x] = (refused[x] ?? 0) + 1;
    submitted[`${d}/readings`] = { firstAt, doneAt: Date.now() / 1000, accepted: outcomes.filter((x) => x === "sent").length * METERS_PER_BRIDGE, refused, signSeconds: readSign };
    say(`interval ${d}: ${n} readings signed in ${readSign.toFixed(1)} s, ${bridges.length} bridge batches sent`);
  };

  const runs = intervals.map((d) => bidding(d));
  await Promise.all(runs);

  // ---- wait for the daemon to settle the last interval
  const last = intervals[intervals.length - 1];
  const settledTopic = iface.getEvent("ParticipantSettled")!.topicHash;
  const settleDeadline = windowsOf(s, last).settleStart + s.intervalSeconds + 60;
  say(`waiting for the settlement of interval ${last} (opens ${new Date(windowsOf(s, last).settleStart * 1000).toISOString().slice(11, 19)})`);
  let from = deployment.deployedAt.block;
  let settledLast = 0;
  while (settledLast < n && !measureNow) {
    const tip = Number(await rpc<string>(url, "eth_blockNumber", []));
    if (tip >= from) {
      const logs = await rpc<{ topics: string[] }[]>(url, "eth_getLogs", [{ address: market, topics: [settledTopic, "0x" + last.toString(16).padStart(64, "0")], fromBlock: "0x" + from.toString(16), toBlock: "0x" + tip.toString(16) }]);
      settledLast += logs.length;
      from = tip + 1;
    }
    if ((await blockTime()) > settleDeadline) {
      say(`interval ${last}: only ${settledLast}/${n} settled by the end of its settlement window; stopping`);
      break;
    }
    await sleep(2000);
  }
  if (measureNow) await untilMined(url, bridges, 120);
  await sleep(o.period * 2000);

  // ---- measure from the chain
  say("reading every block of the run");
  const measured = await measure(url, deployment, intervals, n, gridId);
  const phases: PhaseResult[] = [];
  for (const d of intervals) {
    const w = windowsOf(s, d);
    const windows: Record<PhaseName, [number, number]> = {
      commit: [w.commitStart, w.revealStart],
      reveal: [w.revealStart, w.revealEnd],
      clear: [w.revealEnd, w.start],
      readings: [w.end, w.settleStart],
      settle: [w.settleStart, w.settleStart + s.intervalSeconds],
    };
    for (const name of PHASES) {
      const m = measured.get(`${d}/${name}`) ?? { gas: 0, blocks: new Set<number>(), lastTime: 0, firstTime: 0, transactions: 0, entries: 0, skipped: 0, maxBlockGasUsed: 0 };
      const sub = submitted[`${d}/${name}`];
      const firstSubmission = sub ? sub.firstAt : firstDaemonSend(daemonLog, name, d) ?? windows[name][0];
      const [open, close] = windows[name];
      const expected = name === "clear" ? 1 : n;
      const wall = m.lastTime ? m.lastTime - firstSubmission : null;
      phases.push({
        interval: d,
        name,
        gas: m.gas,
        blocks: m.blocks.size,
        wallSeconds: wall === null ? null : Math.round(wall * 10) / 10,
        windowSeconds: close - open,
        inWindow: m.entries >= expected && m.firstTime >= open && m.lastTime < close,
        transactions: m.transactions,
        entries: m.entries,
        expected,
        skipped: m.skipped,
        ...(sub && Object.keys(sub.refused).length ? { refused: sub.refused } : {}),
        ...(sub?.signSeconds !== undefined ? { signSeconds: Math.round(sub.signSeconds * 10) / 10 } : {}),
        maxBlockGasUsed: m.maxBlockGasUsed,
        cpu: monitor.between(firstSubmission, m.lastTime || firstSubmission + (close - open)),
      });
    }
  }
  return {
    maxBlockGas: measured.maxBlockGas,
    doc: {
      phases,
      schedule: s,
      period: o.period,
      cycleRun: { settleBatch: o.settleBatch, clearSteps: o.clearSteps },
      relay: { concurrency: o.concurrency, clients: "one loopback address per prosumer" },
      readings: `bridges of ${METERS_PER_BRIDGE} meters: one postReadings transaction per bridge, sent by the bridge's own account (the transaction meter-bridge's BatchPoster sends for a port, built by the benchmark)`,
      setup: { seconds: Math.round(setupSeconds), signRegistrationSeconds: Math.round(signRegistrationSeconds), signAcceptSeconds: Math.round(signAcceptSeconds), byKind: setup },
      blocks: measured.blockSummary,
      loadSamples: monitor.samples.length,
    },
  };
}

/** When cycle:run first sent a transaction of phase `name` for interval `d` (its log's time). */
function firstDaemonSend(log: Record<string, unknown>[], name: PhaseName, d: number): number | undefined {
  if (name !== "clear" && name !== "settle") return undefined;
  const hit = log.find((x) => x.action === name && x.event === "sent" && x.interval === d);
  return hit ? Date.parse(String(hit.time)) / 1000 : undefined;
}

interface Measure {
  gas: number;
  blocks: Set<number>;
  firstTime: number;
  lastTime: number;
  transactions: number;
  entries: number;
  skipped: number;
  maxBlockGasUsed: number;
}

/** Every block from the deployment on: market transactions by phase and interval. */
async function measure(url: string, deployment: Deployment, intervals: number[], n: number, gridId: number) {
  const tip = Number(await rpc<string>(url, "eth_blockNumber", []));
  const numbers = Array.from({ length: tip - deployment.deployedAt.block + 1 }, (_, i) => deployment.deployedAt.block + i);
  const blocks = await rpcBatch<{ number: string; timestamp: string; gasUsed: string; transactions: { hash: string; to: string | null; input: string }[] }>(
    url,
    numbers.map((b) => ({ method: "eth_getBlockByNumber", params: ["0x" + b.toString(16), true] })),
    10,
  );
  const market = deployment.market.toLowerCase();
  const out = new Map<string, Measure>();
  const topics = {
    BidCommitted: iface.getEvent("BidCommitted")!.topicHash,
    BidRevealed: iface.getEvent("BidRevealed")!.topicHash,
    ReadingPosted: iface.getEvent("ReadingPosted")!.topicHash,
    ParticipantSettled: iface.getEvent("ParticipantSettled")!.topicHash,
    IntervalCleared: iface.getEvent("IntervalCleared")!.topicHash,
    EntrySkipped: iface.getEvent("EntrySkipped")!.topicHash,
  };
  let maxBlockGas = 0;
  const perBlock: { block: number; time: number; gasUsed: number; txs: number }[] = [];
  for (const b of blocks) {
    const number = Number(b.number);
    const time = Number(b.timestamp);
    const gasUsed = Number(b.gasUsed);
    maxBlockGas = Math.max(maxBlockGas, gasUsed);
    if (b.transactions.length) perBlock.push({ block: number, time, gasUsed, txs: b.transactions.length });
    const mine = b.transactions.flatMap((t) => {
      if (t.to?.toLowerCase() !== market) return [];
      let parsed;
      try {
        parsed = iface.parseTransaction({ data: t.input });
      } catch {
        return [];
      }
      const kind = parsed && ({ commitBatch: "commit", revealBatch: "reveal", postReadings: "readings", clear: "clear", settle: "settle" } as Record<string, PhaseName>)[parsed.name];
      if (!parsed || !kind) return [];
      const d = kind === "readings" ? Number(parsed.args[0][0]?.interval ?? 0) : Number(parsed.args[0]);
      return intervals.includes(d) ? [{ hash: t.hash, kind, d }] : [];
    });
    if (!mine.length) continue;
    const receipts = await rpcBatch<RawReceipt>(url, mine.map((t) => ({ method: "eth_getTransactionReceipt", params: [t.hash] })));
    mine.forEach(({ kind, d }, i) => {
      const r = receipts[i];
      const m = out.get(`${d}/${kind}`) ?? { gas: 0, blocks: new Set<number>(), firstTime: Infinity, lastTime: 0, transactions: 0, entries: 0, skipped: 0, maxBlockGasUsed: 0 };
      m.gas += Number(r.gasUsed);
      m.blocks.add(number);
      m.firstTime = Math.min(m.firstTime, time);
      m.lastTime = Math.max(m.lastTime, time);
      m.transactions++;
      m.maxBlockGasUsed = Math.max(m.maxBlockGasUsed, gasUsed);
      for (const l of r.logs) {
        const t0 = l.topics[0];
        if (t0 === topics.EntrySkipped) m.skipped++;
        else if (kind === "commit" && t0 === topics.BidCommitted) m.entries++;
        else if (kind === "reveal" && t0 === topics.BidRevealed) m.entries++;
        else if (kind === "readings" && t0 === topics.ReadingPosted) m.entries++;
        else if (kind === "clear" && t0 === topics.IntervalCleared) m.entries++;
        else if (kind === "settle" && t0 === topics.ParticipantSettled && Number(BigInt(l.topics[2] ?? "0x0")) !== gridId) m.entries++;
      }
      out.set(`${d}/${kind}`, m);
    });
  }
  const busy = perBlock.filter((b) => b.gasUsed > 0);
  const blockSummary = {
    withTransactions: busy.length,
    fullest: [...busy].sort((a, b) => b.gasUsed - a.gasUsed).slice(0, 5),
  };
  return Object.assign(out, { maxBlockGas, blockSummary });
}

function table(phases: PhaseResult[], n: number, gasLimit: number, maxBlockGas: number): string {
  const head = ["interval", "phase", "gas", "blocks", "txs", "entries", "wall s", "window s", "in window", "CPU % (geth1/geth2/cycle:run/bench), load"];
  const rows = phases.map((p) => [
    String(p.interval),
    p.name,
    p.gas.toLocaleString("en-US"),
    String(p.blocks),
    String(p.transactions),
    `${p.entries}/${p.expected}`,
    p.wallSeconds === null ? "-" : p.wallSeconds.toFixed(1),
    String(p.windowSeconds),
    p.inWindow ? "yes" : "NO",
    p.cpu && "geth1CpuPercent" in p.cpu ? `${p.cpu.geth1CpuPercent}/${p.cpu.geth2CpuPercent}/${p.cpu.cycleRunCpuPercent}/${p.cpu.benchCpuPercent}, ${p.cpu.load1}` : "-",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [`${n} participants, genesis gas limit ${gasLimit.toLocaleString("en-US")}, fullest block ${maxBlockGas.toLocaleString("en-US")} gas`, line(head), ...rows.map(line)].join("\n");
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (e) => {
      const message = e instanceof UsageError || e instanceof ChainError ? e.message : String((e as Error)?.message ?? e).split("\n")[0];
      process.stderr.write(`bench:scale: ${message}\n`);
      process.exit(1);
    },
  );
}

