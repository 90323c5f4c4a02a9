/**
 * `npm run demo:live`: the whole system on one machine, live.
 *
 * - anvil (london, a block per second) on a free port;
 * - `npx hardhat deploy --interval 60` (60-second intervals) into out/demo-live/deployment.json;
 * - the paper's five participants of scenarios/paper-day.json registered, authorized, metered and
 *   funded, then bidding as bots: each interval they commit the scenario's sealed bids of the
 *   interval's time of day and reveal them in the reveal window; their keystores are printed, so a
 *   visitor can sign in as one and read its history;
 * - their meters simulated on a pseudo-terminal (socat, or the bridge's python relay), each
 *   registering the scenario's metered energy of the same time of day (the bids' forecast with its
 *   errors: profile-meters.ts), read by the meter bridge, which posts the registers at every
 *   interval end;
 * - `npx hardhat cycle:run`, which clears and settles every interval as it falls due;
 * - the portal, whose URL is printed, with its relayer (paid by an account of its own) carrying what
 *   prosumers sign. Ctrl-C stops everything this script started.
 *
 * `--geth clique` or `--geth ethash` runs the same on a private two-node Geth network from
 * scripts/geth/chain.ts (Clique: a block a second, or every `--period S` seconds) instead of anvil:
 * participants and meters are funded by the operator's transfers, the daemon and the portal get
 * both nodes' URLs.
 */
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { HDNodeWallet, JsonRpcProvider, Network, NonceManager, Wallet, encryptKeystoreJson, parseEther } from "ethers";
import { Side, SealedBid, attachMarket, bindMeter, commitmentOf, newMeter, newSalt, revealSealed } from "../../lib/market";
import { meterRatingW } from "../../lib/simulator";
import { defaultRatedPowerW, loadScenario } from "../../lib/scenario";
import { openSerialPort } from "../../meter-bridge/src/index";
import { profileMeter } from "./profile-meters";
import { weiToEther, whToKWh } from "../../lib/units";
import type { Deployment } from "../../lib/deployment";
import type { EnergyMarket } from "../../typechain-types";
import { Anvil, freePort } from "../test/support/anvil";
import { REPO_ROOT, WEB_ROOT } from "../test/support/paths";
import { startPortal } from "../server/portal";
import { Chain, Engine, startChain, stopChain } from "../../scripts/geth/chain";

