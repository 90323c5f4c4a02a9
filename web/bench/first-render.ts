/**
 * Benchmark (reported, not a timed test): the operator view's time to first render with 1,000
 * participants and a day of history on a local node, and the gzipped size of the shipped JS.
 *
 *   npm run bench:render -w web [-- participants=1000 intervals=96 bidders=100 runs=3 hold=1]
 *   npm run bench:render -w web -- url=http://127.0.0.1:PORT/   (measure a portal already serving a day)
 *
 * `hold=1` leaves the node and the portal running after the measurement (Ctrl-C stops them), so a
 * change to the portal can be rebuilt into test-output/bench-dist and measured again with `url=`.
 *
 * The day is built on anvil through the real contract, fast: block time is moved forward
 * (evm_setNextBlockTimestamp), transactions are signed here with local nonces and sent raw.
 * Every interval `bidders` prosumers (rotating) commit and reveal sealed bids, which clear; their
 * meters post readings; every participant is settled (a missing reading settles as zero after the
 * grace period), so each interval emits 1,000 ParticipantSettled events.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import path from "node:path";
import { JsonRpcProvider, Network, TransactionRequest, Wallet, id as keccakText, parseEther } from "ethers";
import { EnergyMarket__factory } from "../../typechain-types";
import { windowsOf } from "../../lib/clock";
import { HintBook, Side, commitmentOf, newSalt, type SealedBid } from "../../lib/market";
import { Anvil } from "../test/support/anvil";
import { DESKTOP, launch } from "../test/support/browser";
import { deployTestMarket } from "../test/support/market";
import { WEB_ROOT } from "../test/support/paths";
import { startPortal } from "../server/portal";

const arg = (name: string, dflt: number) => Number(process.argv.find((a) => a.startsWith(`${name}=`))?.split("=")[1] ?? dflt);
const N = arg("participants", 1000);
const DAY = arg("intervals", 96);
const BIDDERS = arg("bidders", 100);
const RUNS = arg("runs", 3);
const HOLD = arg("hold", 0) === 1;
const URL_ARG = process.argv.find((a) => a.startsWith("url="))?.slice(4);
const iface = EnergyMarket__factory.createInterface();

class Account {
  nonce = 0;
  constructor(readonly wallet: Wallet) {}
}

/** The portal's own build, so rebuilding dist/ meanwhile does not disturb the measurement. */
const DIST = path.join(WEB_ROOT, "test-output/bench-dist");

function buildPortal() {
  if (spawnSync("npx", ["vite", "build", "--outDir", DIST, "--emptyOutDir"], { cwd: WEB_ROOT, stdio: "ignore" }).status !== 0) throw new Error("vite build failed");
  const js = readdirSync(path.join(DIST, "assets")).filter((f) => f.endsWith(".js"));
  const gz = js.reduce((a, f) => a + gzipSync(readFileSync(path.join(DIST, "assets", f))).length, 0);
  const raw = js.reduce((a, f) => a + readFileSync(path.join(DIST, "assets", f)).length, 0);
  return { files: js.length, bytes: raw, gzipBytes: gz };
}

