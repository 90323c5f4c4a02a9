/**
 * The gas benchmark behind `npx hardhat bench:gas`. Participants only sign: registrations, meter
 * acceptances, commits and readings are carried in batches of 100 by the operator (the relayer),
 * reveals too (an opening needs no signature). Books: half sellers, half buyers, a third green, random
 * prices that cross. The largest book up to 1000 bids is run through whole intervals (commit, reveal,
 * clear, readings, settle) five times, so that each participant's four ring slots of bids and
 * readings are in use and the fifth interval, the one measured, shows the steady state; 20 of its
 * participants send their commit, reveal and reading themselves, for the direct figures. The other
 * book sizes are committed, revealed and cleared only.
 */
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { Signer, Wallet, keccak256, toBeHex } from "ethers";
import { EnergyMarket } from "../../typechain-types";
import { DEFAULT_CLEAR_STEPS, HintBook, STAGE_DONE, PAPER_PARAMS, SealedBid, Side, commitmentOf, deployMarket, newMeter, newSalt, scheduleFor } from "../../lib/market";
import { ModelBid } from "../../lib/model";
import { marketDomain, signAcceptance, signCommit, signReading, signRegistration, signWithdrawal } from "../../lib/signed";
import { Call, InProcessClock, call } from "../../lib/chain";
import { rng } from "../../test/shared/random";

const INTERVAL = 900;
/** Entries per relayed batch and participants per settle call. */
const BATCH = 100;
/** Participants of the measured interval that send their own transactions. */
const DIRECT = 20;
/** Whole intervals run before the measured one (a participant's ring has four slots). */
const WARM_UP = 4;
const RATED_POWER_W = 100_000;

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
  /** Entries per relayed batch, participants per settle call. */
  batch: number;
  operations: {
    commit: number;
    reveal: number;
    postReading: number;
    settle: number;
    withdraw: number;
    relayedCommit: number;
    relayedReveal: number;
    relayedReading: number;
    relayedRegistration: number;
    relayedWithdrawal: number;
  };
  /** Relayed commit + relayed reveal + clearing per bid, at 1000 bids. */
  placePlusClearPerOrder: number;
  clearing: ClearingGas[];
  cycle: { bids: number; participants: number; totalGas: number; cyclePerParticipant: number; settleBatch: number };
  targets: { relayedEntry: number; settle: number; clearingPerBidAt1000: number; placePlusClearPerOrder: number; cyclePerParticipant: number; maxTxGas: number };
}

interface Trader {
  id: bigint;
  green: boolean;
  wallet: Wallet;
  meter: Wallet;
  number: bigint;
  importWh: bigint;
  exportWh: bigint;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : 0;
};
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const chunks = <T>(xs: T[], size = BATCH): T[][] => Array.from({ length: Math.ceil(xs.length / size) }, (_, i) => xs.slice(i * size, (i + 1) * size));

