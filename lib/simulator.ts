/**
 * The scenario engine behind `npx hardhat simulate`: deploys a fresh market, registers and funds the
 * scenario's participants, binds a meter account to each prosumer (the operator proposes it, the
 * prosumer accepts it once its deposit covers the meter's security), then runs every interval through
 * the real contract (commit, reveal, clear, cumulative meter registers through the meter accounts,
 * settle) on a timeline of phase times, and reads the results back from the contract's events.
 * The same engine runs on the in-process network (block time moved forward) and on a real node
 * (wall-clock time); results are identical because nothing in them depends on timing.
 */
import { Signer, Wallet, id as keccakText } from "ethers";
import { EnergyMarket } from "../typechain-types";
import { Call, ChainClock, Mined, TransactionFailed, call } from "./chain";
import { HintBook, STAGE_DONE, SealedBid, Side, commitmentOf, deployMarket, newMeter, newSalt, readSchedule, DEFAULT_CLEAR_STEPS } from "./market";
import { ratedEnergyOf, securityOf } from "./model";
import { Scenario, ScenarioBid, ScenarioError, ScenarioParticipant, marketParams, marketSchedule } from "./scenario";
import { GasFigures, IntervalResult, ParticipantIntervalResult, SimulationResult, Trade } from "./result";
import { etherToWei, weiToEther, whToKWh } from "./units";
import { readHistory } from "./history";
import { explainRevert } from "./errors";

const SETTLE_BATCH = 100;

export interface SimulationOptions {
  clock: ChainClock;
  operator: Signer;
  /** Called after each interval is settled. */
  onProgress?: (done: number, total: number) => void;
}

interface Member {
  spec: ScenarioParticipant;
  id: bigint;
  signer: Wallet;
  address: string;
  meter?: { signer: Wallet; address: string; number: bigint; ratedPowerW: bigint; importWh: bigint; exportWh: bigint };
}


/** Gas used, summed per kind of transaction. */
class GasLedger {
  readonly totals = new Map<string, { gas: number; count: number }>();
  add(kind: string, receipts: Mined[]) {
    const t = this.totals.get(kind) ?? { gas: 0, count: 0 };
    for (const r of receipts) t.gas += Number(r.gasUsed);
    t.count += receipts.length;
    this.totals.set(kind, t);
  }
  sum(kinds: string[]) {
    return kinds.reduce((a, k) => a + (this.totals.get(k)?.gas ?? 0), 0);
  }
}

