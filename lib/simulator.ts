/**
 * The scenario engine behind `npx hardhat simulate`: deploys a fresh market, registers and funds the
 * scenario's participants, binds a meter account to each prosumer, then runs every interval through
 * the real contract (commit, reveal, clear, cumulative meter registers through the meter accounts,
 * settle) on a timeline of phase times, and reads the results back from the contract's events.
 * The same engine runs on the in-process network (block time moved forward) and on a real node
 * (wall-clock time); results are identical because nothing in them depends on timing.
 */
import { ContractTransactionResponse, NonceManager, Overrides, Signer, TransactionReceipt, Wallet, id as keccakText } from "ethers";
import { EnergyMarket } from "../typechain-types";
import { ChainClock, TransactionFailed } from "./chain";
import { HintBook, SealedBid, Side, commitmentOf, decodeRevert, deployMarket, newSalt, DEFAULT_CLEAR_STEPS } from "./market";
import { Scenario, ScenarioBid, ScenarioError, ScenarioParticipant, marketParams, marketSchedule } from "./scenario";
import { GasFigures, IntervalResult, ParticipantIntervalResult, SimulationResult, Trade } from "./result";
import { etherToWei, weiToEther, whToKWh } from "./units";

const SETTLE_BATCH = 100;
const STAGE_DONE = 4;
const STAGE_NAMES: Record<number, "green" | "all"> = { 1: "green", 2: "all" };

export interface SimulationOptions {
  clock: ChainClock;
  operator: Signer;
  /** Called after each interval is settled. */
  onProgress?: (done: number, total: number) => void;
}

interface Member {
  spec: ScenarioParticipant;
  id: bigint;
  signer: NonceManager;
  address: string;
  meter?: { signer: NonceManager; address: string; number: bigint; importWh: bigint; exportWh: bigint };
}

type Send = () => Promise<ContractTransactionResponse>;
type TxOverrides = (gasLimit: number, more?: Overrides) => Overrides;

