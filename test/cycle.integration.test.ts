/**
 * The cycle daemon (`npx hardhat cycle:run --network localhost`) against a real anvil with 1-second
 * blocks, over short real-time intervals: bids and meter readings come from this test, clearing and
 * settlement only from the daemon. The daemon is SIGKILLed right after it logged a sent transaction
 * and again mid-interval, and the node itself is stopped and restarted from its state file while the
 * daemon runs. At the end the chain's events must show every interval cleared exactly once and every
 * metered participant (and the grid where it bid) settled exactly once per interval.
 */
import { expect } from "chai";
import { ChildProcess, spawn } from "node:child_process";
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { HDNodeWallet, JsonRpcProvider, Network, NonceManager, Wallet, getCreateAddress, parseEther } from "ethers";
import { DEV_MNEMONIC } from "../hardhat.config";
import { writeDeployment } from "../lib/deployment";
import { marketDomain, signRegistration } from "../lib/signed";
import { SealedBid, Side, SideValue, commitmentOf, deployMarket, newMeter, newSalt, revealSealed } from "../lib/market";
import type { EnergyMarket } from "../typechain-types";
import { Anvil, delay, freePort } from "./shared/anvil";

const CHAIN_ID = 31337;
const ROOT = path.resolve(__dirname, "..");
const HARDHAT_CLI = path.join(ROOT, "node_modules/hardhat/internal/cli/cli.js");
/** Short real-time intervals: commit 6 s, reveal 5 s, settlement 8 s into the next interval, grace 6 s. */
const SCHEDULE = { intervalSeconds: 24, commitSeconds: 6, revealSeconds: 5, settleOffsetSeconds: 8, readingGraceSeconds: 6 };

const devWallet = (i: number, p: JsonRpcProvider) => new Wallet(HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).privateKey, p);

type LogLine = Record<string, unknown> & { action: string; event: string; interval?: number; run: number };