export async function simulate(scenario: Scenario, o: SimulationOptions): Promise<SimulationResult> {
  const { clock } = o;
  const gas = new GasLedger();
  const m = scenario.market;
  const now = await clock.now();
  const interval = BigInt(m.intervalSeconds);
  const market = await deployMarket(o.operator, marketSchedule(m, now - (now % interval)), marketParams(m));
  const operator = o.operator;
  const members = await enroll(scenario, market, operator, clock, gas);
  const byName = new Map(members.map((x) => [x.spec.name, x]));
  const prosumers = members.filter((x) => x.meter);
  const grid = members.find((x) => x.spec.grid);
  const { chainId } = await market.runner!.provider!.getNetwork();
  const address = await market.getAddress();

  const first = Number(await market.currentInterval()) + 2;
  const rejected = new Map<number, { participant: string; reason: string }[]>();
  const gridBid = new Set<number>();
  let settledThrough = Math.min(...(await Promise.all(prosumers.map(async (p) => Number((await market.settlementOf(p.id)).nextInterval))))) - 1;

  const deliver = (j: number) => first + j;
  const at = async (d: number) => market.intervalOf(d);

  // The timeline: trading of interval j+1 overlaps delivery of j and settlement of j-1.
  type Step = { time: bigint; order: number; what: string; run: () => Promise<void> };
  const steps: Step[] = [];
  const [start] = await market.schedule();
  const startOf = (d: number) => start + BigInt(d) * interval;
  for (const [j, spec] of scenario.intervals.entries()) {
    const d = deliver(j);
    const view = await at(d);
    const sealed = new Map<string, SealedBid>();
    const what = (step: string) => `interval "${spec.label}" (${step})`;
    steps.push({ time: view.commitStart, order: 0, what: what("commits"), run: () => commitAll(d, spec.bids, sealed) });
    steps.push({ time: view.revealStart, order: 1, what: what("reveals"), run: () => revealAll(d, spec.bids, sealed) });
    steps.push({ time: view.revealEnd, order: 2, what: what("clearing"), run: () => clearInterval(d) });
    steps.push({
      time: startOf(d + 1),
      order: 3,
      what: what("meter readings"),
      run: async () => {
        for (const p of prosumers) {
          const e = spec.metered.get(p.spec.name);
          p.meter!.importWh += e?.importWh ?? 0n;
          p.meter!.exportWh += e?.exportWh ?? 0n;
        }
        await postReadings(d);
      },
    });
    steps.push({ time: view.settleStart, order: 4, what: what("settlement"), run: () => settleThrough(d, j) });
  }
  // Intervals from the meters' binding to the first traded one have no bids and no readings: each is
  // cleared and settled once its grace period is over, at its own time, so none of them is caught
  // up later in a step that would push the next windows' commits and reveals past their close.
  const [, , , , , grace] = await market.schedule();
  for (let k = settledThrough + 1; k < first; k++) {
    steps.push({ time: (await at(k)).settleStart + grace, order: 4, what: `interval ${k}, before the first traded one (settlement)`, run: () => settleThrough(k) });
  }
  steps.sort((a, b) => (a.time === b.time ? a.order - b.order : a.time < b.time ? -1 : 1));
  const names = (id: number) => members.find((x) => x.id === BigInt(id))?.spec.name;
  const schedule = await readSchedule(market);
  const inWords = (revert: { name: string; args: readonly unknown[] }) => explainRevert(revert, { name: names, schedule });
  for (const step of steps) {
    await clock.until(step.time);
    try {
      await step.run();
    } catch (e) {
      // the market refused the scenario's data (e.g. a reading above the meter's rated power)
      if (e instanceof TransactionFailed) {
        // a batch mined after its window closed: the node's blocks are slower than the windows are long
        const hint = e.revert?.name === "WrongPhase" ? ` The batch was mined after its window closed: give market.commitSeconds and market.revealSeconds a few seconds more than the node's block time.` : "";
        throw new ScenarioError(`${step.what}: the market refused ${e.who ?? "a transaction"}: ${e.revert ? inWords(e.revert) : e.message}${hint}`);
      }
      throw e;
    }
  }
  return collect();

  // ------------------------------------------------------------------ steps

  async function commitAll(d: number, bids: ScenarioBid[], sealed: Map<string, SealedBid>) {
    const calls: Call[] = [];
    for (const b of bids) {
      const who = byName.get(b.participant)!;
      const s: SealedBid = { interval: d, side: b.side === "sell" ? Side.Sell : Side.Buy, energyWh: b.energyWh, priceWeiPerKWh: b.priceWeiPerKWh, salt: newSalt() };
      const c = commitmentOf(chainId, address, who.address, s);
      const commit = await call(who.signer, market.commitBid.populateTransaction(d, c), 200_000, `${who.spec.name}'s commit`);
      const refused = await clock.refusal(commit);
      if (refused) {
        reject(d, who, inWords(refused));
        continue;
      }
      sealed.set(b.participant, s);
      if (who.spec.grid) gridBid.add(d);
      calls.push(commit);
    }
    gas.add("commit", await clock.sendAll(calls));
  }

  async function revealAll(d: number, bids: ScenarioBid[], sealed: Map<string, SealedBid>) {
    const hints = new HintBook();
    const calls: Call[] = [];
    for (const b of bids) {
      const s = sealed.get(b.participant);
      if (!s) continue;
      const who = byName.get(b.participant)!;
      const reveal = (hint: bigint) => [d, s.side, s.energyWh, s.priceWeiPerKWh, s.salt, hint] as const;
      const refused = await clock.refusal(await call(who.signer, market.revealBid.populateTransaction(...reveal(0n)), 400_000));
      if (refused) {
        reject(d, who, inWords(refused));
        continue;
      }
      const hint = hints.add(who.id, s.side, who.spec.green, s.priceWeiPerKWh);
      calls.push(await call(who.signer, market.revealBid.populateTransaction(...reveal(hint)), 400_000, `${who.spec.name}'s reveal`));
    }
    gas.add("reveal", await clock.sendAll(calls));
  }

  /** Clear `d` to the end; an interval before the first traded one counts as part of closing it. */
  async function clearInterval(d: number) {
    while (Number((await at(d)).stage) !== STAGE_DONE) {
      gas.add(d < first ? "settleBeforeFirst" : "clear", await clock.sendAll([await call(operator, market.clear.populateTransaction(d, DEFAULT_CLEAR_STEPS), 12_000_000, "the operator's clearing")]));
    }
  }

  async function postReadings(d: number) {
    const m = (p: Member) => p.meter!;
    const calls = await Promise.all(
      prosumers.map((p) => call(m(p).signer, market.postReading.populateTransaction(m(p).number, d, m(p).importWh, m(p).exportWh), 200_000, `${p.spec.name}'s meter reading`)),
    );
    gas.add("postReading", await clock.sendAll(calls));
  }

  /**
   * Settle every interval up to `d` not settled yet. An interval before the first traded one has no
   * bids and no readings (the first reading carries the registers' difference from the opening
   * registers, zero here): it settles once its grace period is over. `j`: the scenario's interval, for
   * the progress report.
   */
  async function settleThrough(d: number, j?: number) {
    for (let k = settledThrough + 1; k <= d; k++) {
      const view = await at(k);
      if (Number(view.stage) !== STAGE_DONE) await clearInterval(k);
      const missing = await Promise.all(prosumers.map(async (p) => !(await market.readingOf(p.id, k)).posted));
      await clock.until(missing.some(Boolean) ? view.settleStart + grace : view.settleStart);
      const ids = prosumers.map((p) => p.id);
      if (grid && gridBid.has(k)) ids.push(grid.id);
      const calls: Call[] = [];
      for (let i = 0; i < ids.length; i += SETTLE_BATCH) {
        const batch = ids.slice(i, i + SETTLE_BATCH);
        calls.push(await call(operator, market.settle.populateTransaction(k, batch), 200_000 + 80_000 * batch.length, "the operator's settlement"));
      }
      gas.add(k < first ? "settleBeforeFirst" : "settle", await clock.sendAll(calls));
    }
    settledThrough = d;
    if (j !== undefined) o.onProgress?.(j + 1, scenario.intervals.length);
  }

  function reject(d: number, who: Member, reason: string) {
    const list = rejected.get(d) ?? [];
    list.push({ participant: who.spec.name, reason });
    rejected.set(d, list);
  }

  // ------------------------------------------------------------------ results

  async function collect(): Promise<SimulationResult> {
    const history = await readHistory(market, 0, {});
    const intervals: IntervalResult[] = [];
    for (const [j, spec] of scenario.intervals.entries()) {
      const d = deliver(j);
      const trades: Trade[] = history.trades
        .filter((t) => t.interval === d)
        .map(({ stage, seller, buyer, energyKWh, priceEtherPerKWh, amountEther }) => ({ stage, seller, buyer, energyKWh, priceEtherPerKWh, amountEther }));
      const participants: Record<string, ParticipantIntervalResult> = {};
      for (const s of history.settlements.filter((x) => x.interval === d)) {
        const { declaredKWh, clearedKWh, actualKWh, balancingEther, rewardEther, penaltyEther, incentiveEther } = s;
        participants[s.participant] = { declaredKWh, clearedKWh, actualKWh, balancingEther, rewardEther, penaltyEther, incentiveEther };
      }
      intervals.push({
        label: spec.label,
        averagePriceEtherPerKWh: weiToEther((await at(d)).averagePriceWeiPerKWh),
        trades,
        bids: spec.bids
          .filter((b) => !(rejected.get(d) ?? []).some((r) => r.participant === b.participant))
          .map((b) => ({ participant: b.participant, side: b.side, energyKWh: whToKWh(b.energyWh), priceEtherPerKWh: weiToEther(b.priceWeiPerKWh) })),
        rejectedBids: rejected.get(d) ?? [],
        participants,
      });
    }
    const wallets: Record<string, string> = {};
    const owed: Record<string, string> = {};
    for (const x of members) {
      const w = await market.walletOf(x.id);
      wallets[x.spec.name] = weiToEther(w.balance);
      owed[x.spec.name] = weiToEther(w.owed);
    }
    return {
      market: {
        intervalSeconds: m.intervalSeconds,
        commitSeconds: m.commitSeconds,
        revealSeconds: m.revealSeconds,
        balancingShortRatio: m.balancingShortRatio,
        balancingLongRatio: m.balancingLongRatio,
        rewardRatio: m.rewardRatio,
        penaltyRatio: m.penaltyRatio,
        marginEther: m.marginEther,
        referencePriceEtherPerKWh: m.referencePriceEtherPerKWh,
        incentivePoolEther: m.incentivePoolEther,
        cnyPerEther: m.cnyPerEther,
      },
      participants: members.map((x) => ({ name: x.spec.name, green: x.spec.green, grid: x.spec.grid })),
      intervals,
      wallets,
      incentivePoolEther: weiToEther((await market.pool()).balance),
      owed,
      gas: gasFigures(),
    };
  }

  function gasFigures(): GasFigures {
    const kinds: GasFigures = {};
    for (const [k, t] of gas.totals) kinds[k] = { total: t.gas, transactions: t.count };
    const cycle = gas.sum(["commit", "reveal", "clear", "postReading", "settle"]);
    return {
      ...kinds,
      perParticipantPerInterval: Math.round(cycle / Math.max(1, prosumers.length) / scenario.intervals.length),
    };
  }
}

