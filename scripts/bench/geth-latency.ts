/**
 * `npm run bench:geth -- [--engine ethash|clique] [--period S] [--bids N] [--bidders B]`: how long a
 * bid takes on a private Geth network. A fresh two-node chain (scripts/geth/chain.ts), a market of
 * 60-second intervals deployed with lib/market, B bidders registered, authorized and funded; then N
 * sealed bids (commitBid, the transaction a prosumer sends to bid), each sent at a random moment of a
 * commit window through node 1, signed locally. For each: the time from sending until the node has its
 * receipt (mined) and until the chain is CONFIRMATIONS[engine] blocks past it (what the cycle daemon
 * waits for), polled every 100 ms; and the transactions per block over the run. Prints medians and
 * 95th percentiles and writes out/bench/geth-<engine>[-<period>s].json. A benchmark, not a test.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { JsonRpcProvider, Network, NonceManager, Wallet, parseEther } from "ethers";
import { CONFIRMATIONS, Engine, REPO_ROOT, startChain, stopChain } from "../geth/chain";
import { Side, commitmentOf, deployMarket, newMeter, newSalt, scheduleFor } from "../../lib/market";
import { windowsOf } from "../../lib/clock";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
};

async function main() {
  const { values } = parseArgs({ options: { engine: { type: "string", default: "clique" }, period: { type: "string", default: "5" }, bids: { type: "string", default: "40" }, bidders: { type: "string", default: "20" } } });
  const engine = values.engine as Engine;
  const period = Number(values.period);
  const bids = Number(values.bids);
  const bidders = Array.from({ length: Number(values.bidders) }, () => Wallet.createRandom());
  const name = engine === "clique" ? `geth-clique-${period}s` : "geth-ethash";
  const dir = path.join(REPO_ROOT, "out/bench", name);
  const started = Date.now();
  const chain = await startChain({ engine, nodes: 2, period, dir: path.join(dir, "chain"), prefund: Object.fromEntries(bidders.map((b) => [b.address, parseEther("100")])) });
  const confirmations = CONFIRMATIONS[engine];
  try {
    const p = new JsonRpcProvider(chain.rpcUrls[0], Network.from(chain.chainId), { staticNetwork: true, cacheTimeout: -1, pollingInterval: 100 });
    const operatorKey = Wallet.fromEncryptedJsonSync(readFileSync(chain.operator.keystore, "utf8"), readFileSync(chain.operator.passwordFile, "utf8").trim()).privateKey;
    const operator = new NonceManager(new Wallet(operatorKey, p));
    const now = (await p.getBlock("latest"))!.timestamp;
    const market = await deployMarket(operator, scheduleFor(60, now - (now % 60), { commitSeconds: 30, revealSeconds: 10 }));
    await market.deploymentTransaction()!.wait();
    const address = await market.getAddress();
    const signers = bidders.map((b) => new NonceManager(b.connect(p)));
    await Promise.all(signers.map(async (s, i) => (await market.connect(s).register(`bidder-${i}`, i % 2 === 0)).wait()));
    // the operator's setup sent together (one nonce sequence), then awaited
    const setup = [];
    const ids = await Promise.all(bidders.map((b) => market.idOf(b.address)));
    for (const [i, id] of ids.entries()) {
      setup.push(await market.authorize(id, true));
      setup.push(await market.proposeMeter(id, newMeter(900000000001n + BigInt(i), Wallet.createRandom().address, 100_000)));
    }
    await Promise.all(setup.map((tx) => tx.wait()));
    // each bidder deposits (the meter's security first), then accepts its meter
    await Promise.all(signers.map(async (s) => (await market.connect(s).deposit({ value: parseEther("1") })).wait()));
    await Promise.all(signers.map(async (s, i) => (await market.connect(s).acceptMeter((await market.meterProposalOf(ids[i]))[0])).wait()));
    const schedule = { startTime: Number((await market.schedule())[0]), intervalSeconds: 60, commitSeconds: 30, revealSeconds: 10, settleOffsetSeconds: 40, readingGraceSeconds: 20 };
    console.error(`${name}: chain and ${bidders.length} bidders ready in ${((Date.now() - started) / 1000).toFixed(0)} s; sending ${bids} bids`);

    const samples: { minedMs: number; confirmedMs: number; block: number }[] = [];
    const waits: Promise<void>[] = [];
    const used = new Set<string>();
    const bidsFrom = await p.getBlockNumber();
    // a bid goes out only while its block, one to a few block times away, still falls in the commit window
    const margin = engine === "ethash" ? 15 : period + 2;
    let refused = 0;
    while (waits.length < bids) {
      // the interval from chain time (what the contract checks), the margin from the wall clock
      const head = await p.getBlock("latest");
      const now = Math.max(head!.timestamp, Math.floor(Date.now() / 1000));
      const d = Math.floor((head!.timestamp - schedule.startTime) / 60) + 1;
      const w = windowsOf(schedule, d);
      const free = bidders.map((b, i) => ({ b, s: signers[i] })).filter((x) => !used.has(`${d}/${x.b.address}`));
      if (now >= w.revealStart - margin || free.length === 0) {
        await sleep(1000);
        continue;
      }
      const { b, s } = free[Math.floor(Math.random() * free.length)];
      used.add(`${d}/${b.address}`);
      const bid = { interval: d, side: Side.Buy, energyWh: 100n, priceWeiPerKWh: parseEther("0.0005"), salt: newSalt() };
      const t0 = Date.now();
      const tx = await market
        .connect(s)
        .commitBid(d, commitmentOf(BigInt(chain.chainId), address, b.address, bid))
        .catch((e) => {
          refused++; // estimated in a state past the window: nothing sent
          console.error(`\nrefused: ${(e as Error).message.slice(0, 80)}`);
          return undefined;
        });
      if (!tx) {
        await sleep(1000);
        continue;
      }
      waits.push((async () => {
        let receipt = null;
        while (!(receipt = await p.getTransactionReceipt(tx.hash))) await sleep(100);
        const minedMs = Date.now() - t0;
        while ((await p.getBlockNumber()) < receipt.blockNumber + confirmations - 1) await sleep(100);
        samples.push({ minedMs, confirmedMs: Date.now() - t0, block: receipt.blockNumber });
        process.stderr.write(`\r${samples.length}/${bids}`);
      })());
      await sleep(Math.random() * 3000);
    }
    await Promise.all(waits);
    const lastBlock = await p.getBlockNumber();
    const perBlock: number[] = [];
    const blockTimes: number[] = [];
    let prev: number | undefined;
    // the bidding blocks only (setup sent one transaction at a time)
    for (let n = bidsFrom + 1; n <= lastBlock; n++) {
      const blk = (await p.getBlock(n))!;
      perBlock.push(blk.transactions.length);
      if (prev !== undefined) blockTimes.push(blk.timestamp - prev);
      prev = blk.timestamp;
    }
    const withTx = perBlock.filter((x) => x > 0);
    const mined = samples.map((x) => x.minedMs / 1000);
    const confirmed = samples.map((x) => x.confirmedMs / 1000);
    const result = {
      engine,
      geth: chain.gethVersion,
      period: engine === "clique" ? period : undefined,
      confirmations,
      bids: samples.length,
      refusedBeforeSending: refused,
      minedSeconds: { median: +quantile(mined, 0.5).toFixed(2), p95: +quantile(mined, 0.95).toFixed(2) },
      confirmedSeconds: { median: +quantile(confirmed, 0.5).toFixed(2), p95: +quantile(confirmed, 0.95).toFixed(2) },
      blocks: perBlock.length,
      blockSeconds: { median: quantile(blockTimes, 0.5), mean: +(blockTimes.reduce((a, x) => a + x, 0) / blockTimes.length).toFixed(2) },
      txPerBlock: { mean: +(perBlock.reduce((a, x) => a + x, 0) / perBlock.length).toFixed(2), meanOfBlocksWithTx: +(withTx.reduce((a, x) => a + x, 0) / Math.max(1, withTx.length)).toFixed(2), max: Math.max(...perBlock) },
      difficulty: engine === "ethash" ? Number((await p.getBlock(lastBlock))!.difficulty) : undefined,
      wallSeconds: Math.round((Date.now() - started) / 1000),
    };
    mkdirSync(path.dirname(dir), { recursive: true });
    writeFileSync(`${dir}.json`, JSON.stringify(result, null, 2) + "\n");
    console.log(JSON.stringify(result));
    p.destroy();
  } finally {
    await stopChain(chain.dir);
  }
}

main().catch((e) => {
  console.error(`bench:geth: ${(e as Error).message}`);
  process.exit(1);
});
