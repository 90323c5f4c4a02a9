/**
 * Wallets: deposit, withdraw (margin lock), fundPool, collect and debts (participant and pool).
 */
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { ReentrantWithdrawer__factory } from "../../typechain-types";
import { ETH, buy, commit, marketFixture, paperFixture, placeBids, reveal, sell, settleThrough, toCommit, toReveal, toSettlement } from "../shared/fixtures";
import { clearUntilDone } from "../../lib/market";
import { MARGIN, REF_PRICE, Side, deployPayee, emptyPoolFixture, expectConserved, postAt, seal, snapshot, valueOf } from "./helpers";

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
    it("pays free funds out and emits Withdrawn", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind } = actors;
      const tx = market.connect(wind.signer).withdraw(ETH / 4n);
      await expect(tx).to.emit(market, "Withdrawn").withArgs(wind.id, ETH / 4n);
      await expect(tx).to.changeEtherBalances([wind.signer, market], [ETH / 4n, -ETH / 4n]);
      const w = await market.walletOf(wind.id);
      expect(w.balance).to.equal((3n * ETH) / 4n);
      expect(w.withdrawable).to.equal((3n * ETH) / 4n);
      // without unsettled bids the margin is free too: everything can go
      await market.connect(wind.signer).withdraw(w.withdrawable);
      expect((await market.walletOf(wind.id)).balance).to.equal(0n);
      await expectConserved(market);
    });

    it("reverts NotRegistered, ZeroAmount and InsufficientFunds(id, amount, available) without paying", async function () {
      const { market, actors, signers } = await loadFixture(paperFixture);
      const { wind } = actors;
      const before = await snapshot(market);
      await expect(market.connect(signers[9]).withdraw(1n)).to.be.revertedWithCustomError(market, "NotRegistered").withArgs(signers[9].address);
      await expect(market.connect(wind.signer).withdraw(0n)).to.be.revertedWithCustomError(market, "ZeroAmount").withArgs();
      await expect(market.connect(wind.signer).withdraw(ETH + 1n))
        .to.be.revertedWithCustomError(market, "InsufficientFunds")
        .withArgs(wind.id, ETH + 1n, ETH);
      expect(await snapshot(market)).to.deep.equal(before);
    });

    it("keeps the margin locked while a bid is unsettled and frees it after settlement", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind } = actors;
      await toCommit(market, 2);
      const sealed = await commit(market, 2, sell(wind, 100n, 1000n));
      let w = await market.walletOf(wind.id);
      expect(w.balance + w.reserved).to.equal(ETH);
      expect(w.withdrawable).to.equal(w.balance - MARGIN);
      await expect(market.connect(wind.signer).withdraw(w.withdrawable + 1n))
        .to.be.revertedWithCustomError(market, "InsufficientFunds")
        .withArgs(wind.id, w.withdrawable + 1n, w.withdrawable);
      expect(await market.walletOf(wind.id)).to.deep.equal(w);
      await toReveal(market, 2);
      await reveal(market, sell(wind, 100n, 1000n), sealed);
      await market.connect(wind.signer).withdraw(ETH - MARGIN);
      w = await market.walletOf(wind.id);
      expect([w.balance, w.withdrawable]).to.deep.equal([MARGIN, 0n]);
      // settle 1 and 2 (readings posted, nothing delivered)
      await postAt(market, wind, 1, 0n, 0n);
      await postAt(market, wind, 2, 0n, 0n);
      await settleThrough(market, 1, [wind.id]);
      expect((await market.walletOf(wind.id)).withdrawable).to.equal(0n); // bid of 2 still unsettled
      await settleThrough(market, 2, [wind.id]);
      w = await market.walletOf(wind.id);
      // declared 100 Wh, delivered none: penalty 100 Wh × reference price × 5%
      const penalty = valueOf(100n, REF_PRICE, 50_000n);
      expect(w.balance).to.equal(MARGIN - penalty);
      expect(w.withdrawable).to.equal(w.balance);
      await market.connect(wind.signer).withdraw(w.balance);
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
    /** ev keeps `left` wei, then imports 20 kWh in interval 1 with no bid: it owes 20 kWh × A × 1.1. */
    async function evInDebt() {
      const f = await loadFixture(paperFixture);
      const { market, actors } = f;
      const { ev } = actors;
      const left = 10n ** 15n;
      await market.connect(ev.signer).withdraw(ETH - left);
      await postAt(market, ev, 0, 0n, 0n);
      await postAt(market, ev, 1, 20_000n, 0n);
      await clearUntilDone(market, 1);
      await toSettlement(market, 1);
      const owes = valueOf(20_000n, REF_PRICE, 1_100_000n);
      return { ...f, ev, left, owes };
    }

    it("a participant who cannot pay balancing gets a recorded debt (DebtRecorded) and cannot withdraw", async function () {
      const { market, ev, left, owes, gridId } = await evInDebt();
      const gridBefore = (await market.walletOf(gridId)).balance;
      await expect(market.settle(1, [ev.id]))
        .to.emit(market, "DebtRecorded")
        .withArgs(ev.id, gridId, owes - left);
      const w = await market.walletOf(ev.id);
      expect([w.balance, w.owed, w.withdrawable]).to.deep.equal([0n, owes - left, 0n]);
      expect(await market.debtOf(ev.id, gridId)).to.equal(owes - left);
      expect((await market.walletOf(gridId)).due).to.equal(owes - left);
      expect((await market.walletOf(gridId)).balance).to.equal(gridBefore + left);
      await expectConserved(market);
    });

    it("a participant with a debt may not bid (HasDebt); a deposit pays the debt first (DebtPaid), then it may", async function () {
      const { market, ev, left, owes, gridId } = await evInDebt();
      await market.settle(1, [ev.id]);
      const debt = owes - left;
      await toCommit(market, 4);
      const { commitment } = await seal(market, ev.signer, 4, Side.Buy, 100n, 1000n);
      await expect(market.connect(ev.signer).commitBid(4, commitment)).to.be.revertedWithCustomError(market, "HasDebt").withArgs(ev.id, debt);
      expect((await market.bidOf(4, ev.id)).committed).to.equal(false);
      expect((await market.walletOf(ev.id)).reserved).to.equal(0n);
      // a partial deposit pays part of the debt
      await expect(market.connect(ev.signer).deposit({ value: debt / 2n }))
        .to.emit(market, "DebtPaid")
        .withArgs(ev.id, gridId, debt / 2n);
      expect(await market.debtOf(ev.id, gridId)).to.equal(debt - debt / 2n);
      expect((await market.walletOf(ev.id)).balance).to.equal(0n);
      await expect(market.connect(ev.signer).commitBid(4, commitment))
        .to.be.revertedWithCustomError(market, "HasDebt")
        .withArgs(ev.id, debt - debt / 2n);
      // the rest and more
      await expect(market.connect(ev.signer).deposit({ value: ETH }))
        .to.emit(market, "DebtPaid")
        .withArgs(ev.id, gridId, debt - debt / 2n);
      const w = await market.walletOf(ev.id);
      expect([w.owed, w.balance]).to.deep.equal([0n, ETH - (debt - debt / 2n)]);
      expect((await market.walletOf(gridId)).due).to.equal(0n);
      await expect(market.connect(ev.signer).commitBid(4, commitment)).to.emit(market, "BidCommitted");
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