/** One run of the daemon as a child process; its JSON log lines are collected. */
class DaemonRun {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  constructor(
    readonly run: number,
    env: NodeJS.ProcessEnv,
    lines: LogLine[],
    logFile: string,
    extra: string[] = [],
  ) {
    this.child = spawn(process.execPath, [HARDHAT_CLI, "cycle:run", "--network", "localhost", "--json", "--poll-ms", "500", "--receipt-timeout-ms", "6000", ...extra], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let rest = "";
    this.child.stdout!.on("data", (chunk: Buffer) => {
      const text = rest + chunk.toString();
      const parts = text.split("\n");
      rest = parts.pop()!;
      for (const line of parts) {
        appendFileSync(logFile, `[run ${run}] ${line}\n`);
        if (line.startsWith("{")) lines.push({ ...JSON.parse(line), run });
      }
    });
    this.child.stderr!.on("data", (chunk: Buffer) => appendFileSync(logFile, `[run ${run} stderr] ${chunk}`));
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
  }

  kill(signal: NodeJS.Signals): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

interface Prosumer {
  name: string;
  green: boolean;
  wallet: Wallet;
  meter: Wallet;
  meterNumber: bigint;
  id: number;
  /** the meter's first interval to settle (the interval it was bound in) */
  from: number;
  /** cumulative registers posted so far */
  importWh: bigint;
  exportWh: bigint;
}

interface Bid {
  who: Prosumer | "grid";
  side: SideValue;
  energyWh: bigint;
  priceWeiPerKWh: bigint;
  /** commit only: the bid is forfeited at settlement */
  neverReveal?: boolean;
}

describe("cycle:run against anvil (real time, kills and a node restart)", function () {
  this.timeout(240_000);
  let dir: string;
  let port: number;
  let stateFile: string;
  let anvil: Anvil | undefined;
  let provider: JsonRpcProvider;
  let market: EnergyMarket;
  let startTime: number;
  let grid: { wallet: Wallet; id: number };
  /** the first delivery interval with bids (2 unless the setup was slow), and the one after it */
  let firstBid: number;
  const prosumers: Prosumer[] = [];
  const lines: LogLine[] = [];
  const runs: DaemonRun[] = [];
  let logFile: string;

  const url = () => `http://127.0.0.1:${port}`;
  const start = (d: number) => startTime + d * SCHEDULE.intervalSeconds;
  const commitStart = (d: number) => start(d - 1);
  const revealStart = (d: number) => commitStart(d) + SCHEDULE.commitSeconds;

  /** anvil keeps its chain in `stateFile` across a restart (test/shared/anvil.ts writes it at stop). */
  async function startAnvil(): Promise<void> {
    anvil ??= new Anvil(port, ["--hardfork", "london", "--block-time", "1", "--state", stateFile]);
    await anvil.start();
  }

  const stopAnvil = () => anvil!.stop();

  /** Run a task against the node; resolves with its exit code and output. */
  function hardhatTask(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const env = { ...process.env, MARKET_DEPLOYMENT: path.join(dir, "deployment.json"), LOCALHOST_RPC_URL: url() };
    const child = spawn(process.execPath, [HARDHAT_CLI, ...args, "--network", "localhost"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c));
    child.stderr.on("data", (c: Buffer) => (stderr += c));
    return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr })));
  }

  function startDaemon(extra: string[] = []): DaemonRun {
    const env = { ...process.env, MARKET_DEPLOYMENT: path.join(dir, "deployment.json"), LOCALHOST_RPC_URL: url() };
    const run = new DaemonRun(runs.length + 1, env, lines, logFile, extra);
    runs.push(run);
    return run;
  }

  /** Wait for block time `t` (through a node restart). */
  async function untilBlockTime(t: number): Promise<void> {
    for (;;) {
      const block = await provider.getBlock("latest").catch(() => null);
      if (block && block.timestamp >= t) return;
      await delay(200);
    }
  }

  async function untilLogged(what: string, match: (l: LogLine) => boolean, timeoutMs = 60_000): Promise<LogLine> {
    for (const end = Date.now() + timeoutMs; Date.now() < end; await delay(50)) {
      const found = lines.find(match);
      if (found) return found;
    }
    throw new Error(`the daemon never logged ${what} (log: ${logFile})`);
  }

  async function placeBids(d: number, bids: Bid[]): Promise<void> {
    await untilBlockTime(commitStart(d));
    const { chainId } = await provider.getNetwork();
    const sealed = bids.map((b) => ({ b, bid: { interval: d, side: b.side, energyWh: b.energyWh, priceWeiPerKWh: b.priceWeiPerKWh, salt: newSalt() } as SealedBid }));
    await Promise.all(
      sealed.map(async ({ b, bid }) => {
        const wallet = walletOf(b);
        await (await market.connect(wallet).commitBid(d, commitmentOf(chainId, await market.getAddress(), wallet.address, bid))).wait();
      }),
    );
    await untilBlockTime(revealStart(d));
    await Promise.all(
      sealed
        .filter(({ b }) => !b.neverReveal)
        .map(async ({ b, bid }) => {
          const green = b.who !== "grid" && b.who.green;
          await (await revealSealed(market.connect(walletOf(b)), idOf(b), green, bid)).wait();
        }),
    );
  }

  const walletOf = (b: Bid) => (b.who === "grid" ? grid.wallet : b.who.wallet);
  const idOf = (b: Bid) => (b.who === "grid" ? grid.id : b.who.id);

  /** Post each meter's cumulative registers at the end of `d` (from the start of `d+1`), except `skip`. */
  async function postReadings(d: number, flows: Record<string, { importWh?: bigint; exportWh?: bigint }>, skip: string[] = []): Promise<void> {
    await untilBlockTime(start(d + 1));
    await Promise.all(
      prosumers
        .filter((p) => !skip.includes(p.name) && d >= p.from)
        .map(async (p) => {
          p.importWh += flows[p.name]?.importWh ?? 0n;
          p.exportWh += flows[p.name]?.exportWh ?? 0n;
          await (await market.connect(p.meter).postReading(p.meterNumber, d, p.importWh, p.exportWh)).wait();
        }),
    );
  }

  async function marketEvents(name: "IntervalCleared" | "ParticipantSettled" | "BidForfeited" | "TradeMatched") {
    const event = market.interface.getEvent(name)!;
    const logs = await provider.getLogs({ address: await market.getAddress(), topics: [event.topicHash], fromBlock: 0 });
    return logs.map((l) => market.interface.parseLog(l)!.args);
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "cycle-it-"));
    logFile = path.join(dir, "daemon.log");
    stateFile = path.join(dir, "anvil-state.json");
    port = await freePort();
    provider = new JsonRpcProvider(url(), Network.from(CHAIN_ID), { staticNetwork: true, cacheTimeout: -1, pollingInterval: 250 });
    await startAnvil();

    const operator = new NonceManager(devWallet(0, provider));
    startTime = (await provider.getBlock("latest"))!.timestamp;
    market = await deployMarket(operator, { startTime, ...SCHEDULE });
    const deployed = await market.deploymentTransaction()!.wait();
    const operatorAddress = await operator.getAddress();
    writeDeployment(
      {
        network: "localhost",
        chainId: CHAIN_ID,
        market: await market.getAddress(),
        libraries: { Clearing: getCreateAddress({ from: operatorAddress, nonce: 0 }), Settlement: getCreateAddress({ from: operatorAddress, nonce: 1 }) },
        operator: operatorAddress,
        deployedAt: { block: deployed!.blockNumber, time: (await provider.getBlock(deployed!.blockNumber))!.timestamp },
        schedule: { startTime, ...SCHEDULE },
      },
      path.join(dir, "deployment.json"),
    );

    const asOperator = market.connect(operator);
    grid = { wallet: devWallet(1, provider), id: 0 };
    await (await asOperator.registerGrid(grid.wallet.address, "grid")).wait();
    grid.id = Number(await market.gridId());
    const spec: [string, boolean][] = [
      ["wind", true],
      ["controllable", false],
      ["ev", true],
      ["conventional", false],
    ];
    for (const [i, [name, green]] of spec.entries()) {
      prosumers.push({ name, green, wallet: devWallet(2 + i, provider), meter: devWallet(6 + i, provider), meterNumber: 100000000001n + BigInt(i), id: 0, from: 0, importWh: 0n, exportWh: 0n });
    }
    await Promise.all(prosumers.map(async (p) => (await market.connect(p.wallet).register(p.name, p.green)).wait()));
    for (const p of prosumers) p.id = Number(await market.idOf(p.wallet.address));
    // The operator proposes each meter; the prosumer, its deposit (which must cover the security) in, accepts it.
    const setup = [];
    for (const p of prosumers) {
      setup.push(await asOperator.authorize(p.id, true));
      setup.push(await asOperator.proposeMeter(p.id, newMeter(p.meterNumber, p.meter.address, 100_000)));
    }
    setup.push(await asOperator.fundPool({ value: parseEther("1") }));
    setup.push(...(await Promise.all([grid, ...prosumers].map((x) => market.connect(x.wallet).deposit({ value: parseEther("1") })))));
    await Promise.all(setup.map((tx) => tx.wait()));
    await Promise.all(
      prosumers.map(async (p) => {
        const [proposal] = await market.meterProposalOf(p.id);
        await (await market.connect(p.wallet).acceptMeter(proposal)).wait();
        p.from = Number((await market.settlementOf(p.id)).nextInterval);
      }),
    );
    // Bids start with the first commit window fully ahead; intervals before it are cleared empty.
    firstBid = Number(await market.currentInterval()) + 2;
  });

  after(async () => {
    await Promise.all(runs.map((r) => r.kill("SIGKILL")));
    await stopAnvil();
    provider?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("clears and settles every interval exactly once through daemon kills and a node restart", async () => {
    const [wind, controllable, ev, conventional] = prosumers;
    const D = firstBid;
    const last = D + 1;
    const first = startDaemon();
    // Interval D: a full book, the grid sells too (while the meters post their registers, unchanged since
    // binding, for every interval up to D-2: each meter is settled from the interval it was bound in).
    const quiet = async () => {
      for (let d = Math.min(...prosumers.map((p) => p.from)); d <= D - 2; d++) await postReadings(d, {});
    };
    await Promise.all([
      quiet(),
      placeBids(D, [
        { who: wind, side: Side.Sell, energyWh: 300n, priceWeiPerKWh: 6n * 10n ** 14n },
        { who: controllable, side: Side.Sell, energyWh: 200n, priceWeiPerKWh: 65n * 10n ** 13n },
        { who: ev, side: Side.Buy, energyWh: 250n, priceWeiPerKWh: 8n * 10n ** 14n },
        { who: conventional, side: Side.Buy, energyWh: 300n, priceWeiPerKWh: 75n * 10n ** 13n },
        { who: "grid", side: Side.Sell, energyWh: 100n, priceWeiPerKWh: 7n * 10n ** 14n },
      ]),
    ]);

    // Kill 1: right after the daemon logged a sent clearing transaction, before it saw the receipt.
    const sentClear = await untilLogged(`a sent clear of interval ${D}`, (l) => l.action === "clear" && l.event === "sent" && l.interval === D);
    await first.kill("SIGKILL");
    const second = startDaemon();

    // Kill 2: mid-interval, as soon as a settlement was sent; the daemon stays down while it is mined.
    const secondKilled = untilLogged(`a sent settlement of interval ${D - 1}`, (l) => l.run === second.run && l.action === "settle" && l.event === "sent" && l.interval === D - 1).then(() =>
      second.kill("SIGKILL"),
    );
    // Interval D+1: controllable and the grid commit but never reveal (forfeits); readings of D-1 meanwhile.
    await Promise.all([
      postReadings(D - 1, { wind: { exportWh: 250n }, controllable: { exportWh: 100n }, ev: { importWh: 120n }, conventional: { importWh: 200n } }),
      placeBids(D + 1, [
        { who: wind, side: Side.Sell, energyWh: 200n, priceWeiPerKWh: 6n * 10n ** 14n },
        { who: ev, side: Side.Buy, energyWh: 150n, priceWeiPerKWh: 8n * 10n ** 14n },
        { who: controllable, side: Side.Sell, energyWh: 100n, priceWeiPerKWh: 6n * 10n ** 14n, neverReveal: true },
        { who: "grid", side: Side.Buy, energyWh: 100n, priceWeiPerKWh: 5n * 10n ** 14n, neverReveal: true },
      ]),
    ]);
    await secondKilled;
    await delay(2000);
    const third = startDaemon();

    // The node goes away for a few seconds right after the daemon sent a transaction (clearing D+1 or
    // settling D, before or after it is mined), and comes back from its state file without its mempool.
    const nodeRestarted = untilLogged("a sent transaction of the third run", (l) => l.run === third.run && l.event === "sent").then(async () => {
      await stopAnvil();
      await delay(3000);
      await startAnvil();
    });

    // Interval D's readings, conventional's missing: it is settled after the grace period.
    await postReadings(D, { wind: { exportWh: 280n }, controllable: { exportWh: 210n }, ev: { importWh: 240n } }, ["conventional"]);
    await nodeRestarted;
    await postReadings(D + 1, { wind: { exportWh: 190n }, controllable: { exportWh: 20n }, ev: { importWh: 160n }, conventional: { importWh: 500n } });
    await untilLogged(`the settlement of interval ${last}`, (l) => l.action === "settle" && l.event === "mined" && l.interval === last, 90_000);
    for (const end = Date.now() + 30_000; (await marketEvents("ParticipantSettled")).filter((a) => Number(a.interval) === last).length < prosumers.length + 1; ) {
      if (Date.now() > end) throw new Error(`interval ${last} was not fully settled (log: ${logFile})`);
      await delay(500);
    }

    // A clean stop on SIGTERM.
    expect(await third.kill("SIGTERM")).to.equal(0);
    expect(lines.filter((l) => l.run === third.run).at(-1)).to.include({ action: "daemon", event: "stopped" });

    // Every interval up to the last finished one was cleared exactly once.
    const cleared = (await marketEvents("IntervalCleared")).map((a) => Number(a.interval));
    for (let d = 1; d <= last; d++) expect(cleared.filter((x) => x === d), `IntervalCleared(${d})`).to.have.length(1);

    // Every metered participant settled exactly once per interval; the grid once where it bid.
    const settled = await marketEvents("ParticipantSettled");
    const settledCount = (d: number, id: number) => settled.filter((a) => Number(a.interval) === d && Number(a.id) === id).length;
    for (const p of prosumers) {
      for (let d = 1; d <= last; d++) expect(settledCount(d, p.id), `ParticipantSettled(${d}, ${p.name})`).to.equal(d >= p.from ? 1 : 0);
    }
    for (let d = 1; d <= last; d++) expect(settledCount(d, grid.id), `ParticipantSettled(${d}, grid)`).to.equal(d >= D ? 1 : 0);
    const missing = settled.filter((a) => a.readingMissing).map((a) => [Number(a.interval), Number(a.id)]);
    expect(missing).to.deep.equal([[D, conventional.id]], `only conventional's reading of interval ${D} was missing`);
    const forfeited = (await marketEvents("BidForfeited")).map((a) => [Number(a.interval), Number(a.id)]);
    expect(forfeited).to.have.deep.members([
      [D + 1, controllable.id],
      [D + 1, grid.id],
    ]);
    expect((await marketEvents("TradeMatched")).filter((a) => Number(a.interval) === D)).to.not.be.empty;

    // The clearing transaction in flight at the first kill was mined, and not repeated after it.
    expect(await provider.getTransactionReceipt(sentClear.tx as string)).to.include({ status: 1 });
    expect(lines.filter((l) => l.action === "clear" && l.event === "sent" && l.interval === D)).to.have.length(1);

    // The log shows each step with its transaction and gas, and the node outage.
    const mined = lines.filter((l) => l.event === "mined");
    expect(mined.map((l) => l.action)).to.include.members(["clear", "settle"]);
    for (const l of mined) {
      expect(l.tx).to.match(/^0x[0-9a-f]{64}$/);
      expect(Number(l.gasUsed)).to.be.greaterThan(21_000);
    }
    const thirdEvents = lines.filter((l) => l.run === third.run).map((l) => l.event);
    expect(thirdEvents).to.include.members(["node-unreachable", "node-back"]);
    expect(lines.filter((l) => l.event === "reverted" && l.tx !== undefined), "no transaction reverted on chain").to.deep.equal([]);
  });

  it("has the clear and settle tasks agree with the chain the daemon left, and reject bad arguments", async () => {
    const last = firstBid + 1;
    const settle = await hardhatTask(["settle", "--interval", String(last), "--json"]);
    expect(settle.code).to.equal(0, settle.stderr);
    const result = JSON.parse(settle.stdout);
    expect(result).to.include({ interval: last });
    expect(result.settled).to.deep.equal([]);
    expect(result.alreadySettled).to.have.members(prosumers.map((p) => p.id));

    const clear = await hardhatTask(["clear", "--interval", String(last)]);
    expect(clear.code).to.equal(0, clear.stderr);
    expect(clear.stdout.trim()).to.equal(`interval ${last} was already cleared`);

    const bad = await hardhatTask(["settle", "--interval", "1", "--ids", "1,x"]);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.include('--ids: expected positive integers separated by commas, got "1,x"').and.not.include("    at ");
  });

  it("relays a signed registration through cycle:run --relay-port, paid by the operator", async () => {
    const relayPort = await freePort();
    const run = startDaemon(["--relay-port", String(relayPort)]);
    try {
      for (const end = Date.now() + 60_000; !lines.some((l) => l.run === run.run && l.event === "listening"); await delay(200)) {
        if (Date.now() > end) throw new Error("the relayer did not start");
      }
      const newcomer = Wallet.createRandom(provider);
      const domain = marketDomain(BigInt(CHAIN_ID), await market.getAddress());
      const body = JSON.stringify(await signRegistration(newcomer, domain, "relayed", true));
      const posted = await fetch(`http://127.0.0.1:${relayPort}/relay/registration`, { method: "POST", headers: { "content-type": "application/json" }, body });
      expect(posted.status).to.equal(202);
      const { id } = (await posted.json()) as { id: string };
      let receipt: { status: string; hash?: string; block?: number } = { status: "queued" };
      for (const end = Date.now() + 30_000; receipt.status !== "included" && Date.now() < end; await delay(250)) {
        receipt = (await (await fetch(`http://127.0.0.1:${relayPort}/relay/receipt/${id}`)).json()) as typeof receipt;
        expect(receipt.status).to.not.be.oneOf(["skipped", "failed"]);
      }
      expect(receipt.status).to.equal("included");
      expect(receipt.hash).to.match(/^0x[0-9a-f]{64}$/);
      expect(await market.idOf(newcomer.address)).to.be.greaterThan(0n);
      expect(await provider.getTransactionCount(newcomer.address), "the newcomer sent nothing").to.equal(0);
      expect(lines.some((l) => l.run === run.run && l.action === "relay" && l.event === "relayed")).to.equal(true);
    } finally {
      await run.kill("SIGTERM");
    }
  });
});
