/**
 * The gas benchmark behind `npx hardhat bench:gas`. Books: half sellers, half buyers, a third green,
 * random prices that cross. The largest book up to 1000 bids is run through a whole interval
 * (commit, reveal, clear, readings, settle) for the per-participant figures; the others are cleared only.
 */
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { Wallet, keccak256, toBeHex } from "ethers";
import { EnergyMarket } from "../../typechain-types";
import { DEFAULT_CLEAR_STEPS, HintBook, STAGE_DONE, PAPER_PARAMS, SealedBid, Side, commitmentOf, deployMarket, newMeter, newSalt, scheduleFor } from "../../lib/market";
import { ModelBid } from "../../lib/model";
import { Call, InProcessClock, call } from "../../lib/chain";
import { rng } from "../../test/shared/random";

const INTERVAL = 900;
const SETTLE_BATCH = 100;
/** Every meter's registers when it is bound. */
const REGISTERS = 1_000_000n;

export interface ClearingGas {
  bids: number;
  trades: number;
  totalGas: number;
  maxTxGas: number;
  transactions: number;
  gasPerBid: number;
}

export interface GasBench {
  network: string;
  hardfork: string;
  clearStepsPerTransaction: number;
  operations: { commit: number; reveal: number; postReading: number; settle: number; withdraw: number };
  clearing: ClearingGas[];
  cycle: { bids: number; participants: number; totalGas: number; cyclePerParticipant: number; settleBatch: number };
  targets: { gasPerBidAt1000: number; maxTxGas: number; cyclePerParticipant: number };
}

interface Trader {
  id: bigint;
  green: boolean;
  wallet: Wallet;
  address: string;
  meter: Wallet;
  number: bigint;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : 0;
};

export async function runGasBench(hre: HardhatRuntimeEnvironment, counts: number[], seed: number, log: (m: string) => void): Promise<GasBench> {
  const { ethers, network } = hre;
  const clock = new InProcessClock(network.provider);
  const [operator] = await ethers.getSigners();
  const rand = rng(seed).next;
  const now = BigInt((await ethers.provider.getBlock("latest"))!.timestamp);
  const market = await deployMarket(operator, scheduleFor(INTERVAL, now - (now % BigInt(INTERVAL))), PAPER_PARAMS);
  const grid = Wallet.createRandom(ethers.provider);
  await clock.fund(grid.address, 10n ** 22n);
  await (await market.registerGrid(grid.address, "grid")).wait();
  await (await market.fundPool({ value: 10n ** 20n })).wait();
  await (await market.connect(grid).deposit({ value: 10n ** 21n })).wait();

  const maxBids = Math.max(...counts);
  log(`registering ${maxBids} participants with meters …`);
  const op = operator;
  const traders: Trader[] = [];
  for (let i = 0; i < maxBids; i++) {
    const key = keccak256(toBeHex(seed * 1_000_003 + i, 32));
    const wallet = new Wallet(key, ethers.provider);
    const meter = new Wallet(keccak256(key), ethers.provider);
    await clock.fund(wallet.address, 10n ** 22n);
    await clock.fund(meter.address, 10n ** 22n);
    traders.push({ id: BigInt(i + 2), green: i % 3 === 0, wallet, address: wallet.address, meter, number: 300000000000n + BigInt(i) });
  }
  await inBlocks(clock, traders.map((t, i) => () => call(t.wallet, market.register.populateTransaction(`bench-${i}`, t.green), 300_000)));
  // the operator proposes each meter (its registers open at REGISTERS); the prosumer, its deposit in,
  // accepts it
  await inBlocks(
    clock,
    traders.flatMap((t) => [
      () => call(op, market.authorize.populateTransaction(t.id, true), 300_000),
      () => call(op, market.proposeMeter.populateTransaction(t.id, newMeter(t.number, t.meter.address, 1_000_000, { importWh: REGISTERS, exportWh: REGISTERS })), 300_000),
      () => call(t.wallet, market.deposit.populateTransaction({ value: 10n ** 19n }), 300_000),
    ]),
  );
  await inBlocks(
    clock,
    traders.map((t) => () => call(t.wallet, market.meterProposalOf(t.id).then(([proposal]) => market.acceptMeter.populateTransaction(proposal)), 300_000)),
  );

  const cycleCount = Math.max(...counts.filter((c) => c <= 1000));
  const order = [cycleCount, ...counts.filter((c) => c !== cycleCount)];
  const clearing: ClearingGas[] = [];
  const ops = { commit: [] as number[], reveal: [] as number[], postReading: [] as number[], settle: 0, withdraw: 0 };
  let cycle = { bids: cycleCount, participants: cycleCount, totalGas: 0, cyclePerParticipant: 0, settleBatch: SETTLE_BATCH };
  let d = Number(await market.currentInterval()) + 2;
  for (const n of order) {
    const isCycle = n === cycleCount && ops.commit.length === 0;
    log(`interval ${d}: ${n} bids${isCycle ? " (whole cycle)" : ""} …`);
    const players = traders.slice(0, n);
    const bids = randomBook(players, rand);
    const gas = await runBook(clock, market, d, players, bids);
    if (isCycle) {
      ops.commit.push(...gas.commit);
      ops.reveal.push(...gas.reveal);
    }
    log(`  clearing …`);
    const receipts = await clearAll(market, d);
    const clearGas = receipts.map((r) => Number(r.gasUsed));
    const trades = Number((await market.intervalOf(d)).trades);
    const total = clearGas.reduce((a, b) => a + b, 0);
    clearing.push({ bids: n, trades, totalGas: total, maxTxGas: Math.max(...clearGas), transactions: clearGas.length, gasPerBid: Math.round(total / n) });
    if (isCycle) {
      log(`  readings and settlement …`);
      const post = await postReadings(clock, market, d, players, bids);
      ops.postReading.push(...post);
      const settleGas = await settleAll(clock, market, d, players);
      ops.settle = Math.round(settleGas / n);
      [ops.withdraw] = await inBlocks(clock, [() => call(players[0].wallet, market.withdraw.populateTransaction(10n ** 15n), 300_000)]);
      const totalCycle = sum(gas.commit) + sum(gas.reveal) + total + sum(post) + settleGas;
      cycle = { bids: n, participants: n, totalGas: totalCycle, cyclePerParticipant: Math.round(totalCycle / n), settleBatch: SETTLE_BATCH };
    }
    d = Number(await market.currentInterval()) + 2;
  }
  clearing.sort((a, b) => a.bids - b.bids);
  return {
    network: network.name,
    hardfork: String((network.config as { hardfork?: string }).hardfork ?? ""),
    clearStepsPerTransaction: DEFAULT_CLEAR_STEPS,
    operations: {
      commit: median(ops.commit),
      reveal: median(ops.reveal),
      postReading: median(ops.postReading),
      settle: ops.settle,
      withdraw: ops.withdraw,
    },
    clearing,
    cycle,
    targets: { gasPerBidAt1000: 30_000, maxTxGas: 10_000_000, cyclePerParticipant: 250_000 },
  };
}

