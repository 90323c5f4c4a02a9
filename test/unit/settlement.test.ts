/**
 * Settlement: phase checks, entries skipped with EntrySkipped (order, duplicates, pending readings,
 * nothing to settle), missing readings, the grid's own bid, balancing and incentive figures, the
 * unwind premium of an undelivered sale, the reward of an unmarketable bid, and locked sale funds.
 */
import { expect } from "chai";
import { EnergyMarket } from "../../typechain-types";
import { ETH, buy, paperFixture, placeBids, sell, settleThrough, toClearing, toGraceOver, toSettlement, loadFixture } from "../shared/fixtures";
import { clearUntilDone } from "../../lib/market";
import { MARGIN, PHASE, SECURITY, collateralOf, costOf, expectConserved, noGridFixture, postAt, skipReason, skipsOf, snapshot, toGwei, valueOf } from "./helpers";

const D = 2;
const P = 10n ** 12n;

async function settledOf(market: EnergyMarket, d: number, id: bigint) {
  const logs = await market.queryFilter(market.filters.ParticipantSettled(d, id));
  expect(logs).to.have.length(1);
  return logs[0].args;
}

describe("settlement", function () {
  it("reverts WrongPhase before clearing is done and before the settlement window opens", async function () {
    const { market, actors } = await loadFixture(paperFixture);
    const { wind } = actors;
    await toClearing(market, D);
    await expect(market.settle(D, [wind.id])).to.be.revertedWithCustomError(market, "WrongPhase").withArgs(D, PHASE.Clearing);
    await clearUntilDone(market, D);
    await expect(market.settle(D, [wind.id])).to.be.revertedWithCustomError(market, "WrongPhase").withArgs(D, PHASE.Delivery);
    expect((await market.settlementOf(wind.id)).nextInterval).to.equal(1);
  });

  it("reverts GridNotRegistered while there is no grid", async function () {
    const { market, actors } = await loadFixture(noGridFixture);
    const { solo } = actors;
    await postAt(market, solo, 1, 0n, 0n);
    await clearUntilDone(market, 1);
    await toSettlement(market, 1);
    const before = await snapshot(market);
    await expect(market.settle(1, [solo.id])).to.be.revertedWithCustomError(market, "GridNotRegistered").withArgs();
    expect(await snapshot(market)).to.deep.equal(before);
    expect((await market.settlementOf(solo.id)).nextInterval).to.equal(1);
  });

  it("skips (EntrySkipped NothingToSettle) a participant without meter or bid, an unknown ID, and the grid without a bid, settling the rest", async function () {
    const { market, signers, gridId, actors } = await loadFixture(paperFixture);
    const { wind } = actors;
    await market.connect(signers[6]).register("meterless", false);
    const id = await market.idOf(signers[6].address);
    await toClearing(market, 1);
    await clearUntilDone(market, 1);
    await toGraceOver(market, 1);
    const tx = market.settle(1, [id, 99, gridId, wind.id]);
    await expect(tx)
      .to.emit(market, "EntrySkipped")
      .withArgs(1, id, 0, skipReason(market, "NothingToSettle", [id]))
      .and.to.emit(market, "EntrySkipped")
      .withArgs(1, 99, 1, skipReason(market, "NothingToSettle", [99]))
      .and.to.emit(market, "EntrySkipped")
      .withArgs(1, gridId, 2, skipReason(market, "NothingToSettle", [gridId]))
      .and.to.emit(market, "ParticipantSettled")
      .withArgs(1, wind.id, 0, 0, 0, 0, 0, 0, true);
    expect((await skipsOf(market, tx)).map((x) => x.error)).to.deep.equal(["NothingToSettle", "NothingToSettle", "NothingToSettle"]);
    expect((await market.settlementOf(id)).nextInterval).to.equal(0);
  });

  it("settles each participant once and in interval order: a batch skips the others (AlreadySettled, SettleOutOfOrder) and settles the rest", async function () {
    const { market, actors } = await loadFixture(paperFixture);
    const { wind, ev } = actors;
    for (const a of [wind, ev]) {
      await postAt(market, a, 1, 0n, 0n);
      await postAt(market, a, 2, 0n, 0n);
    }
    await clearUntilDone(market, 1);
    await clearUntilDone(market, 2);
    await toSettlement(market, 2);
    const before = await snapshot(market);
    await expect(market.settle(2, [wind.id]))
      .to.emit(market, "EntrySkipped")
      .withArgs(2, wind.id, 0, skipReason(market, "SettleOutOfOrder", [2, 1]))
      .and.not.to.emit(market, "ParticipantSettled");
    expect(await snapshot(market)).to.deep.equal(before);
    await market.settle(1, [wind.id]);
    expect((await market.settlementOf(wind.id)).nextInterval).to.equal(2);
    // someone settled wind first: the batch skips it and still settles ev (a front-run costs nothing)
    const tx = market.settle(1, [wind.id, ev.id]);
    await expect(tx)
      .to.emit(market, "EntrySkipped")
      .withArgs(1, wind.id, 0, skipReason(market, "AlreadySettled", [1, wind.id]))
      .and.to.emit(market, "ParticipantSettled")
      .withArgs(1, ev.id, 0, 0, 0, 0, 0, 0, false);
    expect(await skipsOf(market, tx)).to.have.length(1);
    expect((await market.settlementOf(ev.id)).nextInterval).to.equal(2);
    await market.settle(2, [wind.id, ev.id]);
    expect((await market.settlementOf(ev.id)).nextInterval).to.equal(3);
    expect(await market.queryFilter(market.filters.ParticipantSettled(1, wind.id))).to.have.length(1);
  });

  it("skips with ReadingPending before the grace period; afterwards the missing reading settles as zero energy", async function () {
    const { market, actors } = await loadFixture(paperFixture);
    const { wind, ev } = actors;
    await postAt(market, ev, 1, 0n, 0n);
    await clearUntilDone(market, 1);
    await toSettlement(market, 1);
    await expect(market.settle(1, [wind.id, ev.id]))
      .to.emit(market, "EntrySkipped")
      .withArgs(1, wind.id, 0, skipReason(market, "ReadingPending", [1, wind.id]))
      .and.to.emit(market, "ParticipantSettled")
      .withArgs(1, ev.id, 0, 0, 0, 0, 0, 0, false);
    expect((await market.settlementOf(wind.id)).nextInterval).to.equal(1);
    await toGraceOver(market, 1);
    await expect(market.settle(1, [wind.id]))
      .to.emit(market, "ParticipantSettled")
      .withArgs(1, wind.id, 0, 0, 0, 0, 0, 0, true);
    expect((await market.settlementOf(wind.id)).nextInterval).to.equal(2);
  });

  it("a missing reading is carried by the next one: the energy settled equals the register difference", async function () {
    const { market, actors } = await loadFixture(paperFixture);
    const { wind } = actors;
    await postAt(market, wind, 1, 100n, 1100n); // +1000 net in interval 1, from the opening registers 0 / 0
    // interval 2: no reading; interval 3: registers at 400 / 4400
    await postAt(market, wind, 3, 400n, 4400n);
    await settleThrough(market, 3, [wind.id]);
    const s = await Promise.all([1, 2, 3].map((d) => settledOf(market, d, wind.id)));
    expect(s.map((x) => x.readingMissing)).to.deep.equal([false, true, false]);
    expect(s.map((x) => x.actualWh)).to.deep.equal([1000n, 0n, 3000n]);
    expect(s.reduce((sum, x) => sum + x.actualWh, 0n)).to.equal(4400n - 400n);
    const m = await market.meterOf(wind.id);
    expect([m.lastInterval, m.importWh, m.exportWh]).to.deep.equal([3n, 400n, 4400n]);
  });

  it("energy from the opening registers on is settled from the binding interval: no reading is a mere baseline", async function () {
    // Bound at interval 0 (serving from 1) with registers 0 / 0: the end of interval 1 is missing, the end
    // of interval 2 is in. Over intervals 1-2 the registers moved by +2000 Wh net, so 2000 Wh are settled.
    const { market, actors } = await loadFixture(paperFixture);
    const { wind } = actors;
    await postAt(market, wind, 2, 0n, 2000n);
    await settleThrough(market, 2, [wind.id]);
    const s = await Promise.all([1, 2].map((d) => settledOf(market, d, wind.id)));
    expect(s.map((x) => x.readingMissing)).to.deep.equal([true, false]);
    expect(s.map((x) => x.actualWh)).to.deep.equal([0n, 2000n]);
  });

  it("closes the grid's own bid once (EntrySkipped AlreadySettled the second time), without balancing it", async function () {
    const { market, actors, gridSigner, gridId } = await loadFixture(paperFixture);
    const { conventional } = actors;
    const gridAsActor = { ...conventional, name: "grid", id: gridId, signer: gridSigner, green: false };
    await placeBids(market, D, [sell(gridAsActor, 500n, 600n * P), buy(conventional, 500n, 600n * P)]);
    await clearUntilDone(market, D);
    await toSettlement(market, D);
    // the grid's sale proceeds are locked like anyone's until its bid is settled
    const proceeds = toGwei(costOf(500n, 600n * P));
    const before = await market.walletOf(gridId);
    expect([before.locked, before.withdrawable]).to.deep.equal([proceeds, before.balance - proceeds]);
    await expect(market.settle(D, [gridId]))
      .to.emit(market, "ParticipantSettled")
      .withArgs(D, gridId, 500n, 500n, 0n, 0n, 0n, 0n, false);
    const after = await market.walletOf(gridId);
    expect([after.balance, after.locked, after.withdrawable]).to.deep.equal([before.balance, 0n, before.balance]);
    expect((await market.bidOf(D, gridId)).closed).to.equal(true);
    await expect(market.settle(D, [gridId]))
      .to.emit(market, "EntrySkipped")
      .withArgs(D, gridId, 0, skipReason(market, "AlreadySettled", [D, gridId]))
      .and.not.to.emit(market, "ParticipantSettled");
    expect(await market.walletOf(gridId)).to.deep.equal(after);
  });

  it("balances deviations against the grid (W' = 1.1 short, W'' = 0.9 long) and pays reward net of penalty", async function () {
    const { market, actors, gridId } = await loadFixture(paperFixture);
    const { wind, ev, conventional } = actors;
    await placeBids(market, D, [sell(wind, 1000n, 600n * P), buy(ev, 600n, 800n * P)]);
    await clearUntilDone(market, D);
    const A = 700n * P;
    expect((await market.intervalOf(D)).averagePriceWeiPerKWh).to.equal(A);
    for (const a of [wind, ev, conventional]) await postAt(market, a, 1, 0n, 0n);
    await postAt(market, wind, D, 0n, 800n); // sold 600, delivered 800: long by 200
    await postAt(market, ev, D, 600n, 0n); // bought 600, took 600
    await postAt(market, conventional, D, 300n, 0n); // no bid, took 300: short by 300
    await settleThrough(market, 1, [wind.id, ev.id, conventional.id]);
    const w0 = await Promise.all([wind, ev, conventional].map((a) => market.walletOf(a.id)));
    const g0 = await market.walletOf(gridId);
    const [pool0] = await market.pool();
    await toSettlement(market, D);
    await market.settle(D, [wind.id, ev.id, conventional.id]);

    const sw = await settledOf(market, D, wind.id);
    const wind_ = {
      balancing: valueOf(200n, A, 900_000n),
      reward: valueOf(800n, A, 10_000n),
      penalty: valueOf(200n, A, 50_000n),
    };
    expect([sw.declaredWh, sw.clearedWh, sw.actualWh, sw.balancingWei, sw.rewardWei, (sw.rewardWei - sw.incentiveWei), sw.incentiveWei]).to.deep.equal([
      1000n,
      600n,
      800n,
      wind_.balancing,
      wind_.reward,
      wind_.penalty,
      wind_.reward - wind_.penalty,
    ]);
    const se = await settledOf(market, D, ev.id);
    const evReward = valueOf(600n, A, 10_000n);
    expect([se.declaredWh, se.clearedWh, se.actualWh, se.balancingWei, se.rewardWei, (se.rewardWei - se.incentiveWei)]).to.deep.equal([-600n, -600n, -600n, 0n, evReward, 0n]);
    const sc = await settledOf(market, D, conventional.id);
    const short = valueOf(300n, A, 1_100_000n);
    expect([sc.declaredWh, sc.clearedWh, sc.actualWh, sc.balancingWei, sc.rewardWei, (sc.rewardWei - sc.incentiveWei), sc.incentiveWei]).to.deep.equal([
      0n,
      0n,
      -300n,
      -short,
      0n,
      0n,
      0n,
    ]);
    const w1 = await Promise.all([wind, ev, conventional].map((a) => market.walletOf(a.id)));
    expect(w1[0].balance - w0[0].balance).to.equal(wind_.balancing + wind_.reward - wind_.penalty);
    expect(w1[1].balance - w0[1].balance).to.equal(evReward);
    expect(w0[2].balance - w1[2].balance).to.equal(short);
    expect((await market.walletOf(gridId)).balance - g0.balance).to.equal(short - wind_.balancing);
    expect(pool0 - (await market.pool())[0]).to.equal(wind_.reward - wind_.penalty + evReward);
    expect(w1[0].balance).to.be.lessThan(2n * ETH);
    await expectConserved(market);
  });

  it("a sale's collateral (from the reveal) and proceeds (from clearing) stay locked until the sale is settled, which pays its charges first", async function () {
    const { market, actors } = await loadFixture(paperFixture);
    const { wind, ev } = actors;
    await placeBids(market, D, [sell(wind, 1000n, 600n * P), buy(ev, 1000n, 800n * P)]);
    const collateral = collateralOf(1000n);
    let w = await market.walletOf(wind.id);
    expect([w.balance, w.locked, w.withdrawable]).to.deep.equal([ETH, collateral, ETH - collateral - MARGIN - SECURITY]);
    await clearUntilDone(market, D);
    const proceeds = toGwei(costOf(1000n, 700n * P));
    w = await market.walletOf(wind.id);
    // the buyer's payment is in the seller's wallet, and none of it can leave before settlement
    expect([w.balance, w.locked, w.withdrawable]).to.deep.equal([ETH + proceeds, collateral + proceeds, ETH - collateral - MARGIN - SECURITY]);
    await expect(market.connect(wind.signer).withdraw(w.withdrawable + 1n))
      .to.be.revertedWithCustomError(market, "InsufficientFunds")
      .withArgs(wind.id, w.withdrawable + 1n, w.withdrawable);
    await postAt(market, wind, D, 0n, 1000n);
    await settleThrough(market, D, [wind.id]);
    w = await market.walletOf(wind.id);
    const reward = valueOf(1000n, 700n * P, 10_000n);
    expect([w.balance, w.locked, w.withdrawable]).to.deep.equal([ETH + proceeds + reward, 0n, ETH + proceeds + reward - SECURITY]);
    await expectConserved(market);
  });

  it("a seller that delivers nothing pays the shortfall, the unwind premium and the penalty: it ends with less than it started", async function () {
    const { market, actors, gridId } = await loadFixture(paperFixture);
    const { wind, controllable, ev, conventional } = actors;
    // wind sells at 0.7 (green stage), controllable at 0.4: A = 0.55 (10^-3 ether/kWh)
    await placeBids(market, D, [sell(wind, 1000n, 400n * P), buy(ev, 1000n, 1000n * P), sell(controllable, 1000n, 300n * P), buy(conventional, 1000n, 500n * P)]);
    await clearUntilDone(market, D);
    const A = 550n * P;
    expect((await market.intervalOf(D)).balancingPriceWeiPerKWh).to.equal(A);
    const proceeds = toGwei(costOf(1000n, 700n * P));
    for (const a of [wind, controllable, ev, conventional]) await postAt(market, a, 1, 0n, 0n);
    await postAt(market, wind, D, 0n, 0n); // delivered nothing
    await settleThrough(market, 1, [wind.id]);
    const gridBefore = (await market.walletOf(gridId)).balance;
    await toSettlement(market, D);
    await market.settle(D, [wind.id]);
    const s = await settledOf(market, D, wind.id);
    // what the 1000 Wh sold earned above their value at A goes back, on top of W' × A
    const premium = proceeds - costOf(1000n, A);
    expect(premium).to.equal(150n * P);
    const short = valueOf(1000n, A, 1_100_000n) + premium;
    const penalty = valueOf(1000n, A, 50_000n);
    expect([s.declaredWh, s.clearedWh, s.actualWh, s.balancingWei, s.rewardWei, (s.rewardWei - s.incentiveWei)]).to.deep.equal([1000n, 1000n, 0n, -short, 0n, penalty]);
    expect((await market.walletOf(gridId)).balance - gridBefore).to.equal(short);
    const w = await market.walletOf(wind.id);
    expect(w.locked).to.equal(0n);
    // net over the whole sale: the buyer's payment in, shortfall, premium and penalty out
    expect(w.balance - ETH).to.equal(proceeds - short - penalty);
    expect(w.balance < ETH).to.equal(true);
    await expectConserved(market);
  });

  it("a seller at or below A that under-delivers pays the paper's W' × A only (no premium)", async function () {
    const { market, actors } = await loadFixture(paperFixture);
    const { wind, ev } = actors;
    await placeBids(market, D, [sell(wind, 1000n, 600n * P), buy(ev, 1000n, 800n * P)]);
    await clearUntilDone(market, D);
    const A = 700n * P; // the only trade's price: the proceeds are worth exactly A
    for (const a of [wind, ev]) await postAt(market, a, 1, 0n, 0n);
    await postAt(market, wind, D, 0n, 600n);
    await postAt(market, ev, D, 1000n, 0n);
    await settleThrough(market, D, [wind.id, ev.id]);
    const s = await settledOf(market, D, wind.id);
    expect(s.balancingWei).to.equal(-valueOf(400n, A, 1_100_000n));
  });

  it("the reward counts the declared energy only for a bid priced to trade at A; an unfillable bid earns nothing on it", async function () {
    const { market, actors } = await loadFixture(paperFixture);
    const { ev, conventional } = actors;
    // no seller: neither buy trades, A is the reference price 0.7; ev bid far below it, conventional above it
    await placeBids(market, D, [buy(ev, 1000n, 100n * P), buy(conventional, 1000n, 800n * P)]);
    await clearUntilDone(market, D);
    const A = 700n * P;
    expect((await market.intervalOf(D)).balancingPriceWeiPerKWh).to.equal(A);
    for (const a of [ev, conventional]) {
      await postAt(market, a, 1, 0n, 0n);
      await postAt(market, a, D, 1000n, 0n);
    }
    await settleThrough(market, D, [ev.id, conventional.id]);
    const short = valueOf(1000n, A, 1_100_000n);
    const e = await settledOf(market, D, ev.id);
    expect([e.declaredWh, e.clearedWh, e.actualWh, e.balancingWei, e.rewardWei, (e.rewardWei - e.incentiveWei)]).to.deep.equal([-1000n, 0n, -1000n, -short, 0n, 0n]);
    const c = await settledOf(market, D, conventional.id);
    expect([c.declaredWh, c.clearedWh, c.actualWh, c.balancingWei, c.rewardWei, (c.rewardWei - c.incentiveWei)]).to.deep.equal([-1000n, 0n, -1000n, -short, valueOf(1000n, A, 10_000n), 0n]);
  });

  it("balancing uses the banded price A: a trade above the cap settles at the cap", async function () {
    const { market, actors } = await loadFixture(paperFixture);
    const { wind, ev, conventional } = actors;
    const CAP = BigInt((await market.paramsAt(D)).capPriceWeiPerKWh);
    await placeBids(market, D, [sell(wind, 1000n, 2n * CAP), buy(ev, 1000n, 2n * CAP)]);
    await clearUntilDone(market, D);
    const v = await market.intervalOf(D);
    expect([v.averagePriceWeiPerKWh, v.balancingPriceWeiPerKWh]).to.deep.equal([2n * CAP, CAP]);
    for (const a of [wind, ev, conventional]) await postAt(market, a, 1, 0n, 0n);
    await postAt(market, wind, D, 0n, 1000n);
    await postAt(market, ev, D, 1000n, 0n);
    await postAt(market, conventional, D, 500n, 0n);
    await settleThrough(market, D, [wind.id, ev.id, conventional.id]);
    expect((await settledOf(market, D, conventional.id)).balancingWei).to.equal(-valueOf(500n, CAP, 1_100_000n));
    expect((await settledOf(market, D, wind.id)).rewardWei).to.equal(valueOf(1000n, CAP, 10_000n));
  });
});
