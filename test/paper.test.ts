/**
 * The paper's worked numbers (section 3.2, Table 1), to its three decimals.
 */
import { expect } from "chai";
import { EnergyMarket } from "../typechain-types";
import { Actor, buy, milli, kwh, paperFixture, placeBids, sell, settleThrough, toStart, loadFixture } from "./shared/fixtures";
import { clearUntilDone } from "../lib/market";

const STAGE = ["NotStarted", "Green", "All", "Release", "Done"];

/** Round wei per kWh (or wei) to the paper's 10^-3 ether with three decimals. */
const paper = (wei: bigint): string => (Number(wei) / 1e15).toFixed(3);

async function tradesOf(market: EnergyMarket, d: number, names: Map<bigint, string>) {
  const logs = await market.queryFilter(market.filters.TradeMatched(d));
  return logs.map((l) => ({
    stage: STAGE[Number(l.args.stage)],
    seller: names.get(l.args.sellerId),
    buyer: names.get(l.args.buyerId),
    kWh: (Number(l.args.energyWh) / 1000).toFixed(2),
    price: paper(l.args.priceWeiPerKWh),
  }));
}

async function settledOf(market: EnergyMarket, d: number, id: bigint) {
  const [log] = await market.queryFilter(market.filters.ParticipantSettled(d, id));
  return log.args;
}

/** Post every actor's registers at the end of interval `d`. */
async function postRegisters(market: EnergyMarket, d: number, registers: Map<Actor, { imp: bigint; exp: bigint }>) {
  await toStart(market, d + 1);
  for (const [actor, r] of registers) await market.connect(actor.meter).postReading(actor.meterNumber, d, r.imp, r.exp);
}

describe("the paper's worked numbers", function () {
  async function names() {
    const f = await loadFixture(paperFixture);
    const map = new Map<bigint, string>(Object.values(f.actors).map((a) => [a.id, a.name]));
    return { ...f, names: map };
  }

  it("03:00 clears Table 1's trades 1-3 (supply 1.53, demand 1.04)", async function () {
    const { market, actors, names: n } = await names();
    const { wind, controllable, ev, conventional } = actors;
    const d = 2;
    await placeBids(market, d, [
      sell(wind, kwh("0.84"), milli("0.504")),
      buy(ev, kwh("0.94"), milli("0.560")),
      sell(controllable, kwh("0.69"), milli("0.408")),
      buy(conventional, kwh("0.10"), milli("0.568")),
    ]);
    await clearUntilDone(market, d);
    const trades = await tradesOf(market, d, n);
    expect(trades).to.have.deep.members([
      { stage: "Green", seller: "wind", buyer: "ev", kWh: "0.84", price: "0.532" },
      { stage: "All", seller: "controllable", buyer: "ev", kWh: "0.10", price: "0.484" },
      { stage: "All", seller: "controllable", buyer: "conventional", kWh: "0.10", price: "0.488" },
    ]);
    expect(trades).to.have.length(3);
  });

  it("14:00 clears trades 4-6 at an average of 0.757, balances the conventional load's 0.85 kWh shortfall at 0.708 and nets its incentive to 0.003", async function () {
    const { market, actors, names: n, gridId } = await names();
    const { wind, controllable, ev, conventional } = actors;
    const d = 2;
    const registers = new Map<Actor, { imp: bigint; exp: bigint }>([
      [wind, { imp: 0n, exp: 1_000n }],
      [controllable, { imp: 0n, exp: 2_000n }],
      [ev, { imp: 3_000n, exp: 0n }],
      [conventional, { imp: 4_000n, exp: 0n }],
    ]);
    await placeBids(market, d, [
      sell(wind, kwh("0.43"), milli("0.700")),
      buy(ev, kwh("0.25"), milli("0.786")),
      sell(controllable, kwh("0.12"), milli("0.734")),
      buy(conventional, kwh("1.02"), milli("0.824")),
    ]);
    await clearUntilDone(market, d);
    await postRegisters(market, d - 1, registers);
    expect(await tradesOf(market, d, n)).to.have.deep.members([
      { stage: "Green", seller: "wind", buyer: "ev", kWh: "0.25", price: "0.743" },
      { stage: "All", seller: "wind", buyer: "conventional", kWh: "0.18", price: "0.762" },
      { stage: "All", seller: "controllable", buyer: "conventional", kWh: "0.12", price: "0.779" },
    ]);
    expect(paper((await market.intervalOf(d)).averagePriceWeiPerKWh)).to.equal("0.757");

    registers.get(wind)!.exp += kwh("0.43");
    registers.get(controllable)!.exp += kwh("0.12");
    registers.get(ev)!.imp += kwh("0.25");
    registers.get(conventional)!.imp += kwh("1.15");
    await postRegisters(market, d, registers);
    await settleThrough(market, d - 1, [wind.id, controllable.id, ev.id, conventional.id]);
    const gridBefore = (await market.walletOf(gridId)).balance;
    await settleThrough(market, d, [conventional.id]);

    const s = await settledOf(market, d, conventional.id);
    expect(s.declaredWh).to.equal(-1020n);
    expect(s.clearedWh).to.equal(-300n);
    expect(s.actualWh).to.equal(-1150n);
    expect(paper(-s.balancingWei)).to.equal("0.708");
    expect(paper(s.rewardWei)).to.equal("0.008");
    expect(paper((s.rewardWei - s.incentiveWei))).to.equal("0.005");
    expect(paper(s.incentiveWei)).to.equal("0.003");
    // the shortfall payment went to the grid
    expect((await market.walletOf(gridId)).balance - gridBefore).to.equal(-s.balancingWei);
  });

  it("18:30 pays the conventional load 0.052 for being long by 0.08 kWh at A = 0.723", async function () {
    const { market, actors, gridId } = await names();
    const { wind, controllable, ev, conventional } = actors;
    const d = 2;
    const registers = new Map<Actor, { imp: bigint; exp: bigint }>([
      [wind, { imp: 0n, exp: 0n }],
      [controllable, { imp: 0n, exp: 0n }],
      [ev, { imp: 0n, exp: 0n }],
      [conventional, { imp: 0n, exp: 0n }],
    ]);
    await placeBids(market, d, [
      sell(wind, kwh("0.30"), milli("0.700")),
      buy(ev, kwh("0.30"), milli("0.746")),
      sell(controllable, kwh("0.60"), milli("0.700")),
      buy(conventional, kwh("0.60"), milli("0.746")),
    ]);
    await clearUntilDone(market, d);
    await postRegisters(market, d - 1, registers);
    expect(paper((await market.intervalOf(d)).averagePriceWeiPerKWh)).to.equal("0.723");
    registers.get(wind)!.exp += kwh("0.30");
    registers.get(controllable)!.exp += kwh("0.60");
    registers.get(ev)!.imp += kwh("0.30");
    registers.get(conventional)!.imp += kwh("0.52");
    await postRegisters(market, d, registers);
    await settleThrough(market, d - 1, [wind.id, controllable.id, ev.id, conventional.id]);
    const gridBefore = (await market.walletOf(gridId)).balance;
    await settleThrough(market, d, [wind.id, controllable.id, ev.id, conventional.id]);
    const s = await settledOf(market, d, conventional.id);
    expect(s.actualWh - s.clearedWh).to.equal(80n);
    expect(paper(s.balancingWei)).to.equal("0.052");
    expect(gridBefore - (await market.walletOf(gridId)).balance).to.equal(s.balancingWei);
  });
});