export async function runGasBench(hre: HardhatRuntimeEnvironment, counts: number[], seed: number, log: (m: string) => void): Promise<GasBench> {
  const { ethers, network } = hre;
  const clock = new InProcessClock(network.provider);
  const [operator] = await ethers.getSigners();
  const rand = rng(seed).next;
  const now = BigInt((await ethers.provider.getBlock("latest"))!.timestamp);
  const market = await deployMarket(operator, scheduleFor(INTERVAL, now - (now % BigInt(INTERVAL))), PAPER_PARAMS);
  const domain = marketDomain((await ethers.provider.getNetwork()).chainId, await market.getAddress());
  await (await market.registerGrid(operator.address, "grid")).wait();
  await (await market.deposit({ value: 10n ** 21n })).wait();
  await (await market.fundPool({ value: 10n ** 20n })).wait();
  const op = operator;

  const maxBids = Math.max(...counts);
  log(`registering ${maxBids} participants (signed, relayed in batches of ${BATCH}), meters accepted by signature …`);
  const traders: Trader[] = [];
  for (let i = 0; i < maxBids; i++) {
    const key = keccak256(toBeHex(seed * 1_000_003 + i, 32));
    traders.push({
      id: 0n,
      green: i % 3 === 0,
      wallet: new Wallet(key, ethers.provider),
      meter: new Wallet(keccak256(key), ethers.provider),
      number: 300000000000n + BigInt(i),
      importWh: 0n,
      exportWh: 0n,
    });
  }
  const registrations = await Promise.all(traders.map((t, i) => signRegistration(t.wallet, domain, `bench-${i}`, t.green)));
  const registered = await inBlocks(clock, chunks(registrations).map((batch) => () => call(op, market.registerBatch.populateTransaction(batch), 30_000_000)));
  for (const t of traders) t.id = await market.idOf(t.wallet.address);
  await inBlocks(
    clock,
    traders.flatMap((t) => [
      () => call(op, market.authorize.populateTransaction(t.id, true), 300_000),
      () => call(op, market.depositFor.populateTransaction(t.id, { value: 10n ** 18n }), 300_000),
      () => call(op, market.proposeMeter.populateTransaction(t.id, newMeter(t.number, t.meter.address, RATED_POWER_W)), 400_000),
    ]),
  );
  await inBlocks(
    clock,
    traders.map((t) => async () => {
      const [proposal] = await market.meterProposalOf(t.id);
      const { r, vs } = await signAcceptance(t.wallet, domain, { participant: t.id, proposal });
      return call(op, market.acceptMeterFor.populateTransaction(t.id, proposal, r, vs), 400_000);
    }),
  );

  const cycleCount = Math.max(...counts.filter((c) => c <= 1000));
  const players = traders.slice(0, cycleCount);
  const direct = players.slice(0, DIRECT);
  for (const t of [...direct, ...direct.map((p) => ({ wallet: p.meter }))]) await clock.fund(t.wallet.address, 10n ** 20n);
  const ops = { commit: 0, reveal: 0, postReading: 0, settle: 0, withdraw: 0, relayedCommit: 0, relayedReveal: 0, relayedReading: 0, relayedRegistration: 0, relayedWithdrawal: 0 };
  ops.relayedRegistration = Math.round(sum(registered) / maxBids);
  const clearing: ClearingGas[] = [];
  let cycle = { bids: cycleCount, participants: cycleCount, totalGas: 0, cyclePerParticipant: 0, settleBatch: BATCH };
  let d = Number(await market.currentInterval()) + 2;
  for (let round = 0; round <= WARM_UP; round++) {
    const measured = round === WARM_UP;
    log(`interval ${d}: ${cycleCount} bids, whole cycle${measured ? " (measured)" : ` (warm-up ${round + 1} of ${WARM_UP})`} …`);
    const bids = randomBook(players, rand);
    const placed = await placeBook(clock, op, market, domain, d, players, bids, measured ? direct : []);
    const cleared = await clearAll(market, d);
    const readings = await postReadings(clock, op, market, domain, d, players, bids, measured ? direct : []);
    const settled = await settleAll(clock, market, d, players);
    if (measured) {
      const relayed = cycleCount - DIRECT;
      ops.relayedCommit = Math.round(sum(placed.commitBatches) / relayed);
      ops.relayedReveal = Math.round(sum(placed.revealBatches) / relayed);
      ops.relayedReading = Math.round(sum(readings.batches) / relayed);
      ops.commit = median(placed.directCommits);
      ops.reveal = median(placed.directReveals);
      ops.postReading = median(readings.direct);
      ops.settle = Math.round(settled / cycleCount);
      clearing.push(clearingOf(cycleCount, Number((await market.intervalOf(d)).trades), cleared));
      const perBid = clearing[0].gasPerBid;
      cycle = {
        bids: cycleCount,
        participants: cycleCount,
        totalGas: sum(placed.commitBatches) + sum(placed.revealBatches) + sum(placed.directCommits) + sum(placed.directReveals) + sum(cleared) + sum(readings.batches) + sum(readings.direct) + settled,
        cyclePerParticipant: ops.relayedCommit + ops.relayedReveal + perBid + ops.relayedReading + ops.settle,
        settleBatch: BATCH,
      };
    }
    d = Number(await market.currentInterval()) + 2;
  }
  const p0 = direct[0];
  [ops.withdraw] = await inBlocks(clock, [() => call(p0.wallet, market.withdraw.populateTransaction(10n ** 15n), 300_000)]);
  const w = await signWithdrawal(players[DIRECT].wallet, domain, { participant: players[DIRECT].id, amount: 10n ** 15n, nonce: 0 });
  [ops.relayedWithdrawal] = await inBlocks(clock, [() => call(op, market.withdrawFor.populateTransaction(players[DIRECT].id, 10n ** 15n, 0, w.r, w.vs), 300_000)]);

  for (const n of counts.filter((c) => c !== cycleCount)) {
    log(`interval ${d}: ${n} bids, cleared only …`);
    const book = traders.slice(0, n);
    await placeBook(clock, op, market, domain, d, book, randomBook(book, rand), []);
    const gas = await clearAll(market, d);
    clearing.push(clearingOf(n, Number((await market.intervalOf(d)).trades), gas));
    d = Number(await market.currentInterval()) + 2;
  }
  clearing.sort((a, b) => a.bids - b.bids);
  const at1000 = clearing.find((c) => c.bids === 1000) ?? clearing[clearing.length - 1];
  return {
    network: network.name,
    hardfork: String((network.config as { hardfork?: string }).hardfork ?? ""),
    clearStepsPerTransaction: DEFAULT_CLEAR_STEPS,
    batch: BATCH,
    operations: ops,
    placePlusClearPerOrder: ops.relayedCommit + ops.relayedReveal + at1000.gasPerBid,
    clearing,
    cycle,
    targets: { relayedEntry: 25_000, settle: 20_000, clearingPerBidAt1000: 15_695, placePlusClearPerOrder: 60_000, cyclePerParticipant: 110_000, maxTxGas: 10_000_000 },
  };
}

