/**
 * Wallets: deposit, withdraw (what stays: the security of a bound meter, the margin while bids are
 * unsettled, locked sale funds, debts), fundPool, collect and debts (participant and pool).
 */
import { expect } from "chai";
import { ReentrantWithdrawer__factory } from "../../typechain-types";
import { ETH, buy, commit, marketFixture, paperFixture, placeBids, reveal, sell, settleThrough, toCommit, toReveal, toSettlement, loadFixture } from "../shared/fixtures";
import { PAPER_PARAMS, clearUntilDone } from "../../lib/market";

const PAPER_CAP = PAPER_PARAMS.capPriceWeiPerKWh;
import { MARGIN, MAX_WH_PER_INTERVAL, REF_PRICE, SECURITY, Side, collateralOf, deployPayee, emptyPoolFixture, expectConserved, postAt, seal, snapshot, valueOf } from "./helpers";

describe("wallets", function () {
  describe("deposit", function () {
    it("credits the caller's wallet and emits Deposited", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind } = actors;
      const before = await market.walletOf(wind.id);
      const tx = market.connect(wind.signer).deposit({ value: 123n });
      await expect(tx).to.emit(market, "Deposited").withArgs(wind.id, 123n);
      await expect(tx).to.changeEtherBalances([wind.signer, market], [-123n, 123n]);
      expect((await market.walletOf(wind.id)).balance).to.equal(before.balance + 123n);
      await expectConserved(market);
    });

    it("reverts NotRegistered for an unknown account and ZeroAmount for no value", async function () {
      const { market, actors, signers } = await loadFixture(paperFixture);
      const before = await snapshot(market);
      await expect(market.connect(signers[9]).deposit({ value: 1n }))
        .to.be.revertedWithCustomError(market, "NotRegistered")
        .withArgs(signers[9].address);
      await expect(market.connect(actors.wind.signer).deposit({ value: 0n })).to.be.revertedWithCustomError(market, "ZeroAmount").withArgs();
      expect(await snapshot(market)).to.deep.equal(before);
    });
  });

  describe("withdraw", function () {
    it("pays free funds out and emits Withdrawn; the security stays while the meter is bound", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind } = actors;
      const tx = market.connect(wind.signer).withdraw(ETH / 4n);
      await expect(tx).to.emit(market, "Withdrawn").withArgs(wind.id, ETH / 4n);
      await expect(tx).to.changeEtherBalances([wind.signer, market], [ETH / 4n, -ETH / 4n]);
      const w = await market.walletOf(wind.id);
      expect(w.balance).to.equal((3n * ETH) / 4n);
      expect(w.withdrawable).to.equal((3n * ETH) / 4n - SECURITY);
      // without unsettled bids the margin is free too: everything but the security can go
      await market.connect(wind.signer).withdraw(w.withdrawable);
      expect((await market.walletOf(wind.id)).balance).to.equal(SECURITY);
      await expect(market.connect(wind.signer).withdraw(1n)).to.be.revertedWithCustomError(market, "InsufficientFunds").withArgs(wind.id, 1n, 0n);
      // once the meter is released, the security is free too
      await market.unbindMeter(wind.id);
      await market.connect(wind.signer).withdraw(SECURITY);
      expect((await market.walletOf(wind.id)).balance).to.equal(0n);
      await expectConserved(market);
    });

    it("reverts NotRegistered, ZeroAmount and InsufficientFunds(id, amount, available) without paying", async function () {
      const { market, actors, signers } = await loadFixture(paperFixture);
      const { wind } = actors;
      const before = await snapshot(market);
      await expect(market.connect(signers[9]).withdraw(1n)).to.be.revertedWithCustomError(market, "NotRegistered").withArgs(signers[9].address);
      await expect(market.connect(wind.signer).withdraw(0n)).to.be.revertedWithCustomError(market, "ZeroAmount").withArgs();
      await expect(market.connect(wind.signer).withdraw(ETH - SECURITY + 1n))
        .to.be.revertedWithCustomError(market, "InsufficientFunds")
        .withArgs(wind.id, ETH - SECURITY + 1n, ETH - SECURITY);
      expect(await snapshot(market)).to.deep.equal(before);
    });

    it("keeps the margin while a bid is unsettled and a sell's collateral locked until its settlement, then frees both", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind } = actors;
      await toCommit(market, 2);
      const sealed = await commit(market, 2, sell(wind, 100n, 1000n));
      let w = await market.walletOf(wind.id);
      expect(w.balance + w.reserved).to.equal(ETH);
      expect(w.withdrawable).to.equal(w.balance - MARGIN - SECURITY);
      await expect(market.connect(wind.signer).withdraw(w.withdrawable + 1n))
        .to.be.revertedWithCustomError(market, "InsufficientFunds")
        .withArgs(wind.id, w.withdrawable + 1n, w.withdrawable);
      expect(await market.walletOf(wind.id)).to.deep.equal(w);
      await toReveal(market, 2);
      await reveal(market, sell(wind, 100n, 1000n), sealed);
      const collateral = collateralOf(100n);
      await market.connect(wind.signer).withdraw(ETH - MARGIN - SECURITY - collateral);
      w = await market.walletOf(wind.id);
      expect([w.balance, w.locked, w.withdrawable]).to.deep.equal([MARGIN + SECURITY + collateral, collateral, 0n]);
      // settle 1 and 2 (readings posted, nothing delivered)
      await postAt(market, wind, 1, 0n, 0n);
      await postAt(market, wind, 2, 0n, 0n);
      await settleThrough(market, 1, [wind.id]);
      expect((await market.walletOf(wind.id)).withdrawable).to.equal(0n); // bid of 2 still unsettled
      await settleThrough(market, 2, [wind.id]);
      w = await market.walletOf(wind.id);
      // declared 100 Wh, nothing traded, delivered none: penalty 100 Wh × reference price × 5%
      const penalty = valueOf(100n, REF_PRICE, 50_000n);
      expect([w.balance, w.locked]).to.deep.equal([MARGIN + SECURITY + collateral - penalty, 0n]);
      expect(w.withdrawable).to.equal(w.balance - SECURITY);
      await market.connect(wind.signer).withdraw(w.withdrawable);
      await expectConserved(market);
    });

    it("reverts TransferFailed when the receiver refuses ether; the wallet keeps its funds", async function () {
      const { market, operator } = await loadFixture(marketFixture);
      const payee = await deployPayee(market, operator);
      await payee.register();
      await payee.depositAll({ value: 1000n });
      const id = await market.idOf(await payee.getAddress());
      await expect(payee.attack(400n)).to.be.revertedWithCustomError(market, "TransferFailed").withArgs();
      expect((await market.walletOf(id)).balance).to.equal(1000n);
      await expectConserved(market);
    });

    it("reverts Reentrancy for a withdraw re-entered from the receiver", async function () {
      const { market, operator } = await loadFixture(marketFixture);
      const payee = await deployPayee(market, operator);
      await payee.register();
      await payee.depositAll({ value: 1000n });
      await payee.setMode(1);
      const id = await market.idOf(await payee.getAddress());
      // the payee re-throws what its re-entrant withdraw got
      await expect(payee.attack(400n)).to.be.revertedWithCustomError(market, "Reentrancy").withArgs();
      expect((await market.walletOf(id)).balance).to.equal(1000n);
      // the shipped attack mock swallows the error: one withdrawal only
      const attacker = await new ReentrantWithdrawer__factory(operator).deploy(await market.getAddress());
      await attacker.register();
      await attacker.depositAll({ value: 1000n });
      const aid = await market.idOf(await attacker.getAddress());
      await attacker.attack(400n);
      expect(await attacker.lastRevert()).to.equal(market.interface.encodeErrorResult("Reentrancy", []));
      expect((await market.walletOf(aid)).balance).to.equal(600n);
      await expectConserved(market);
    });
  });

  describe("fundPool and collect", function () {
    it("fundPool credits the pool from anyone; ZeroAmount for no value", async function () {
      const { market, signers } = await loadFixture(paperFixture);
      const [before] = await market.pool();
      await expect(market.connect(signers[9]).fundPool({ value: 5n }))
        .to.emit(market, "PoolFunded")
        .withArgs(signers[9].address, 5n);
      expect((await market.pool())[0]).to.equal(before + 5n);
      await expect(market.fundPool({ value: 0n })).to.be.revertedWithCustomError(market, "ZeroAmount").withArgs();
      expect((await market.pool())[0]).to.equal(before + 5n);
      await expectConserved(market);
    });

    it("collect reverts NothingOwed when nothing is owed", async function () {
      const { market, actors, gridId } = await loadFixture(paperFixture);
      const before = await snapshot(market);
      await expect(market.collect(actors.wind.id, gridId)).to.be.revertedWithCustomError(market, "NothingOwed").withArgs(actors.wind.id, gridId);
      await expect(market.collect(0, actors.wind.id)).to.be.revertedWithCustomError(market, "NothingOwed").withArgs(0, actors.wind.id);
      expect(await snapshot(market)).to.deep.equal(before);
    });
  });

  describe("debts", function () {
    /**
     * ev keeps only its meter's security and imports its meter's full 25 kWh in each of intervals 1-4
     * with no bid: 25 kWh × A × 1.1 an interval at the reference price. The security (two intervals at
     * the cap price) covers the first three intervals and part of the fourth; the rest is owed.
     */
    const PER_INTERVAL = valueOf(MAX_WH_PER_INTERVAL, REF_PRICE, 1_100_000n);
    async function evInDebt() {
      const f = await loadFixture(paperFixture);
      const { market, actors } = f;
      const { ev } = actors;
      await market.connect(ev.signer).withdraw(ETH - SECURITY);
      for (const d of [1, 2, 3, 4]) await postAt(market, ev, d, BigInt(d) * MAX_WH_PER_INTERVAL, 0n);
      await settleThrough(market, 3, [ev.id]);
      await clearUntilDone(market, 4);
      await toSettlement(market, 4);
      const left = SECURITY - 3n * PER_INTERVAL;
      const owes = PER_INTERVAL;
      return { ...f, ev, left, owes };
    }

    it("the security pays for consumption; once used up, what cannot be paid is a recorded debt (DebtRecorded) and nothing can be withdrawn", async function () {
      const { market, ev, left, owes, gridId } = await evInDebt();
      expect((await market.walletOf(ev.id)).balance).to.equal(left);
      expect(left > 0n && left < owes).to.equal(true);
      const gridBefore = (await market.walletOf(gridId)).balance;
      await expect(market.settle(4, [ev.id]))
        .to.emit(market, "DebtRecorded")
        .withArgs(ev.id, gridId, owes - left);
      const w = await market.walletOf(ev.id);
      expect([w.balance, w.owed, w.withdrawable]).to.deep.equal([0n, owes - left, 0n]);
      expect(await market.debtOf(ev.id, gridId)).to.equal(owes - left);
      expect((await market.walletOf(gridId)).due).to.equal(owes - left);
      expect((await market.walletOf(gridId)).balance).to.equal(gridBefore + left);
      // the unsecured part is at most one interval of the meter's rated energy at the cap price × W'
      expect(owes - left).to.be.lessThanOrEqual(valueOf(MAX_WH_PER_INTERVAL, BigInt(PAPER_CAP), 1_100_000n));
      await expectConserved(market);
    });

    it("a participant with a debt may not bid (HasDebt); a deposit pays the debt first (DebtPaid), then it may", async function () {
      const { market, ev, left, owes, gridId } = await evInDebt();
      await market.settle(4, [ev.id]);
      const debt = owes - left;
      const d = Number(await market.currentInterval()) + 2;
      await toCommit(market, d);
      const { commitment } = await seal(market, ev.signer, d, Side.Buy, 100n, 1000n);
      await expect(market.connect(ev.signer).commitBid(d, commitment)).to.be.revertedWithCustomError(market, "HasDebt").withArgs(ev.id, debt);
      expect((await market.bidOf(d, ev.id)).committed).to.equal(false);
      expect((await market.walletOf(ev.id)).reserved).to.equal(0n);
      // a partial deposit pays part of the debt
      await expect(market.connect(ev.signer).deposit({ value: debt / 2n }))
        .to.emit(market, "DebtPaid")
        .withArgs(ev.id, gridId, debt / 2n);
      expect(await market.debtOf(ev.id, gridId)).to.equal(debt - debt / 2n);
      expect((await market.walletOf(ev.id)).balance).to.equal(0n);
      await expect(market.connect(ev.signer).commitBid(d, commitment))
        .to.be.revertedWithCustomError(market, "HasDebt")
        .withArgs(ev.id, debt - debt / 2n);
      // the rest and more
      await expect(market.connect(ev.signer).deposit({ value: ETH }))
        .to.emit(market, "DebtPaid")
        .withArgs(ev.id, gridId, debt - debt / 2n);
      const w = await market.walletOf(ev.id);
      expect([w.owed, w.balance]).to.deep.equal([0n, ETH - (debt - debt / 2n)]);
      expect((await market.walletOf(gridId)).due).to.equal(0n);
      await expect(market.connect(ev.signer).commitBid(d, commitment)).to.emit(market, "BidCommitted");
      await expectConserved(market);
    });

    it("the pool that cannot pay a reward owes it; the creditor collects at its next settlement, or anyone via collect", async function () {
      const { market, actors } = await loadFixture(emptyPoolFixture);
      const { wind, ev } = actors;
      await placeBids(market, 2, [sell(wind, 1000n, 600n * 10n ** 12n), buy(ev, 1000n, 800n * 10n ** 12n)]);
      await clearUntilDone(market, 2);
      for (const a of [wind, ev]) await postAt(market, a, 1, 0n, 0n);
      await postAt(market, wind, 2, 0n, 1000n);
      await postAt(market, ev, 2, 1000n, 0n);
      await settleThrough(market, 1, [wind.id, ev.id]);
      const A = (await market.intervalOf(2)).averagePriceWeiPerKWh;
      expect(A).to.equal(700n * 10n ** 12n);
      const reward = valueOf(1000n, A, 10_000n);
      await toSettlement(market, 2);
      await expect(market.settle(2, [wind.id, ev.id]))
        .to.emit(market, "DebtRecorded")
        .withArgs(0, wind.id, reward)
        .and.to.emit(market, "DebtRecorded")
        .withArgs(0, ev.id, reward);
      expect(await market.pool()).to.deep.equal([0n, 2n * reward]);
      expect(await market.debtOf(0, wind.id)).to.equal(reward);
      expect((await market.walletOf(wind.id)).due).to.equal(reward);
      // funding the pool does not pay by itself
      await market.fundPool({ value: ETH });
      expect(await market.pool()).to.deep.equal([ETH, 2n * reward]);
      // wind collects at its next settlement
      await postAt(market, wind, 3, 0n, 1000n);
      await clearUntilDone(market, 3);
      await toSettlement(market, 3);
      await expect(market.settle(3, [wind.id]))
        .to.emit(market, "DebtPaid")
        .withArgs(0, wind.id, reward);
      expect(await market.debtOf(0, wind.id)).to.equal(0n);
      expect((await market.walletOf(wind.id)).due).to.equal(0n);
      // anyone can make the pool pay ev
      await expect(market.connect(wind.signer).collect(0, ev.id)).to.emit(market, "DebtPaid").withArgs(0, ev.id, reward);
      expect(await market.pool()).to.deep.equal([ETH - 2n * reward, 0n]);
      await expect(market.collect(0, ev.id)).to.be.revertedWithCustomError(market, "NothingOwed").withArgs(0, ev.id);
      await expectConserved(market);
    });
  });
});