/** Half sellers, half buyers, prices that cross: asks 0.40-0.80, bids 0.50-0.90 ×10^-3 ether/kWh. */
function randomBook(players: Trader[], rand: () => number): ModelBid[] {
  return players.map((p, i) => {
    const side = i % 2 === 0 ? "sell" : "buy";
    const lo = side === "sell" ? 400_000 : 500_000;
    return {
      id: Number(p.id),
      side,
      green: p.green,
      energyWh: BigInt(100 + Math.floor(rand() * 1900)),
      priceWeiPerKWh: BigInt(lo + Math.floor(rand() * 400_000)) * 10n ** 9n,
    };
  });
}

/** Commit and reveal a book (hints from an off-chain copy of the sorted books). */
async function runBook(clock: InProcessClock, market: EnergyMarket, d: number, players: Trader[], bids: ModelBid[]) {
  const view = await market.intervalOf(d);
  await clock.until(view.commitStart);
  const { chainId } = await market.runner!.provider!.getNetwork();
  const address = await market.getAddress();
  const sealed: SealedBid[] = bids.map((b) => ({
    interval: d,
    side: b.side === "sell" ? Side.Sell : Side.Buy,
    energyWh: b.energyWh,
    priceWeiPerKWh: b.priceWeiPerKWh,
    salt: newSalt(),
  }));
  const commit = await inBlocks(
    clock,
    sealed.map((s, i) => () => call(players[i].wallet, market.commitBid.populateTransaction(d, commitmentOf(chainId, address, players[i].address, s)), 300_000)),
  );
  await clock.until(view.revealStart);
  const book = new HintBook();
  const hints = sealed.map((s, i) => book.add(players[i].id, s.side, players[i].green, s.priceWeiPerKWh));
  const reveal = await inBlocks(
    clock,
    sealed.map((s, i) => () => call(players[i].wallet, market.revealBid.populateTransaction(d, s.side, s.energyWh, s.priceWeiPerKWh, s.salt, hints[i]), 500_000)),
  );
  await clock.until(view.revealEnd);
  return { commit, reveal };
}