/** Open the operator view `runs` times in fresh browser contexts; time its first render and the day's energy. */
async function measure(portalUrl: string, runs: number) {
  const browser = await launch();
  const out: { firstRender: number; rows: number; dayLoaded: number }[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const ctx = await browser.newContext({ viewport: DESKTOP });
      const page = await ctx.newPage();
      await page.goto(`${portalUrl}#/operator`);
      await page.waitForFunction(() => document.documentElement.dataset.ready === "operator", undefined, { timeout: 60_000 });
      const firstRender = await page.evaluate(() => performance.getEntriesByName("portal-ready-operator")[0].startTime);
      const rows = Number(await page.getByTestId("participants-table").getAttribute("data-rows"));
      await page.waitForFunction(() => document.documentElement.dataset.energy === "loaded", undefined, { timeout: 300_000 });
      const dayLoaded = await page.evaluate(() => performance.getEntriesByName("portal-energy-loaded")[0].startTime);
      out.push({ firstRender, rows, dayLoaded });
      if (i === 0) await page.screenshot({ path: path.join(WEB_ROOT, "test-output/screens/bench-operator-1366.png"), fullPage: false });
      await ctx.close();
      process.stdout.write(`run ${i + 1}/${runs}: first render ${Math.round(firstRender)} ms, day loaded ${Math.round(dayLoaded)} ms\n`);
    }
  } finally {
    await browser.close();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return {
    operatorFirstRenderMs: out.map((x) => Math.round(x.firstRender)),
    operatorFirstRenderMedianMs: Math.round(median(out.map((x) => x.firstRender))),
    participantRows: out[0].rows,
    dayOfSettlementsLoadedMs: out.map((x) => Math.round(x.dayLoaded)),
    dayOfSettlementsLoadedMedianMs: Math.round(median(out.map((x) => x.dayLoaded))),
  };
}