const OUT = path.join(REPO_ROOT, "out/demo-live");
const MNEMONIC = "test test test test test test test test test test test junk";
const INTERVAL = 60;
const GETH = ((i) => (i >= 0 ? (process.argv[i + 1] as Engine) : undefined))(process.argv.indexOf("--geth"));
const PERIOD = ((i) => (i >= 0 ? Number(process.argv[i + 1]) : 1))(process.argv.indexOf("--period"));
const key = (i: number) => HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).privateKey;
const log = (msg: string) => console.log(`${new Date().toLocaleTimeString("en-GB")}  ${msg}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const children: { name: string; child: ChildProcess }[] = [];
let anvil: Anvil | undefined;
let meterPort: Awaited<ReturnType<typeof openSerialPort>> | undefined;
let geth: Chain | undefined;
let portal: Awaited<ReturnType<typeof startPortal>> | undefined;
let stopping = false;

/** A child in its own process group, so stopping it also stops what it started (npx, hardhat). */
function start(name: string, cmd: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const out = createWriteStream(path.join(OUT, `${name}.log`));
  const child = spawn(cmd, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  child.stdout!.pipe(out);
  child.stderr!.pipe(out);
  child.once("exit", (code, signal) => {
    if (!stopping) log(`${name} exited (${signal ?? code}); see ${path.relative(REPO_ROOT, out.path as string)}`);
  });
  children.push({ name, child });
  return child;
}

async function stopAll() {
  if (stopping) return;
  stopping = true;
  log("stopping everything this demo started…");
  // the simulated meters first: their pseudo-terminal goes with socat
  if (meterPort?.isOpen) await new Promise((r) => meterPort!.close(() => r(undefined)));
  for (const { child } of [...children].reverse()) {
    if (child.exitCode !== null || child.signalCode !== null || !child.pid) continue;
    const exited = new Promise((r) => child.once("exit", r));
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      child.kill("SIGTERM");
    }
    await Promise.race([exited, sleep(8000)]);
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid, "SIGKILL");
  }
  await portal?.close();
  await anvil?.stop();
  if (geth) await stopChain(geth.dir);
  log("stopped.");
}

function hardhat(args: string[], env: Record<string, string>): string {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, "node_modules/hardhat/internal/cli/cli.js"), ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`hardhat ${args.join(" ")} failed:\n${r.stderr || r.stdout}`);
  return r.stdout;
}

async function main() {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  if (!existsSync(path.join(REPO_ROOT, "typechain-types/index.ts"))) hardhat(["compile"], {});
  if (!existsSync(path.join(REPO_ROOT, "meter-bridge/dist/cli.js"))) spawnSync("npm", ["run", "build", "-w", "meter-bridge"], { cwd: REPO_ROOT, stdio: "inherit" });
  if (!existsSync(path.join(WEB_ROOT, "dist/index.html"))) spawnSync("npx", ["vite", "build"], { cwd: WEB_ROOT, stdio: "inherit" });

  // ---------------------------------------------------------------- chain and market
  const deploymentFile = path.join(OUT, "deployment.json");
  let env: Record<string, string>;
  let rpcUrls: string[];
  let operatorKey: string;
  if (GETH) {
    if (GETH !== "clique" && GETH !== "ethash") throw new Error(`--geth must be clique or ethash, not ${JSON.stringify(GETH)}`);
    if (!Number.isInteger(PERIOD) || PERIOD < 1) throw new Error(`--period must be a whole number of seconds, at least 1`);
    geth = await startChain({ engine: GETH, nodes: 2, period: PERIOD, dir: path.join(OUT, "chain"), log });
    env = { ...geth.settings, MARKET_DEPLOYMENT: deploymentFile };
    rpcUrls = geth.rpcUrls;
    operatorKey = Wallet.fromEncryptedJsonSync(readFileSync(geth.operator.keystore, "utf8"), readFileSync(geth.operator.passwordFile, "utf8").trim()).privateKey;
    log(`Geth ${geth.gethVersion} ${GETH} chain ${geth.chainId}: nodes ${rpcUrls.join(", ")}`);
  } else {
    anvil = await Anvil.start(["--hardfork", "london", "--block-time", "1", "--prune-history", "256"]); // a long demo keeps no old states on disk
    log(`anvil at ${anvil.url} (chain 31337, a block a second)`);
    env = { LOCALHOST_RPC_URL: anvil.url, MARKET_DEPLOYMENT: deploymentFile };
    rpcUrls = [anvil.url];
    operatorKey = key(0);
  }
  const network = GETH ? "privnet" : "localhost";
  hardhat(["deploy", "--network", network, "--interval", String(INTERVAL), "--json"], env);
  const deployment = JSON.parse(readFileSync(deploymentFile, "utf8")) as Deployment;
  log(`market ${deployment.market}: ${INTERVAL}-second intervals (commit ${deployment.schedule.commitSeconds} s, reveal ${deployment.schedule.revealSeconds} s)`);
  const provider = new JsonRpcProvider(rpcUrls[0], Network.from(deployment.chainId), { staticNetwork: true, cacheTimeout: -1, pollingInterval: 500 });
  const operator = new NonceManager(new Wallet(operatorKey, provider));
  const market = attachMarket(deployment.market, operator);
  /** Ether for an account: anvil's balance setter, or the operator's transfer on Geth. */
  const fund = async (address: string, ether: string) => {
    if (!GETH) return void (await provider.send("anvil_setBalance", [address, "0x" + parseEther(ether).toString(16)]));
    await (await operator.sendTransaction({ to: address, value: parseEther(ether) })).wait();
  };

  // ---------------------------------------------------------------- the paper's participants
  const scenario = loadScenario(path.join(REPO_ROOT, "scenarios/paper-day.json"));
  const members = scenario.participants.map((spec, i) => {
    const wallet = new NonceManager(new Wallet(key(1 + i), provider));
    const meterKey = key(10 + i);
    const flows = scenario.intervals.map((iv) => iv.metered.get(spec.name) ?? { importWh: 0n, exportWh: 0n });
    // the day's energies in 60-second intervals: a rating sized for them, raised where a bid needs more
    // (the market refuses a bid above the meter's rated energy per interval)
    const ratedW = spec.grid ? 0n : meterRatingW({ ...spec, ratedPowerW: defaultRatedPowerW(spec.name, scenario.intervals, INTERVAL) }, { ...scenario, market: { ...scenario.market, intervalSeconds: INTERVAL } });
    return { spec, wallet, key: key(1 + i), meterKey, meterAddress: new Wallet(meterKey).address, meterNumber: String(i + 1).padStart(12, "0"), flows, ratedW, id: 0n };
  });
  // meter accounts pay gas for their readings (dev accounts past the 10th hold nothing)
  for (const x of members) await fund(x.meterAddress, "10");
  if (GETH) for (const x of members) await fund(await x.wallet.getAddress(), "1000");
  await (await market.fundPool({ value: parseEther(scenario.market.incentivePoolEther) })).wait();
  for (const x of members) {
    const m = market.connect(x.wallet) as EnergyMarket;
    if (x.spec.grid) {
      await (await market.registerGrid(await x.wallet.getAddress(), x.spec.name)).wait();
    } else {
      await (await m.register(x.spec.name, x.spec.green)).wait();
    }
    x.id = await market.idOf(await x.wallet.getAddress());
    await (await m.deposit({ value: x.spec.depositWei })).wait();
    if (!x.spec.grid) {
      await (await market.authorize(x.id, true)).wait();
      // the operator proposes the meter, the bot accepts it: its deposit holds the meter's security
      await bindMeter(market, x.wallet, x.id, newMeter(BigInt(x.meterNumber), x.meterAddress, x.ratedW));
    }
    log(`#${x.id} ${x.spec.name}${x.spec.grid ? " (public grid)" : `, meter ${x.meterNumber} rated ${Number(x.ratedW) / 1000} kW`}`);
  }

  // keystores to try the portal with (password: demo): the operator, a newcomer, and every bot
  const newcomer = Wallet.createRandom();
  await fund(newcomer.address, "10");
  const keystores: [string, string][] = [["operator", operatorKey], ["newcomer", newcomer.privateKey], ...members.map((x) => [x.spec.name, x.key] as [string, string])];
  // the portal's relayer pays with an account of its own (cycle:run sends with the operator's)
  const relayer = new Wallet(Wallet.createRandom().privateKey);
  await fund(relayer.address, "10");
  for (const [name, k] of keystores) {
    const w = new Wallet(k);
    writeFileSync(path.join(OUT, `${name}.keystore.json`), await encryptKeystoreJson({ address: w.address, privateKey: w.privateKey }, "demo", { scrypt: { N: 1 << 14 } }));
  }

  // ---------------------------------------------------------------- meters: simulator, pty pair, bridge
  const ptyA = path.join(OUT, "bridge.pty");
  const ptyB = path.join(OUT, "meters.pty");
  const hasSocat = spawnSync("socat", ["-V"], { stdio: "ignore" }).status === 0;
  if (hasSocat) start("socat", "socat", [`pty,raw,echo=0,link=${ptyA}`, `pty,raw,echo=0,link=${ptyB}`]);
  else start("pty-relay", "python3", [path.join(REPO_ROOT, "meter-bridge/scripts/pty-relay.py"), ptyA, ptyB]);
  for (const until = Date.now() + 5000; !(existsSync(ptyA) && existsSync(ptyB)); await sleep(50)) if (Date.now() > until) throw new Error("the pseudo-terminal pair did not appear");
  const prosumers = members.filter((x) => !x.spec.grid);
  const line = { baudRate: 9600, parity: "even" } as const;
  for (const x of prosumers) writeFileSync(path.join(OUT, `${x.meterNumber}.key`), x.meterKey + "\n");
  writeFileSync(
    path.join(OUT, "bridge.json"),
    JSON.stringify(
      {
        rpcUrl: rpcUrls[0],
        chainId: deployment.chainId,
        market: deployment.market,
        journal: "journal.jsonl",
        maxReadDelaySeconds: 6,
        logLevel: "info",
        poster: { confirmations: 1, pollMs: 500 },
        ports: [{ path: ptyA, ...line, responseTimeoutMs: 300, meters: prosumers.map((x) => ({ address: x.meterNumber, key: { keyFile: `${x.meterNumber}.key` } })) }],
      },
      null,
      2,
    ),
  );
  // the meters register the day's metered energy of the interval's time of day, as the bots' bids forecast it
  meterPort = await openSerialPort(ptyB, { baudRate: 9600, parity: "even", dataBits: 8, stopBits: 1 });
  for (const x of prosumers) profileMeter(meterPort, x.meterNumber, deployment.schedule, x.flows, (d) => d % scenario.intervals.length, { line });
  const bridgeCli = path.join(REPO_ROOT, "meter-bridge/dist/cli.js");
  start("meter-bridge", process.execPath, [bridgeCli, "run", "--config", path.join(OUT, "bridge.json")], { METER_BRIDGE_RPC_URL: rpcUrls.join(",") });
  log(`meters simulated on ${hasSocat ? "a socat" : "a python"} pty pair, following the paper's day; read and posted by the meter bridge`);

  // ---------------------------------------------------------------- the cycle daemon and the portal
  start("cycle", process.execPath, [path.join(REPO_ROOT, "node_modules/hardhat/internal/cli/cli.js"), "cycle:run", "--network", network, "--poll-ms", "1000"], env);
  log("cycle:run clears and settles every interval as it falls due");
  const port = Number(process.env.PORTAL_PORT ?? (await freePort()));
  portal = await startPortal({ deployment, rpcUrl: rpcUrls, distDir: path.join(WEB_ROOT, "dist"), port, cnyPerEther: scenario.market.cnyPerEther, relayer: { wallet: relayer }, log: (l) => /relayed|refused|relayer/.test(l) && log(l) });
  console.log(`
  The market portal: ${portal.url}
    operator view:  ${portal.url}#/operator   (sign in with out/demo-live/operator.keystore.json, password "demo")
    prosumer view:  ${portal.url}#/prosumer   (try out/demo-live/newcomer.keystore.json, password "demo": 10 ETH, not registered;
                    what it signs, the portal's relayer carries: its receipts show the transaction and block)
  The bots' keystores (password "demo"): sign in as one in the prosumer view to follow its bids and history:
${members.map((x) => `    ${x.spec.name.padEnd(14)} out/demo-live/${x.spec.name}.keystore.json`).join("\n")}
  Logs: out/demo-live/{cycle,meter-bridge}.log.  Ctrl-C stops everything.
`);

  // ---------------------------------------------------------------- bidding bots
  await runBots(provider, market, deployment, members, scenario);
}