/**
 * The rated power a prosumer's meter is bound with: the scenario's (given, or sized from its metered
 * flows: lib/scenario defaultRatedPowerW), raised where one of its bids is larger than the meter's rated
 * energy per interval (rated power × interval length), which the contract refuses (QuantityTooLarge).
 */
export function meterRatingW(spec: ScenarioParticipant, scenario: Scenario): bigint {
  const seconds = BigInt(scenario.market.intervalSeconds);
  let largestBidWh = 0n;
  for (const iv of scenario.intervals) {
    for (const b of iv.bids) if (b.participant === spec.name && b.energyWh > largestBidWh) largestBidWh = b.energyWh;
  }
  const needed = (largestBidWh * 3600n + seconds - 1n) / seconds;
  return needed > spec.ratedPowerW ? needed : spec.ratedPowerW;
}

/**
 * Register, authorize and fund every participant, then bind each prosumer's meter (meter accounts get
 * their own keys): the operator proposes it and the prosumer accepts it, its deposit being in its
 * wallet already; a deposit short of the meter's security is the scenario's error.
 */
async function enroll(scenario: Scenario, market: EnergyMarket, operator: Signer, clock: ChainClock, gas: GasLedger): Promise<Member[]> {
  const provider = market.runner!.provider!;
  const members: Member[] = [];
  for (const [i, spec] of scenario.participants.entries()) {
    const wallet = new Wallet(keccakText(`grid-ledger/simulation/participant/${i}`), provider);
    await clock.fund(wallet.address, spec.depositWei + etherToWei("10"));
    const member: Member = { spec, id: 0n, signer: wallet, address: wallet.address };
    if (!spec.grid) {
      const meter = new Wallet(keccakText(`grid-ledger/simulation/meter/${i}`), provider);
      await clock.fund(meter.address, etherToWei("10"));
      member.meter = { signer: meter, address: meter.address, number: 100000000001n + BigInt(i), ratedPowerW: meterRatingW(spec, scenario), importWh: 0n, exportWh: 0n };
    }
    members.push(member);
  }
  const register = await Promise.all(
    members.map((x) =>
      x.spec.grid
        ? call(operator, market.registerGrid.populateTransaction(x.address, x.spec.name), 300_000)
        : call(x.signer, market.register.populateTransaction(x.spec.name, x.spec.green), 300_000),
    ),
  );
  gas.add("register", await clock.sendAll(register));
  for (const x of members) x.id = await market.idOf(x.address);
  const setup: Call[] = [];
  for (const x of members) {
    if (x.meter) {
      setup.push(await call(operator, market.authorize.populateTransaction(x.id, true), 200_000));
      setup.push(await call(operator, market.proposeMeter.populateTransaction(x.id, newMeter(x.meter.number, x.meter.address, x.meter.ratedPowerW)), 300_000));
    }
    if (x.spec.depositWei > 0n) setup.push(await call(x.signer, market.deposit.populateTransaction({ value: x.spec.depositWei }), 200_000));
  }
  const pool = etherToWei(scenario.market.incentivePoolEther);
  if (pool > 0n) setup.push(await call(operator, market.fundPool.populateTransaction({ value: pool }), 200_000));
  gas.add("setup", await clock.sendAll(setup));
  const accept: Call[] = [];
  for (const [i, x] of members.entries()) {
    if (!x.meter) continue;
    const [proposal] = await market.meterProposalOf(x.id);
    const acceptance = await call(x.signer, market.acceptMeter.populateTransaction(proposal), 300_000);
    const refused = await clock.refusal(acceptance);
    if (refused) {
      const why = refused.name === "InsufficientFunds" ? securityNote(scenario, x.meter.ratedPowerW) : explainRevert(refused, { name: (id) => members.find((m) => m.id === BigInt(id))?.spec.name });
      throw new ScenarioError(`participants[${i}] ("${x.spec.name}"): its meter cannot be bound: ${why}`);
    }
    accept.push(acceptance);
  }
  gas.add("setup", await clock.sendAll(accept));
  return members;
}

/** What a bound meter keeps in its prosumer's wallet, in the scenario's words. */
function securityNote(scenario: Scenario, ratedPowerW: bigint): string {
  const p = marketParams(scenario.market);
  const security = securityOf(ratedEnergyOf(ratedPowerW, scenario.market.intervalSeconds), { capPriceWeiPerKWh: BigInt(p.capPriceWeiPerKWh), shortRatioPpm: BigInt(p.shortRatioPpm), penaltyRatioPpm: BigInt(p.penaltyRatioPpm) });
  const kW = whToKWh(ratedPowerW); // W -> kW, the same factor as Wh -> kWh
  return `depositEther must cover the security of its ${kW} kW meter, ${weiToEther(security)} ether (two intervals of its rated energy short at the cap price)`;
}
