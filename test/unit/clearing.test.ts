/**
 * Clearing: phase checks, bounded resumable steps, green-first then all, ties by lower ID,
 * reservations used and released.
 */
import { expect } from "chai";
import { EnergyMarket } from "../../typechain-types";
import { Actor, BidSpec, ETH, buy, paperFixture, placeBids, sell, toCommit, toReveal, toSettlement, loadFixture } from "../shared/fixtures";
import { clearUntilDone } from "../../lib/market";
import { CAP_PRICE, FLOOR_PRICE, MARGIN, MIN_VOLUME, PHASE, REF_PRICE, SECURITY, STAGE, collateralOf, costOf, crowdFixture, expectConserved, toGwei } from "./helpers";

const D = 2;
const P = 10n ** 12n; // prices below in 10^-6 ether per kWh

async function tradesOf(market: EnergyMarket, d: number) {
  const logs = await market.queryFilter(market.filters.TradeMatched(d));
  return logs.map((l) => ({
    stage: Number(l.args.stage),
    seller: l.args.sellerId,
    buyer: l.args.buyerId,
    energyWh: l.args.energyWh,
    price: l.args.priceWeiPerKWh,
    amount: l.args.amountWei,
  }));
}

describe("clearing", function () {
  it("reverts ZeroSteps for a zero bound, leaving the interval unstarted", async function () {
    const { market } = await loadFixture(paperFixture);
    await placeBids(market, D, []);
    await expect(market.clear(D, 0)).to.be.revertedWithCustomError(market, "ZeroSteps").withArgs();
    expect((await market.intervalOf(D)).stage).to.equal(STAGE.NotStarted);
  });

  it("reverts WrongPhase before the reveal window ends and after clearing is done", async function () {
    const { market } = await loadFixture(paperFixture);
    await expect(market.clear(D, 10)).to.be.revertedWithCustomError(market, "WrongPhase").withArgs(D, PHASE.Upcoming);
    await toCommit(market, D);
    await expect(market.clear(D, 10)).to.be.revertedWithCustomError(market, "WrongPhase").withArgs(D, PHASE.Commit);
    await toReveal(market, D);
    await expect(market.clear(D, 10)).to.be.revertedWithCustomError(market, "WrongPhase").withArgs(D, PHASE.Reveal);
    expect((await market.intervalOf(D)).stage).to.equal(STAGE.NotStarted);
    await placeBids(market, D, []);
    await expect(market.clear(D, 10)).to.emit(market, "IntervalCleared").withArgs(D, 0, 0, 0);
    await expect(market.clear(D, 10)).to.be.revertedWithCustomError(market, "WrongPhase").withArgs(D, PHASE.Delivery);
    await toSettlement(market, D);
    await expect(market.clear(D, 10)).to.be.revertedWithCustomError(market, "WrongPhase").withArgs(D, PHASE.Settlement);
    // no trades: the interval's average price, and the balancing price, are the reference price
    const v = await market.intervalOf(D);
    expect([v.trades, v.tradedWh, v.averagePriceWeiPerKWh, v.balancingPriceWeiPerKWh]).to.deep.equal([0n, 0n, REF_PRICE, REF_PRICE]);
  });

  it("trades at the mean of ask and bid for the smaller quantity, and records the average price", async function () {
    const { market, actors } = await loadFixture(paperFixture);
    const { wind, ev } = actors;
    await placeBids(market, D, [sell(wind, 400n, 600n * P), buy(ev, 1000n, 900n * P)]);
    await expect(market.clear(D, 100))
      .to.emit(market, "TradeMatched")
      .withArgs(D, wind.id, ev.id, STAGE.Green, 400n, 750n * P, costOf(400n, 750n * P))
      .and.to.emit(market, "IntervalCleared")
      .withArgs(D, 1, 400n, 750n * P);
    const v = await market.intervalOf(D);
    expect([v.stage, v.phase, v.trades, v.tradedWh, v.averagePriceWeiPerKWh]).to.deep.equal([
      BigInt(STAGE.Done),
      BigInt(PHASE.Delivery),
      1n,
      400n,
      750n * P,
    ]);
    expect((await market.bidOf(D, wind.id)).remainingWh).to.equal(0n);
    expect((await market.bidOf(D, ev.id)).remainingWh).to.equal(600n);
  });

  it("matches green sellers with green buyers first, then everyone", async function () {
    const { market, actors } = await loadFixture(paperFixture);
    const { wind, controllable, ev, conventional } = actors;
    // a cheaper non-green seller and a tied non-green buyer: without green-first ev would buy from controllable
    await placeBids(market, D, [
      sell(wind, 1000n, 800n * P),
      sell(controllable, 1000n, 500n * P),
      buy(ev, 1000n, 900n * P),
      buy(conventional, 1000n, 900n * P),
    ]);
    await clearUntilDone(market, D);
    expect(await tradesOf(market, D)).to.deep.equal([
      { stage: STAGE.Green, seller: wind.id, buyer: ev.id, energyWh: 1000n, price: 850n * P, amount: 850n * P },
      { stage: STAGE.All, seller: controllable.id, buyer: conventional.id, energyWh: 1000n, price: 700n * P, amount: 700n * P },
    ]);
  });

  it("in the all stage, leftovers of the green stage trade with everyone in price order", async function () {
    const { market, actors } = await loadFixture(paperFixture);
    const { wind, controllable, ev, conventional } = actors;
    await placeBids(market, D, [
      sell(wind, 1500n, 400n * P),
      sell(controllable, 500n, 300n * P),
      buy(ev, 1000n, 600n * P),
      buy(conventional, 800n, 700n * P),
    ]);
    await clearUntilDone(market, D);
    expect(await tradesOf(market, D)).to.deep.equal([
      { stage: STAGE.Green, seller: wind.id, buyer: ev.id, energyWh: 1000n, price: 500n * P, amount: 500n * P },
      { stage: STAGE.All, seller: controllable.id, buyer: conventional.id, energyWh: 500n, price: 500n * P, amount: 250n * P },
      { stage: STAGE.All, seller: wind.id, buyer: conventional.id, energyWh: 300n, price: 550n * P, amount: costOf(300n, 550n * P) },
    ]);
  });

  it("breaks price ties by lower participant ID, across the green and other books", async function () {
    const { market, actors } = await loadFixture(paperFixture);
    const { controllable, ev, conventional, wind } = actors;
    expect(controllable.id < ev.id).to.equal(true);
    // sellers controllable (other, lower ID) and ev (green) at the same ask; one buyer for one of them
    await placeBids(market, D, [sell(ev, 500n, 600n * P), sell(controllable, 500n, 600n * P), buy(conventional, 500n, 600n * P)]);
    await clearUntilDone(market, D);
    const t = await tradesOf(market, D);
    expect(t.map((x) => [x.seller, x.buyer, x.energyWh])).to.deep.equal([[controllable.id, conventional.id, 500n]]);
    expect((await market.bidOf(D, ev.id)).remainingWh).to.equal(500n);
    // buyers ev and conventional tied, in the all stage against a non-green seller: ev (lower ID) first
    await placeBids(market, D + 1, [buy(conventional, 500n, 600n * P), buy(ev, 500n, 600n * P), sell(controllable, 500n, 600n * P)]);
    await clearUntilDone(market, D + 1);
    expect((await tradesOf(market, D + 1)).map((x) => [x.seller, x.buyer])).to.deep.equal([[controllable.id, ev.id]]);
    void wind;
  });

  it("releases the unfilled part of a buy reservation; the seller is paid the trade amount, locked until its sale is settled", async function () {
    const { market, actors } = await loadFixture(paperFixture);
    const { wind, ev } = actors;
    await placeBids(market, D, [sell(wind, 400n, 700n * P), buy(ev, 1000n, 900n * P)]);
    const before = await market.walletOf(ev.id);
    expect(before.reserved).to.equal(costOf(1000n, 900n * P));
    await clearUntilDone(market, D);
    const paid = costOf(400n, 800n * P);
    const after = await market.walletOf(ev.id);
    expect([after.reserved, after.balance + after.reserved]).to.deep.equal([0n, before.balance + before.reserved - paid]);
    const seller = await market.walletOf(wind.id);
    expect([seller.balance, seller.reserved, seller.locked]).to.deep.equal([ETH + paid, 0n, collateralOf(400n) + toGwei(paid)]);
    expect((await market.bidOf(D, wind.id)).proceedsWei).to.equal(toGwei(paid));
    await expectConserved(market);
  });

  it("a buyer who withdraws after the reveal cannot touch the reservation; the seller is still paid in full", async function () {
    const { market, actors } = await loadFixture(paperFixture);
    const { wind, ev } = actors;
    const price = 900_000n * P; // 0.9 ether per kWh: nearly all of ev's ether
    await placeBids(market, D, [sell(wind, 1000n, 500_000n * P), buy(ev, 1000n, price)]);
    const w = await market.walletOf(ev.id);
    expect(w.reserved).to.equal(costOf(1000n, price));
    expect(w.withdrawable).to.equal(w.balance - MARGIN - SECURITY);
    await expect(market.connect(ev.signer).withdraw(w.balance))
      .to.be.revertedWithCustomError(market, "InsufficientFunds")
      .withArgs(ev.id, w.balance, w.withdrawable);
    await market.connect(ev.signer).withdraw(w.withdrawable);
    expect((await market.walletOf(ev.id)).reserved).to.equal(costOf(1000n, price));
    const sellerBefore = await market.walletOf(wind.id);
    await clearUntilDone(market, D);
    const amount = costOf(1000n, 700_000n * P);
    const t = await tradesOf(market, D);
    expect(t).to.have.length(1);
    expect(t[0].amount).to.equal(amount);
    expect((await market.walletOf(wind.id)).balance).to.equal(sellerBefore.balance + amount);
    const e = await market.walletOf(ev.id);
    expect([e.reserved, e.balance]).to.deep.equal([0n, MARGIN + SECURITY + costOf(1000n, price) - amount]);
    await expectConserved(market);
  });

  describe("the balancing price A (banded)", function () {
    async function priceAfter(bids: (actors: Record<string, Actor>) => BidSpec[]) {
      const { market, actors } = await loadFixture(paperFixture);
      await placeBids(market, D, bids(actors));
      await clearUntilDone(market, D);
      return market.intervalOf(D);
    }

    it("is the mean trade price inside [floor, cap]", async function () {
      const v = await priceAfter(({ wind, ev }) => [sell(wind, 1000n, 600n * P), buy(ev, 1000n, 800n * P)]);
      expect([v.averagePriceWeiPerKWh, v.balancingPriceWeiPerKWh]).to.deep.equal([700n * P, 700n * P]);
    });

    it("is the cap when colluders trade above it, and the floor when they trade below it", async function () {
      const high = await priceAfter(({ wind, ev }) => [sell(wind, MIN_VOLUME, 10n ** 18n), buy(ev, MIN_VOLUME, 10n ** 18n)]);
      expect([high.averagePriceWeiPerKWh, high.balancingPriceWeiPerKWh]).to.deep.equal([10n ** 18n, CAP_PRICE]);
      const low = await priceAfter(({ wind, ev }) => [sell(wind, 1000n, 1n), buy(ev, 1000n, 1n)]);
      expect([low.averagePriceWeiPerKWh, low.balancingPriceWeiPerKWh]).to.deep.equal([1n, FLOOR_PRICE]);
    });

    it("is the reference price when the interval traded less than the minimum volume", async function () {
      const tiny = await priceAfter(({ wind, ev }) => [sell(wind, MIN_VOLUME - 1n, 10n ** 18n), buy(ev, MIN_VOLUME - 1n, 10n ** 18n)]);
      expect([tiny.tradedWh, tiny.averagePriceWeiPerKWh, tiny.balancingPriceWeiPerKWh]).to.deep.equal([MIN_VOLUME - 1n, 10n ** 18n, REF_PRICE]);
      const enough = await priceAfter(({ wind, ev }) => [sell(wind, MIN_VOLUME, 800n * P), buy(ev, MIN_VOLUME, 800n * P)]);
      expect([enough.tradedWh, enough.balancingPriceWeiPerKWh]).to.deep.equal([MIN_VOLUME, 800n * P]);
    });
  });

  describe("bounded steps", function () {
    async function book(users: Actor[]): Promise<BidSpec[]> {
      // 6 sellers and 6 buyers over both books, crossing in several partial fills
      const sells = [0, 1, 2, 3, 4, 5].map((k) => sell(users[k], 100n + 37n * BigInt(k), (300n + 40n * BigInt(k % 3)) * P));
      const buys = [6, 7, 8, 9, 10, 11].map((k) => buy(users[k], 150n + 23n * BigInt(k), (420n - 25n * BigInt(k % 4)) * P));
      return [...sells, ...buys];
    }

    async function run(maxSteps: number) {
      const { market, users } = await loadFixture(crowdFixture);
      await placeBids(market, D, await book(users));
      const receipts = await clearUntilDone(market, D, maxSteps);
      const progress = await market.queryFilter(market.filters.ClearingProgressed(D));
      const wallets = [];
      for (const u of users) wallets.push(await market.walletOf(u.id));
      await expectConserved(market);
      return { trades: await tradesOf(market, D), receipts, steps: progress.map((l) => l.args.steps), wallets, view: await market.intervalOf(D) };
    }

    it("maxSteps = 1 resumes stage by stage and gives the same trades and wallets as one big call", async function () {
      const big = await run(1000);
      const small = await run(1);
      expect(big.receipts).to.have.length(1);
      expect(big.trades.length).to.be.greaterThan(3);
      expect(big.trades.some((t) => t.stage === STAGE.Green) && big.trades.some((t) => t.stage === STAGE.All)).to.equal(true);
      expect(small.trades).to.deep.equal(big.trades);
      expect(small.wallets).to.deep.equal(big.wallets);
      expect(small.view).to.deep.equal(big.view);
      expect(small.steps.every((s) => s <= 1n)).to.equal(true);
      // one transaction per trade and per released buyer at least
      expect(small.receipts.length).to.be.greaterThanOrEqual(big.trades.length);
    });
  });
});