async function clearAll(market: EnergyMarket, d: number) {
  const receipts = [];
  for (;;) {
    const r = await (await market.clear(d, DEFAULT_CLEAR_STEPS)).wait();
    receipts.push(r!);
    if (Number((await market.intervalOf(d)).stage) === STAGE_DONE) return receipts;
  }
}

/** Registers at the end of d-1 (unchanged since binding) and of d (the interval's reading, the one measured). */
async function postReadings(clock: InProcessClock, market: EnergyMarket, d: number, players: Trader[], bids: ModelBid[]) {
  const [start, len] = await market.schedule();
  await clock.until(start + BigInt(d) * len);
  await inBlocks(clock, players.map((p) => () => call(p.meter, market.postReading.populateTransaction(p.number, d - 1, REGISTERS, REGISTERS), 300_000)));
  await clock.until(start + BigInt(d + 1) * len);
  return inBlocks(
    clock,
    players.map((p, i) => () => {
      const b = bids[i];
      const delivered = (b.energyWh * 9n) / 10n; // a 10 % forecast error
      const imp = b.side === "buy" ? REGISTERS + delivered : REGISTERS;
      const exp = b.side === "sell" ? REGISTERS + delivered : REGISTERS;
      return call(p.meter, market.postReading.populateTransaction(p.number, d, imp, exp), 300_000);
    }),
  );
}

/** Settle interval d (measured), after settling the empty intervals since each meter was bound. */
async function settleAll(clock: InProcessClock, market: EnergyMarket, d: number, players: Trader[]) {
  const view = await market.intervalOf(d);
  const [, , , , , grace] = await market.schedule();
  await clock.until(view.settleStart + grace);
  const next = await Promise.all(players.map(async (p) => Number((await market.settlementOf(p.id)).nextInterval)));
  for (let k = Math.min(...next); k < d; k++) {
    if (Number((await market.intervalOf(k)).stage) !== STAGE_DONE) await (await market.clear(k, 1)).wait();
    const due = players.filter((_, i) => next[i] <= k).map((p) => p.id);
    for (let i = 0; i < due.length; i += SETTLE_BATCH) await (await market.settle(k, due.slice(i, i + SETTLE_BATCH))).wait();
  }
  let total = 0;
  for (let i = 0; i < players.length; i += SETTLE_BATCH) {
    const ids = players.slice(i, i + SETTLE_BATCH).map((p) => p.id);
    const r = await (await market.settle(d, ids)).wait();
    total += Number(r!.gasUsed);
  }
  return total;
}

/** Send a batch in full blocks and return each transaction's gas. */
async function inBlocks(clock: InProcessClock, calls: (() => Promise<Call>)[]): Promise<number[]> {
  return (await clock.sendAll(await Promise.all(calls.map((c) => c())))).map((r) => Number(r.gasUsed));
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

export function formatGasBench(b: GasBench): string {
  const o = b.operations;
  const rows = [
    "operation            gas",
    `commit        ${o.commit.toLocaleString("en").padStart(12)}`,
    `reveal        ${o.reveal.toLocaleString("en").padStart(12)}`,
    `postReading   ${o.postReading.toLocaleString("en").padStart(12)}`,
    `settle/part.  ${o.settle.toLocaleString("en").padStart(12)}   (batches of ${b.cycle.settleBatch})`,
    `withdraw      ${o.withdraw.toLocaleString("en").padStart(12)}`,
    "",
    "bids   trades   clearing total   max tx gas   txs   gas/bid",
    ...b.clearing.map(
      (c) =>
        `${String(c.bids).padStart(4)} ${String(c.trades).padStart(8)} ${c.totalGas.toLocaleString("en").padStart(16)} ${c.maxTxGas
          .toLocaleString("en")
          .padStart(12)} ${String(c.transactions).padStart(5)} ${c.gasPerBid.toLocaleString("en").padStart(9)}`,
    ),
    "",
    `whole interval of ${b.cycle.bids} bids: ${b.cycle.totalGas.toLocaleString("en")} gas, ${b.cycle.cyclePerParticipant.toLocaleString("en")} per participant`,
    `targets: clearing <= ${b.targets.gasPerBidAt1000.toLocaleString("en")} gas/bid at 1000, tx <= ${b.targets.maxTxGas.toLocaleString("en")}, interval <= ${b.targets.cyclePerParticipant.toLocaleString("en")}/participant`,
  ];
  return rows.join("\n");
}