type Member = { spec: { name: string; green: boolean; grid: boolean }; wallet: NonceManager; id: bigint };

async function runBots(provider: JsonRpcProvider, market: EnergyMarket, deployment: Deployment, members: Member[], scenario: ReturnType<typeof loadScenario>) {
  const { startTime, intervalSeconds } = deployment.schedule;
  const byName = new Map(members.map((x) => [x.spec.name, x]));
  const sealed = new Map<number, { who: Member; bid: SealedBid }[]>();
  const revealed = new Set<number>();
  let reported = deployment.deployedAt.block;
  // the paper's day, one of its intervals per minute: the whole day in 96 minutes
  const dayIndex = (d: number) => d % scenario.intervals.length;
  while (!stopping) {
    try {
      const block = (await provider.getBlock("latest"))!;
      const t = block.timestamp;
      const next = Math.floor((t - startTime) / intervalSeconds) + 1;
      const view = await market.intervalOf(next);
      if (!sealed.has(next) && t >= Number(view.commitStart) && t < Number(view.revealStart) - 1) {
        const j = dayIndex(next);
        const bids: { who: Member; bid: SealedBid }[] = [];
        await Promise.all(
          scenario.intervals[j].bids.map(async (b) => {
            const who = byName.get(b.participant)!;
            const address = await who.wallet.getAddress();
            const bid: SealedBid = { interval: next, side: b.side === "sell" ? Side.Sell : Side.Buy, energyWh: b.energyWh, priceWeiPerKWh: b.priceWeiPerKWh, salt: newSalt() };
            try {
              const c = commitmentOf(BigInt(deployment.chainId), deployment.market, address, bid);
              await (await (market.connect(who.wallet) as EnergyMarket).commitBid(next, c)).wait();
              bids.push({ who, bid });
            } catch (e) {
              who.wallet.reset();
              log(`${who.spec.name}: commit for interval ${next} refused: ${(e as Error).message.slice(0, 140)}`);
            }
          }),
        );
        sealed.set(next, bids);
        log(`interval ${next} (the paper's ${scenario.intervals[j].label}): ${bids.map((x) => `${x.who.spec.name} ${x.bid.side === Side.Sell ? "sells" : "buys"} ${whToKWh(x.bid.energyWh)} kWh @ ${weiToEther(x.bid.priceWeiPerKWh)}`).join(", ") || "no bids"} (sealed)`);
      }
      if (sealed.has(next) && !revealed.has(next) && t >= Number(view.revealStart) && t < Number(view.revealEnd)) {
        revealed.add(next);
        await Promise.all(
          sealed.get(next)!.map(async ({ who, bid }) => {
            try {
              await (await revealSealed(market.connect(who.wallet) as EnergyMarket, who.id, who.spec.green, bid)).wait();
            } catch (e) {
              who.wallet.reset();
              log(`${who.spec.name}: reveal for interval ${next} refused: ${(e as Error).message.slice(0, 140)}`);
            }
          }),
        );
        log(`interval ${next}: bids revealed`);
      }
      // what the cycle daemon did
      if (block.number > reported) {
        for (const l of await market.queryFilter(market.filters.IntervalCleared(), reported + 1, block.number)) {
          log(
            l.args.trades > 0n
              ? `interval ${l.args.interval} cleared: ${l.args.trades} trades, ${whToKWh(l.args.tradedWh)} kWh, average ${weiToEther(l.args.averagePriceWeiPerKWh)} ETH/kWh`
              : `interval ${l.args.interval} cleared: no trades`,
          );
        }
        reported = block.number;
      }
    } catch (e) {
      if (!stopping) log(`bots: ${(e as Error).message.slice(0, 160)}`);
    }
    await sleep(500);
  }
}

for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => void stopAll().then(() => process.exit(0)));
main().catch(async (e) => {
  console.error(`demo:live: ${(e as Error).message}`);
  await stopAll();
  process.exit(1);
});