/** Gas used, summed per kind of transaction. */
class GasLedger {
  readonly totals = new Map<string, { gas: number; count: number }>();
  add(kind: string, receipts: TransactionReceipt[]) {
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
  const operator = new NonceManager(o.operator);
  // Fee fields of the current batch (see ChainClock.fees), merged into every transaction's overrides.
  let fee: Overrides = await clock.fees();
  const tx: TxOverrides = (gasLimit, more = {}) => ({ gasLimit, ...fee, ...more });
  const members = await enroll(scenario, market, operator, clock, gas, tx);
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
    if (j === 0) steps.push({ time: startOf(d), order: 3, what: what("initial meter readings"), run: () => postReadings(d - 1) });
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
  steps.sort((a, b) => (a.time === b.time ? a.order - b.order : a.time < b.time ? -1 : 1));
  for (const step of steps) {
    await clock.until(step.time);
    fee = await clock.fees();
    try {
      await step.run();
    } catch (e) {
      // the market refused the scenario's data (e.g. a reading above the meter's rated power)
      if (e instanceof TransactionFailed) throw new ScenarioError(`${step.what}: ${e.message}`);
      throw e;
    }
  }
  return collect();

  // ------------------------------------------------------------------ steps

  async function commitAll(d: number, bids: ScenarioBid[], sealed: Map<string, SealedBid>) {
    const sends: Send[] = [];
    for (const b of bids) {
      const who = byName.get(b.participant)!;
      const s: SealedBid = { interval: d, side: b.side === "sell" ? Side.Sell : Side.Buy, energyWh: b.energyWh, priceWeiPerKWh: b.priceWeiPerKWh, salt: newSalt() };
      const c = commitmentOf(chainId, address, who.address, s);
      const reason = await rejection(() => market.connect(who.signer).commitBid.staticCall(d, c));
      if (reason) {
        reject(d, who, reason);
        continue;
      }
      sealed.set(b.participant, s);
      if (who.spec.grid) gridBid.add(d);
      sends.push(() => market.connect(who.signer).commitBid(d, c, tx(200_000)));
    }
    gas.add("commit", await clock.sendAll(sends));
  }

  async function revealAll(d: number, bids: ScenarioBid[], sealed: Map<string, SealedBid>) {
    const hints = new HintBook();
    const sends: Send[] = [];
    for (const b of bids) {
      const s = sealed.get(b.participant);
      if (!s) continue;
      const who = byName.get(b.participant)!;
      const reveal = (hint: bigint) => [d, s.side, s.energyWh, s.priceWeiPerKWh, s.salt, hint] as const;
      const reason = await rejection(() => market.connect(who.signer).revealBid.staticCall(...reveal(0n)));
      if (reason) {
        reject(d, who, reason);
        continue;
      }
      const hint = hints.add(who.id, s.side, who.spec.green, s.priceWeiPerKWh);
      sends.push(() => market.connect(who.signer).revealBid(...reveal(hint), tx(400_000)));
    }
    gas.add("reveal", await clock.sendAll(sends));
  }

  async function clearInterval(d: number) {
    while (Number((await at(d)).stage) !== STAGE_DONE) {
      gas.add("clear", await clock.sendAll([() => market.connect(operator).clear(d, DEFAULT_CLEAR_STEPS, tx(12_000_000))]));
    }
  }

  async function postReadings(d: number) {
    const sends = prosumers.map((p) => () => market.connect(p.meter!.signer).postReading(p.meter!.number, d, p.meter!.importWh, p.meter!.exportWh, tx(200_000)));
    gas.add("postReading", await clock.sendAll(sends));
  }

  /** Settle every interval up to `d` (the first call also settles the empty ones since binding). */
  async function settleThrough(d: number, j: number) {
    for (let k = settledThrough + 1; k <= d; k++) {
      const view = await at(k);
      const [, , , , , grace] = await market.schedule();
      if (Number(view.stage) !== STAGE_DONE) await clearInterval(k);
      const missing = await Promise.all(prosumers.map(async (p) => !(await market.readingOf(p.id, k)).posted));
      await clock.until(missing.some(Boolean) ? view.settleStart + grace : view.settleStart);
      const ids = prosumers.map((p) => p.id);
      if (grid && gridBid.has(k)) ids.push(grid.id);
      const sends: Send[] = [];
      for (let i = 0; i < ids.length; i += SETTLE_BATCH) {
        const batch = ids.slice(i, i + SETTLE_BATCH);
        sends.push(() => market.connect(operator).settle(k, batch, tx(200_000 + 80_000 * batch.length)));
      }
      gas.add(k < first ? "settleBeforeFirst" : "settle", await clock.sendAll(sends));
    }
    settledThrough = d;
    o.onProgress?.(j + 1, scenario.intervals.length);
  }

  function reject(d: number, who: Member, reason: string) {
    const list = rejected.get(d) ?? [];
    list.push({ participant: who.spec.name, reason });
    rejected.set(d, list);
  }

  /** The market's custom error if the call would revert, else undefined. */
  async function rejection(call: () => Promise<unknown>): Promise<string | undefined> {
    try {
      await call();
      return undefined;
    } catch (e) {
      const revert = decodeRevert(e);
      if (revert) return revert.name;
      throw e;
    }
  }

  // ------------------------------------------------------------------ results

  async function collect(): Promise<SimulationResult> {
    const nameOf = new Map(members.map((x) => [x.id, x.spec.name]));
    const tradeLogs = await market.queryFilter(market.filters.TradeMatched());
    const settledLogs = await market.queryFilter(market.filters.ParticipantSettled());
    const intervals: IntervalResult[] = [];
    for (const [j, spec] of scenario.intervals.entries()) {
      const d = deliver(j);
      const trades: Trade[] = tradeLogs
        .filter((l) => Number(l.args.interval) === d)
        .map((l) => ({
          stage: STAGE_NAMES[Number(l.args.stage)],
          seller: nameOf.get(l.args.sellerId)!,
          buyer: nameOf.get(l.args.buyerId)!,
          energyKWh: whToKWh(l.args.energyWh),
          priceEtherPerKWh: weiToEther(l.args.priceWeiPerKWh),
          amountEther: weiToEther(l.args.amountWei),
        }));
      const participants: Record<string, ParticipantIntervalResult> = {};
      for (const l of settledLogs.filter((x) => Number(x.args.interval) === d)) {
        participants[nameOf.get(l.args.id)!] = {
          declaredKWh: whToKWh(l.args.declaredWh),
          clearedKWh: whToKWh(l.args.clearedWh),
          actualKWh: whToKWh(l.args.actualWh),
          balancingEther: weiToEther(l.args.balancingWei),
          rewardEther: weiToEther(l.args.rewardWei),
          penaltyEther: weiToEther(l.args.penaltyWei),
          incentiveEther: weiToEther(l.args.incentiveWei),
        };
      }
      intervals.push({
        label: spec.label,
        averagePriceEtherPerKWh: weiToEther((await at(d)).averagePriceWeiPerKWh),
        trades,
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

/** Register, authorize, bind meters and fund every participant (meter accounts get their own keys). */
async function enroll(
  scenario: Scenario,
  market: EnergyMarket,
  operator: NonceManager,
  clock: ChainClock,
  gas: GasLedger,
  tx: TxOverrides,
): Promise<Member[]> {
  const provider = market.runner!.provider!;
  const members: Member[] = [];
  for (const [i, spec] of scenario.participants.entries()) {
    const wallet = new Wallet(keccakText(`grid-ledger/simulation/participant/${i}`), provider);
    await clock.fund(wallet.address, spec.depositWei + etherToWei("10"));
    const member: Member = { spec, id: 0n, signer: new NonceManager(wallet), address: wallet.address };
    if (!spec.grid) {
      const meter = new Wallet(keccakText(`grid-ledger/simulation/meter/${i}`), provider);
      await clock.fund(meter.address, etherToWei("10"));
      member.meter = { signer: new NonceManager(meter), address: meter.address, number: 100000000001n + BigInt(i), importWh: 0n, exportWh: 0n };
    }
    members.push(member);
  }
  const register = members.map((x) =>
    x.spec.grid
      ? () => market.connect(operator).registerGrid(x.address, x.spec.name, tx(300_000))
      : () => market.connect(x.signer).register(x.spec.name, x.spec.green, tx(300_000)),
  );
  gas.add("register", await clock.sendAll(register));
  for (const x of members) x.id = await market.idOf(x.address);
  const setup: Send[] = [];
  for (const x of members) {
    if (x.meter) {
      setup.push(() => market.connect(operator).authorize(x.id, true, tx(200_000)));
      setup.push(() => market.connect(operator).bindMeter(x.id, x.meter!.number, x.meter!.address, x.spec.ratedPowerW, tx(300_000)));
    }
    if (x.spec.depositWei > 0n) setup.push(() => market.connect(x.signer).deposit(tx(200_000, { value: x.spec.depositWei })));
  }
  const pool = etherToWei(scenario.market.incentivePoolEther);
  if (pool > 0n) setup.push(() => market.connect(operator).fundPool(tx(200_000, { value: pool })));
  gas.add("setup", await clock.sendAll(setup));
  return members;
}