async function main() {
  if (URL_ARG) {
    const shippedJs = buildPortal();
    console.log(JSON.stringify({ portal: URL_ARG, shippedJs, ...(await measure(URL_ARG, RUNS)) }, null, 2));
    return;
  }
  const distDir = DIST;
  const shippedJs = buildPortal();
  const t0 = Date.now();
  // no historical states (only logs are read back): anvil would otherwise spill them to ~/.foundry/anvil/tmp by the gigabyte
  const anvil = await Anvil.start(["--hardfork", "london", "--gas-limit", "30000000", "--prune-history", "64"]);
  const p = new JsonRpcProvider(anvil.url, Network.from(31337), { staticNetwork: true, cacheTimeout: -1, batchMaxCount: 100 });
  try {
    const { market, operator, deployment } = await deployTestMarket(p);
    const address = deployment.market;
    const op = new Account(new Wallet((operator.signer as Wallet).privateKey));
    op.nonce = await p.getTransactionCount(op.wallet.address, "pending");
    const fees = { maxFeePerGas: parseEther("0.0000001"), maxPriorityFeePerGas: 1_000_000_000n, type: 2, chainId: 31337 };

    /** Sign and send a batch; anvil mines each on arrival; returns how many reverted. */
    async function sendAll(txs: { from: Account; data: string; gasLimit: number; value?: bigint }[]): Promise<number> {
      const raws = await Promise.all(txs.map((t) => t.from.wallet.signTransaction({ ...fees, to: address, data: t.data, gasLimit: t.gasLimit, value: t.value ?? 0n, nonce: t.from.nonce++ } as TransactionRequest)));
      const hashes: string[] = [];
      for (let i = 0; i < raws.length; i += 500) hashes.push(...(await Promise.all(raws.slice(i, i + 500).map((r) => p.send("eth_sendRawTransaction", [r]) as Promise<string>))));
      // automine packs what fits in a block; what is left waits for one more block
      let receipts: ({ status: string } | null)[] = [];
      for (;;) {
        receipts = [];
        for (let i = 0; i < hashes.length; i += 500) receipts.push(...(await Promise.all(hashes.slice(i, i + 500).map((h) => p.send("eth_getTransactionReceipt", [h]) as Promise<{ status: string } | null>))));
        if (receipts.every(Boolean)) break;
        await p.send("evm_mine", []);
      }
      const failed = receipts.filter((r) => r!.status !== "0x1").length;
      return failed;
    }
    const warp = async (t: number) => {
      const now = (await p.getBlock("latest"))!.timestamp;
      if (now >= t) return;
      await p.send("evm_setNextBlockTimestamp", [t]);
      await p.send("evm_mine", []);
    };
    const fund = (a: string) => p.send("anvil_setBalance", [a, "0x" + parseEther("1000").toString(16)]);

    // ------------------------------------------------------------ 999 prosumers + the grid (registered at deploy)
    const prosumers = Array.from({ length: N - 1 }, (_, i) => ({
      acct: new Account(new Wallet(keccakText(`bench prosumer ${i}`))),
      meter: new Account(new Wallet(keccakText(`bench meter ${i}`))),
      id: 0, // read back after registration: the registrations are sent together and mined in arrival order
      green: i % 3 === 0,
      producer: i % 2 === 0,
      importWh: 0n,
      exportWh: 0n,
    }));
    for (let i = 0; i < prosumers.length; i += 200) await Promise.all(prosumers.slice(i, i + 200).flatMap((x) => [fund(x.acct.wallet.address), fund(x.meter.wallet.address)]));
    let failed = await sendAll(prosumers.map((x, i) => ({ from: x.acct, data: iface.encodeFunctionData("register", [`p${String(i).padStart(4, "0")}`, x.green]), gasLimit: 250_000 })));
    if (failed) throw new Error(`${failed} registrations failed`);
    for (let i = 0; i < prosumers.length; i += 200) {
      const ids = await Promise.all(prosumers.slice(i, i + 200).map((x) => market.idOf(x.acct.wallet.address)));
      ids.forEach((id, k) => (prosumers[i + k].id = Number(id)));
    }
    failed += await sendAll(prosumers.map((x) => ({ from: x.acct, data: iface.encodeFunctionData("deposit"), gasLimit: 150_000, value: parseEther("1") })));
    failed += await sendAll(prosumers.map((x) => ({ from: op, data: iface.encodeFunctionData("authorize", [x.id, true]), gasLimit: 150_000 })));
    // meters: the operator proposes, each prosumer accepts its proposal (its deposit holds the 50 kW meter's security)
    const meterOf = (x: (typeof prosumers)[number]) => ({ meterNumber: 100_000 + x.id, account: x.meter.wallet.address, ratedPowerW: 50_000, openImportWh: 0, openExportWh: 0, closeImportWh: 0, closeExportWh: 0 });
    failed += await sendAll(prosumers.map((x) => ({ from: op, data: iface.encodeFunctionData("proposeMeter", [x.id, meterOf(x)]), gasLimit: 300_000 })));
    const proposals: string[] = [];
    for (let i = 0; i < prosumers.length; i += 200) proposals.push(...(await Promise.all(prosumers.slice(i, i + 200).map(async (x) => (await market.meterProposalOf(x.id))[0]))));
    failed += await sendAll(prosumers.map((x, i) => ({ from: x.acct, data: iface.encodeFunctionData("acceptMeter", [proposals[i]]), gasLimit: 300_000 })));
    if (failed) throw new Error(`${failed} setup transactions failed`);
    console.log(`${N} participants set up in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

    // ------------------------------------------------------------ the day
    const first = Number(await market.currentInterval()) + 2;
    const ids = prosumers.map((x) => x.id);
    let settledThrough = Math.min(...(await Promise.all([ids[0], ids[ids.length - 1]].map(async (id) => Number((await market.settlementOf(id)).nextInterval))))) - 1;
    const s = deployment.schedule;
    const times = (d: number) => windowsOf(s, d);
    let r = 7;
    const rand = (lo: number, hi: number) => {
      r = (r * 1103515245 + 12345) % 2147483648;
      return lo + (r % (hi - lo + 1));
    };
    type Step = { t: number; order: number; run: () => Promise<number> };
    const steps: Step[] = [];
    const clearUntilDone = async (d: number) => {
      let n = 0;
      for (let tries = 0; Number((await market.intervalOf(d)).stage) !== 4; tries++) {
        if (tries > 100) throw new Error(`interval ${d} does not clear`);
        n += await sendAll([{ from: op, data: iface.encodeFunctionData("clear", [d, 200]), gasLimit: 12_000_000 }]);
      }
      return n;
    };
    for (let j = 0; j < DAY; j++) {
      const d = first + j;
      const w = times(d);
      const bidders = prosumers.slice((j * BIDDERS) % prosumers.length).concat(prosumers).slice(0, BIDDERS);
      const sealed: { x: (typeof prosumers)[number]; bid: SealedBid }[] = bidders.map((x) => ({
        x,
        bid: { interval: d, side: x.producer ? Side.Sell : Side.Buy, energyWh: BigInt(rand(100, 2000)), priceWeiPerKWh: BigInt(rand(x.producer ? 400 : 500, x.producer ? 800 : 900)) * 10n ** 12n, salt: newSalt() },
      }));
      steps.push({ t: w.commitStart, order: 0, run: () => sendAll(sealed.map(({ x, bid }) => ({ from: x.acct, data: iface.encodeFunctionData("commitBid", [d, commitmentOf(31337n, address, x.acct.wallet.address, bid)]), gasLimit: 150_000 }))) });
      steps.push({
        t: w.revealStart,
        order: 1,
        run: () => {
          const hints = new HintBook();
          return sendAll(sealed.map(({ x, bid }) => ({ from: x.acct, data: iface.encodeFunctionData("revealBid", [d, bid.side, bid.energyWh, bid.priceWeiPerKWh, bid.salt, hints.add(BigInt(x.id), bid.side, x.green, bid.priceWeiPerKWh)]), gasLimit: 500_000 })));
        },
      });
      steps.push({ t: w.revealEnd, order: 2, run: () => clearUntilDone(d) });
      steps.push({
        t: w.end + 1,
        order: 3,
        run: () =>
          sendAll(
            sealed.map(({ x, bid }) => {
              const metered = (bid.energyWh * BigInt(rand(90, 110))) / 100n;
              if (x.producer) x.exportWh += metered;
              else x.importWh += metered;
              return { from: x.meter, data: iface.encodeFunctionData("postReading", [100_000 + x.id, d, x.importWh, x.exportWh]), gasLimit: 200_000 };
            }),
          ),
      });
      steps.push({
        t: w.graceEnd + 1,
        order: 4,
        run: async () => {
          let n = 0;
          for (let k = settledThrough + 1; k <= d; k++) {
            n += await clearUntilDone(k);
            const batches = [];
            for (let i = 0; i < ids.length; i += 100) batches.push({ from: op, data: iface.encodeFunctionData("settle", [k, ids.slice(i, i + 100)]), gasLimit: 200_000 + 90_000 * 100 });
            n += await sendAll(batches);
          }
          settledThrough = d;
          if (j % 8 === 7) process.stdout.write(`\r${j + 1}/${DAY} intervals, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
          return n;
        },
      });
    }
    steps.sort((a, b) => a.t - b.t || a.order - b.order);
    let dayFailed = 0;
    for (const step of steps) {
      if (process.env.BENCH_DEBUG) console.log(`step at ${step.t} order ${step.order}`);
      await warp(step.t);
      dayFailed += await step.run();
    }
    const head = await p.getBlockNumber();
    console.log(`\nday of ${DAY} intervals built in ${((Date.now() - t0) / 1000).toFixed(0)} s (${head} blocks, ${dayFailed} failed transactions)`);

    // ------------------------------------------------------------ the measurement
    const portal = await startPortal({ deployment, rpcUrl: anvil.url, distDir });
    try {
      const result = await measure(portal.url, RUNS);
      console.log(JSON.stringify({ participants: N, intervals: DAY, biddersPerInterval: BIDDERS, shippedJs, ...result }, null, 2));
      if (HOLD) {
        console.log(`holding: portal ${portal.url} (operator view: ${portal.url}#/operator), node ${anvil.url}; measure again with url=${portal.url}; Ctrl-C stops`);
        await new Promise<void>((resolve) => ["SIGINT", "SIGTERM"].forEach((sig) => process.once(sig, () => resolve())));
      }
    } finally {
      await portal.close();
    }
  } finally {
    p.destroy();
    await anvil.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