function clearingOf(bids: number, trades: number, gas: number[]): ClearingGas {
  const total = sum(gas);
  return { bids, trades, totalGas: total, maxTxGas: Math.max(...gas), transactions: gas.length, gasPerBid: Math.round(total / bids) };
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

/**
 * Commit and reveal a book: signed commits and openings in batches (openings in book order, each
 * hinted by the one before it in its book), and `direct` participants' own transactions.
 */
async function placeBook(
  clock: InProcessClock,
  relayer: Signer,
  market: EnergyMarket,
  domain: ReturnType<typeof marketDomain>,
  d: number,
  players: Trader[],
  bids: ModelBid[],
  direct: Trader[],
) {
  const view = await market.intervalOf(d);
  await clock.until(view.commitStart);
  const chainId = BigInt(domain.chainId!);
  const address = String(domain.verifyingContract);
  const sealed: SealedBid[] = bids.map((b) => ({ interval: d, side: b.side === "sell" ? Side.Sell : Side.Buy, energyWh: b.energyWh, priceWeiPerKWh: b.priceWeiPerKWh, salt: newSalt() }));
  const isDirect = new Set(direct.map((p) => p.id));
  const relayed = players.map((p, i) => ({ p, s: sealed[i] })).filter((x) => !isDirect.has(x.p.id));
  const signed = await Promise.all(relayed.map(({ p, s }) => signCommit(p.wallet, domain, { participant: p.id, interval: d, commitment: commitmentOf(chainId, address, p.wallet.address, s) })));
  const commitBatches = await inBlocks(clock, chunks(signed).map((batch) => () => call(relayer, market.commitBatch.populateTransaction(d, batch), 30_000_000)));
  const directCommits = await inBlocks(
    clock,
    players.map((p, i) => ({ p, i })).filter(({ p }) => isDirect.has(p.id)).map(({ p, i }) => () => call(p.wallet, market.commitBid.populateTransaction(d, commitmentOf(chainId, address, p.wallet.address, sealed[i])), 300_000)),
  );
  await clock.until(view.revealStart);
  const book = new HintBook();
  const order = players.map((p, i) => ({ p, s: sealed[i] })).sort((a, b) => {
    if (a.s.side !== b.s.side) return a.s.side - b.s.side;
    if (a.s.priceWeiPerKWh !== b.s.priceWeiPerKWh) return (a.s.side === Side.Sell ? a.s.priceWeiPerKWh < b.s.priceWeiPerKWh : a.s.priceWeiPerKWh > b.s.priceWeiPerKWh) ? -1 : 1;
    return a.p.id < b.p.id ? -1 : 1;
  });
  // Hints follow insertion: the relayed openings go in first, in book order, then the direct ones.
  const hinted = [...order.filter(({ p }) => !isDirect.has(p.id)), ...order.filter(({ p }) => isDirect.has(p.id))];
  const openings = hinted.map(({ p, s }) => ({ p, s, hint: book.add(p.id, s.side, p.green, s.priceWeiPerKWh) }));
  const revealBatches = await inBlocks(
    clock,
    chunks(openings.filter((o) => !isDirect.has(o.p.id))).map((batch) => () =>
      call(relayer, market.revealBatch.populateTransaction(d, batch.map(({ p, s, hint }) => ({ participant: p.id, side: s.side, energyWh: s.energyWh, priceWeiPerKWh: s.priceWeiPerKWh, salt: s.salt, hintPrevId: hint }))), 30_000_000),
    ),
  );
  const directReveals = await inBlocks(
    clock,
    openings.filter((o) => isDirect.has(o.p.id)).map(({ p, s, hint }) => () => call(p.wallet, market.revealBid.populateTransaction(d, s.side, s.energyWh, s.priceWeiPerKWh, s.salt, hint), 500_000)),
  );
  await clock.until(view.revealEnd);
  return { commitBatches, revealBatches, directCommits, directReveals };
}

async function clearAll(market: EnergyMarket, d: number): Promise<number[]> {
  const gas: number[] = [];
  for (;;) {
    const r = await (await market.clear(d, DEFAULT_CLEAR_STEPS)).wait();
    gas.push(Number(r!.gasUsed));
    if (Number((await market.intervalOf(d)).stage) === STAGE_DONE) return gas;
  }
}

/**
 * Readings of every interval since each meter's last one, up to `d` (the measured one: each meter
 * delivers 90 % of its bid), signed by the meters and carried in batches; `direct` meters post their own.
 */
async function postReadings(clock: InProcessClock, relayer: Signer, market: EnergyMarket, domain: ReturnType<typeof marketDomain>, d: number, players: Trader[], bids: ModelBid[], direct: Trader[]) {
  const [start, len] = await market.schedule();
  await clock.until(start + BigInt(d + 1) * len);
  const isDirect = new Set(direct.map((p) => p.id));
  const last = Number((await market.meterOf(players[0].id)).lastInterval);
  const from = (await market.meterOf(players[0].id)).hasReading ? last + 1 : Number((await market.settlementOf(players[0].id)).nextInterval);
  for (let k = from; k < d; k++) {
    const before = await Promise.all(players.map((p) => signReading(p.meter, domain, { meterNumber: p.number, interval: k, importWh: p.importWh, exportWh: p.exportWh })));
    await inBlocks(clock, chunks(before).map((batch) => () => call(relayer, market.postReadings.populateTransaction(batch), 30_000_000)));
  }
  players.forEach((p, i) => {
    const delivered = (bids[i].energyWh * 9n) / 10n; // a 10 % forecast error
    if (bids[i].side === "buy") p.importWh += delivered;
    else p.exportWh += delivered;
  });
  const signed = await Promise.all(players.filter((p) => !isDirect.has(p.id)).map((p) => signReading(p.meter, domain, { meterNumber: p.number, interval: d, importWh: p.importWh, exportWh: p.exportWh })));
  const batches = await inBlocks(clock, chunks(signed).map((batch) => () => call(relayer, market.postReadings.populateTransaction(batch), 30_000_000)));
  const own = await inBlocks(clock, direct.map((p) => () => call(p.meter, market.postReading.populateTransaction(p.number, d, p.importWh, p.exportWh), 300_000)));
  return { batches, direct: own };
}

/** Settle interval d (measured), after settling the intervals since each participant's last settlement. */
async function settleAll(clock: InProcessClock, market: EnergyMarket, d: number, players: Trader[]) {
  const view = await market.intervalOf(d);
  const [, , , , , grace] = await market.schedule();
  await clock.until(view.settleStart + grace);
  const next = await Promise.all(players.map(async (p) => Number((await market.settlementOf(p.id)).nextInterval)));
  for (let k = Math.min(...next); k < d; k++) {
    if (Number((await market.intervalOf(k)).stage) !== STAGE_DONE) await (await market.clear(k, 1)).wait();
    const due = players.filter((_, i) => next[i] <= k).map((p) => p.id);
    for (const ids of chunks(due)) await (await market.settle(k, ids)).wait();
  }
  let total = 0;
  for (const batch of chunks(players)) {
    const r = await (await market.settle(d, batch.map((p) => p.id))).wait();
    total += Number(r!.gasUsed);
  }
  return total;
}

/** Send calls in full blocks and return each transaction's gas. */
async function inBlocks(clock: InProcessClock, calls: (() => Promise<Call>)[]): Promise<number[]> {
  return (await clock.sendAll(await Promise.all(calls.map((c) => c())))).map((r) => Number(r.gasUsed));
}

export function formatGasBench(b: GasBench): string {
  const o = b.operations;
  const t = b.targets;
  const row = (name: string, gas: number, note = "") => `${name.padEnd(34)}${gas.toLocaleString("en").padStart(10)}${note ? `   ${note}` : ""}`;
  return [
    `gas per operation (batches of ${b.batch}, steady state)`,
    row("relayed commit, per entry", o.relayedCommit, `target ${t.relayedEntry.toLocaleString("en")}`),
    row("relayed reveal, per entry", o.relayedReveal, `target ${t.relayedEntry.toLocaleString("en")}`),
    row("relayed reading, per entry", o.relayedReading, `target ${t.relayedEntry.toLocaleString("en")}`),
    row("settle, per participant", o.settle, `target ${t.settle.toLocaleString("en")}`),
    row("relayed registration, per entry", o.relayedRegistration),
    row("relayed withdrawal", o.relayedWithdrawal),
    row("direct commit", o.commit),
    row("direct reveal", o.reveal),
    row("direct reading", o.postReading),
    row("direct withdrawal", o.withdraw),
    "",
    "bids   trades   clearing total   max tx gas   txs   gas/bid",
    ...b.clearing.map(
      (c) =>
        `${String(c.bids).padStart(4)} ${String(c.trades).padStart(8)} ${c.totalGas.toLocaleString("en").padStart(16)} ${c.maxTxGas
          .toLocaleString("en")
          .padStart(12)} ${String(c.transactions).padStart(5)} ${c.gasPerBid.toLocaleString("en").padStart(9)}`,
    ),
    "",
    row("placing and clearing one order", b.placePlusClearPerOrder, `commit + reveal + clearing per bid at 1000 bids; target ${t.placePlusClearPerOrder.toLocaleString("en")}`),
    row(`whole interval, per participant`, b.cycle.cyclePerParticipant, `${b.cycle.participants} participants; target ${t.cyclePerParticipant.toLocaleString("en")}`),
  ].join("\n");
}
