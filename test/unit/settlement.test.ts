/**
 * Settlement: phase and order checks, missing readings, the grid's own bid, balancing and incentive figures.
 */
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { EnergyMarket } from "../../typechain-types";
import { ETH, buy, paperFixture, placeBids, sell, settleThrough, toClearing, toGraceOver, toSettlement } from "../shared/fixtures";
import { clearUntilDone } from "../../lib/market";
import { PHASE, expectConserved, noGridFixture, postAt, snapshot, valueOf } from "./helpers";

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

  it("reverts NothingToSettle for a participant without meter or bid, for an unknown ID, and for the grid without a bid", async function () {
    const { market, signers, gridId } = await loadFixture(paperFixture);
    await market.connect(signers[6]).register("meterless", false);
    const id = await market.idOf(signers[6].address);
    await toClearing(market, 1);
    await clearUntilDone(market, 1);
    await toSettlement(market, 1);
    await expect(market.settle(1, [id])).to.be.revertedWithCustomError(market, "NothingToSettle").withArgs(id);
    await expect(market.settle(1, [99])).to.be.revertedWithCustomError(market, "NothingToSettle").withArgs(99);
    await expect(market.settle(1, [gridId])).to.be.revertedWithCustomError(market, "NothingToSettle").withArgs(gridId);
  });

  it("settles each participant once and in interval order (AlreadySettled, SettleOutOfOrder); a failing batch changes nothing", async function () {
    const { market, actors } = await loadFixture(paperFixture);
    const { wind, ev } = actors;
    for (const a of [wind, ev]) {
      await postAt(market, a, 1, 0n, 0n);
      await postAt(market, a, 2, 0n, 0n);
    }
    await clearUntilDone(market, 1);
    await clearUntilDone(market, 2);
    await toSettlement(market, 2);
    await expect(market.settle(2, [wind.id])).to.be.revertedWithCustomError(market, "SettleOutOfOrder").withArgs(2, 1);
    await market.settle(1, [wind.id]);
    expect((await market.settlementOf(wind.id)).nextInterval).to.equal(2);
    await expect(market.settle(1, [wind.id])).to.be.revertedWithCustomError(market, "AlreadySettled").withArgs(1, wind.id);
    // ev would settle, but the batch fails on wind: ev's cursor stays
    await expect(market.settle(1, [ev.id, wind.id])).to.be.revertedWithCustomError(market, "AlreadySettled").withArgs(1, wind.id);
    expect((await market.settlementOf(ev.id)).nextInterval).to.equal(1);
    await market.settle(1, [ev.id]);
    await market.settle(2, [wind.id, ev.id]);
    expect((await market.settlementOf(ev.id)).nextInterval).to.equal(3);
  });

  it("reverts ReadingPending before the grace period; afterwards the missing reading settles as zero energy", async function () {
    const { market, actors } = await loadFixture(paperFixture);
    const { wind } = actors;
    await postAt(market, wind, 0, 0n, 0n);
    await clearUntilDone(market, 1);
    await toSettlement(market, 1);
    await expect(market.settle(1, [wind.id])).to.be.revertedWithCustomError(market, "ReadingPending").withArgs(1, wind.id);
    expect((await market.settlementOf(wind.id)).nextInterval).to.equal(1);
    await toGraceOver(market, 1);
    await expect(market.settle(1, [wind.id]))
      .to.emit(market, "ParticipantSettled")
      .withArgs(1, wind.id, 0, 0, 0, 0, 0, 0, 0, true);
    expect((await market.settlementOf(wind.id)).nextInterval).to.equal(2);
  });

  it("a missing reading is carried by the next one: the energy settled equals the register difference", async function () {
    const { market, actors } = await loadFixture(paperFixture);
    const { wind } = actors;
    await postAt(market, wind, 0, 0n, 0n);
    await postAt(market, wind, 1, 100n, 1100n); // +1000 net in interval 1
    // interval 2: no reading; interval 3: registers at 400 / 4400
    await postAt(market, wind, 3, 400n, 4400n);
    await settleThrough(market, 3, [wind.id]);
    const s = await Promise.all([1, 2, 3].map((d) => settledOf(market, d, wind.id)));
    expect(s.map((x) => x.readingMissing)).to.deep.equal([false, true, false]);
    expect(s.map((x) => x.actualWh)).to.deep.equal([1000n, 0n, 3000n]);
    expect(s.reduce((sum, x) => sum + x.actualWh, 0n)).to.equal(4400n - 400n);
    const c = await market.settlementOf(wind.id);
    expect([c.baseSet, c.baseImportWh, c.baseExportWh]).to.deep.equal([true, 400n, 4400n]);
  });

  it("a missing first reading after binding is carried too: the energy settled equals the register difference", async function () {
    // The meter posted the end of interval 0 (the baseline); the end of interval 1 is missing; the end of
    // interval 2 is in. Over intervals 1-2 the registers moved by +2000 Wh net, so 2000 Wh must be settled.
    const { market, actors } = await loadFixture(paperFixture);
    const { wind } = actors;
    await postAt(market, wind, 0, 0n, 0n);
    await postAt(market, wind, 2, 0n, 2000n);
    await settleThrough(market, 2, [wind.id]);
    const s = await Promise.all([1, 2].map((d) => settledOf(market, d, wind.id)));
    expect(s.map((x) => x.readingMissing)).to.deep.equal([true, false]);
    expect(s[0].actualWh + s[1].actualWh).to.equal(2000n);
  });

  it("closes the grid's own bid once (AlreadySettled the second time), without balancing it", async function () {
    const { market, actors, gridSigner, gridId } = await loadFixture(paperFixture);
    const { conventional } = actors;
    const gridAsActor = { ...conventional, name: "grid", id: gridId, signer: gridSigner, green: false };
    await placeBids(market, D, [sell(gridAsActor, 500n, 600n * P), buy(conventional, 500n, 600n * P)]);
    await clearUntilDone(market, D);
    await toSettlement(market, D);
    const before = await market.walletOf(gridId);
    await expect(market.settle(D, [gridId]))
      .to.emit(market, "ParticipantSettled")
      .withArgs(D, gridId, 500n, 500n, 0n, 0n, 0n, 0n, 0n, false);
    expect(await market.walletOf(gridId)).to.deep.equal(before);
    await expect(market.settle(D, [gridId])).to.be.revertedWithCustomError(market, "AlreadySettled").withArgs(D, gridId);
    expect(await market.walletOf(gridId)).to.deep.equal(before);
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
    expect([sw.declaredWh, sw.clearedWh, sw.actualWh, sw.balancingWei, sw.rewardWei, sw.penaltyWei, sw.incentiveWei]).to.deep.equal([
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
    expect([se.declaredWh, se.clearedWh, se.actualWh, se.balancingWei, se.rewardWei, se.penaltyWei]).to.deep.equal([-600n, -600n, -600n, 0n, evReward, 0n]);
    const sc = await settledOf(market, D, conventional.id);
    const short = valueOf(300n, A, 1_100_000n);
    expect([sc.declaredWh, sc.clearedWh, sc.actualWh, sc.balancingWei, sc.rewardWei, sc.penaltyWei, sc.incentiveWei]).to.deep.equal([
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
});
