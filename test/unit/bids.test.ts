/**
 * Sealed bids: commitBid and revealBid (windows, checks, replacement, funds put up, forfeit, the ring
 * of four intervals) and the sorted books.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { Actor, ETH, buy, commit, paperFixture, placeBids, reveal, sell, settleThrough, toClearing, toCommit, toReveal, toSettlement, loadFixture } from "../shared/fixtures";
import { clearUntilDone } from "../../lib/market";
import { EnergyMarket } from "../../typechain-types";
import {
  FORFEIT,
  MARGIN,
  MAX_ENERGY,
  MAX_PRICE,
  MAX_WH_PER_INTERVAL,
  METERED_FORFEIT,
  PHASE,
  SECURITY,
  Side,
  bookOf,
  collateralOf,
  crowdFixture,
  expectConserved,
  postAt,
  revealWith,
  seal,
  snapshot,
} from "./helpers";
import type { SideValue } from "../../lib/market";

const D = 2; // the first delivery interval whose whole commit window lies after the fixture

describe("bids", function () {
  describe("commitBid", function () {
    it("stores the commitment, keeps the margin (besides the security) in the wallet, and emits BidCommitted", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind } = actors;
      await toCommit(market, D);
      const { commitment } = await seal(market, wind.signer, D, Side.Sell, 100n, 1000n);
      await expect(market.connect(wind.signer).commitBid(D, commitment)).to.emit(market, "BidCommitted").withArgs(D, wind.id, commitment);
      const b = await market.bidOf(D, wind.id);
      expect([b.committed, b.revealed]).to.deep.equal([true, false]);
      // nothing leaves the wallet; the margin is kept besides the meter's security until settlement
      const w = await market.walletOf(wind.id);
      expect([w.balance, w.reserved, w.locked, w.security]).to.deep.equal([ETH, 0n, 0n, SECURITY]);
      expect(w.withdrawable).to.equal(ETH - SECURITY - MARGIN);
      await expectConserved(market);
    });

    it("the grid may bid without a meter, holding only the flat forfeit", async function () {
      const { market, gridSigner, gridId } = await loadFixture(paperFixture);
      await toCommit(market, D);
      await market.connect(gridSigner).withdraw((await market.walletOf(gridId)).balance - FORFEIT);
      const { bid, commitment } = await seal(market, gridSigner, D, Side.Sell, 100n, 1000n);
      await expect(market.connect(gridSigner).commitBid(D, commitment)).to.emit(market, "BidCommitted").withArgs(D, gridId, commitment);
      // the grid's sell locks no collateral: it is the balancing party itself
      await toReveal(market, D);
      await expect(revealWith(market, gridSigner, bid)).to.emit(market, "BidRevealed");
      const w = await market.walletOf(gridId);
      expect([w.balance, w.locked, w.security, w.withdrawable]).to.deep.equal([FORFEIT, 0n, 0n, FORFEIT]);
    });

    it("reverts NotRegistered, NotAuthorized and NoMeterBound, changing nothing", async function () {
      const { market, signers } = await loadFixture(paperFixture);
      const [stranger, unauthorized, meterless] = [signers[9], signers[6], signers[7]];
      await market.connect(unauthorized).register("unauthorized", false);
      await market.connect(meterless).register("meterless", true);
      const uid = await market.idOf(unauthorized.address);
      const mid = await market.idOf(meterless.address);
      await market.authorize(mid, true);
      await market.connect(meterless).deposit({ value: ETH });
      await toCommit(market, D);
      const before = await snapshot(market);
      const c = ethers.id("commitment");
      await expect(market.connect(stranger).commitBid(D, c)).to.be.revertedWithCustomError(market, "NotRegistered").withArgs(stranger.address);
      await expect(market.connect(unauthorized).commitBid(D, c)).to.be.revertedWithCustomError(market, "NotAuthorized").withArgs(uid);
      await expect(market.connect(meterless).commitBid(D, c)).to.be.revertedWithCustomError(market, "NoMeterBound").withArgs(mid);
      expect(await snapshot(market)).to.deep.equal(before);
      expect((await market.bidOf(D, uid)).committed).to.equal(false);
      expect((await market.bidOf(D, mid)).committed).to.equal(false);
    });

    it("reverts WrongInterval for any interval but the next, and WrongPhase outside the commit window", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind } = actors;
      await toCommit(market, D);
      expect(await market.currentInterval()).to.equal(D - 1);
      const before = await snapshot(market);
      const c = ethers.id("commitment");
      await expect(market.connect(wind.signer).commitBid(D - 1, c)).to.be.revertedWithCustomError(market, "WrongInterval").withArgs(D - 1, D);
      await expect(market.connect(wind.signer).commitBid(D + 1, c)).to.be.revertedWithCustomError(market, "WrongInterval").withArgs(D + 1, D);
      await toReveal(market, D);
      await expect(market.connect(wind.signer).commitBid(D, c)).to.be.revertedWithCustomError(market, "WrongPhase").withArgs(D, PHASE.Reveal);
      await toClearing(market, D);
      await expect(market.connect(wind.signer).commitBid(D, c)).to.be.revertedWithCustomError(market, "WrongPhase").withArgs(D, PHASE.Clearing);
      expect(await snapshot(market)).to.deep.equal(before);
      expect((await market.bidOf(D, wind.id)).committed).to.equal(false);
    });

    it("reverts ZeroValue for a zero commitment and InsufficientFunds without the margin and the security free", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind, ev } = actors;
      const needed = MARGIN + SECURITY;
      await market.connect(ev.signer).withdraw(ETH - (needed - 1n));
      await toCommit(market, D);
      const before = await snapshot(market);
      await expect(market.connect(wind.signer).commitBid(D, ethers.ZeroHash)).to.be.revertedWithCustomError(market, "ZeroValue").withArgs();
      const { commitment } = await seal(market, ev.signer, D, Side.Buy, 1n, 1n);
      await expect(market.connect(ev.signer).commitBid(D, commitment)).to.be.revertedWithCustomError(market, "InsufficientFunds").withArgs(ev.id, needed, needed - 1n);
      expect(await snapshot(market)).to.deep.equal(before);
      expect((await market.bidOf(D, ev.id)).committed).to.equal(false);
      await market.connect(ev.signer).deposit({ value: 1n });
      await expect(market.connect(ev.signer).commitBid(D, commitment)).to.emit(market, "BidCommitted");
    });

    it("reverts SettlementBehind for a bid four intervals after one not settled yet; bidOf answers for the last four intervals", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind } = actors;
      await placeBids(market, D, [sell(wind, 100n, 1000n)]);
      await toCommit(market, D + 4);
      const { commitment } = await seal(market, wind.signer, D + 4, Side.Sell, 100n, 1000n);
      await expect(market.connect(wind.signer).commitBid(D + 4, commitment))
        .to.be.revertedWithCustomError(market, "SettlementBehind")
        .withArgs(wind.id, D);
      expect((await market.bidOf(D, wind.id)).revealed).to.equal(true);
      // intervals D-1 and D settled (nothing delivered): the slot is free again
      await clearUntilDone(market, D - 1);
      await clearUntilDone(market, D);
      await market.settle(D - 1, [wind.id]);
      await market.settle(D, [wind.id]);
      await expect(market.connect(wind.signer).commitBid(D + 4, commitment)).to.emit(market, "BidCommitted");
      // D + 4 uses D's slot: the bid of D is in the events only
      expect((await market.bidOf(D + 4, wind.id)).committed).to.equal(true);
      const old = await market.bidOf(D, wind.id);
      expect([old.committed, old.revealed, old.energyWh]).to.deep.equal([false, false, 0n]);
      expect(await market.queryFilter(market.filters.BidRevealed(D, wind.id))).to.have.length(1);
    });

    it("a second commit replaces the first without a second deposit; only the new one reveals", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind } = actors;
      await toCommit(market, D);
      const first = await seal(market, wind.signer, D, Side.Sell, 100n, 1000n);
      const second = await seal(market, wind.signer, D, Side.Sell, 200n, 2000n);
      await market.connect(wind.signer).commitBid(D, first.commitment);
      const once = await market.walletOf(wind.id);
      await expect(market.connect(wind.signer).commitBid(D, second.commitment)).to.emit(market, "BidCommitted").withArgs(D, wind.id, second.commitment);
      expect(await market.walletOf(wind.id)).to.deep.equal(once);
      await toReveal(market, D);
      await expect(revealWith(market, wind.signer, first.bid)).to.be.revertedWithCustomError(market, "BadReveal").withArgs(D, wind.id);
      await expect(revealWith(market, wind.signer, second.bid))
        .to.emit(market, "BidRevealed")
        .withArgs(D, wind.id, Side.Sell, 200n, 2000n);
      expect((await market.walletOf(wind.id)).reserved).to.equal(0n);
    });
  });

  describe("revealBid", function () {
    it("makes the bid firm: BidRevealed, a buy's maximum cost reserved, a sell's collateral locked", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind, ev } = actors;
      await toCommit(market, D);
      const s = await commit(market, D, sell(wind, 300n, 5000n));
      const b = await commit(market, D, buy(ev, 400n, 7000n));
      await toReveal(market, D);
      await expect(reveal(market, sell(wind, 300n, 5000n), s)).to.emit(market, "BidRevealed").withArgs(D, wind.id, Side.Sell, 300n, 5000n);
      await expect(reveal(market, buy(ev, 400n, 7000n), b)).to.emit(market, "BidRevealed").withArgs(D, ev.id, Side.Buy, 400n, 7000n);
      const sv = await market.bidOf(D, wind.id);
      expect([sv.committed, sv.revealed, sv.side, sv.green, sv.energyWh, sv.remainingWh, sv.priceWeiPerKWh]).to.deep.equal([false, true, 0n, true, 300n, 300n, 5000n]);
      // the seller's collateral (300 Wh short at the cap price with the penalty) stays in its wallet, locked
      const ws = await market.walletOf(wind.id);
      expect([ws.balance, ws.reserved, ws.locked]).to.deep.equal([ETH, 0n, collateralOf(300n)]);
      expect(ws.withdrawable).to.equal(ETH - collateralOf(300n) - MARGIN - SECURITY);
      const wb = await market.walletOf(ev.id);
      expect([wb.balance, wb.reserved, wb.locked]).to.deep.equal([ETH - 2800n, 2800n, 0n]); // 400 Wh × 7000 wei/kWh
      await expectConserved(market);
    });

    it("reverts WrongPhase in the commit window and after the reveal window (the commit then stays, to be forfeited)", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind } = actors;
      await toCommit(market, D);
      const s = await commit(market, D, sell(wind, 300n, 5000n));
      await expect(revealWith(market, wind.signer, s)).to.be.revertedWithCustomError(market, "WrongPhase").withArgs(D, PHASE.Commit);
      await toClearing(market, D);
      await expect(revealWith(market, wind.signer, s)).to.be.revertedWithCustomError(market, "WrongPhase").withArgs(D, PHASE.Clearing);
      const b = await market.bidOf(D, wind.id);
      expect([b.committed, b.revealed]).to.deep.equal([true, false]);
      const w = await market.walletOf(wind.id);
      expect([w.balance, w.reserved, w.locked]).to.deep.equal([ETH, 0n, 0n]);
      expect(w.withdrawable).to.equal(ETH - MARGIN - SECURITY);
    });

    it("reverts WrongInterval, NoCommitment, BadReveal and AlreadyRevealed", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind, ev, controllable } = actors;
      await toCommit(market, D);
      const s = await commit(market, D, sell(wind, 300n, 5000n));
      await toReveal(market, D);
      const before = await snapshot(market);
      await expect(revealWith(market, wind.signer, { ...s, interval: D + 1 }))
        .to.be.revertedWithCustomError(market, "WrongInterval")
        .withArgs(D + 1, D);
      await expect(revealWith(market, ev.signer, { ...s })).to.be.revertedWithCustomError(market, "NoCommitment").withArgs(D, ev.id);
      await expect(revealWith(market, controllable.signer, { ...s, side: Side.Buy })).to.be.revertedWithCustomError(market, "NoCommitment").withArgs(D, controllable.id);
      for (const wrong of [
        { ...s, salt: ethers.id("other salt") },
        { ...s, priceWeiPerKWh: 5001n },
        { ...s, energyWh: 301n },
        { ...s, side: Side.Buy as SideValue },
      ]) {
        await expect(revealWith(market, wind.signer, wrong)).to.be.revertedWithCustomError(market, "BadReveal").withArgs(D, wind.id);
      }
      expect(await snapshot(market)).to.deep.equal(before);
      expect((await market.bidOf(D, wind.id)).committed).to.equal(true);
      await revealWith(market, wind.signer, s);
      await expect(revealWith(market, wind.signer, s)).to.be.revertedWithCustomError(market, "AlreadyRevealed").withArgs(D, wind.id);
      const b = await market.bidOf(D, wind.id);
      expect([b.revealed, b.energyWh]).to.deep.equal([true, 300n]);
    });

    it("a bid committed while authorized can be revealed after a deauthorization, and is settled without forfeit", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind } = actors;
      await toCommit(market, D);
      const s = await commit(market, D, sell(wind, 300n, 5000n));
      await market.authorize(wind.id, false);
      await toReveal(market, D);
      await expect(revealWith(market, wind.signer, s)).to.emit(market, "BidRevealed").withArgs(D, wind.id, Side.Sell, 300n, 5000n);
      await postAt(market, wind, D, 0n, 300n);
      await settleThrough(market, D, [wind.id]);
      expect(await market.queryFilter(market.filters.BidForfeited(D, wind.id))).to.deep.equal([]);
      const [settled] = await market.queryFilter(market.filters.ParticipantSettled(D, wind.id));
      expect([settled.args.declaredWh, settled.args.actualWh]).to.deep.equal([300n, 300n]);
      // the next commit is refused
      const later = Number(await market.currentInterval()) + 2;
      await toCommit(market, later);
      const next = await seal(market, wind.signer, later, Side.Sell, 100n, 1000n);
      await expect(market.connect(wind.signer).commitBid(later, next.commitment)).to.be.revertedWithCustomError(market, "NotAuthorized").withArgs(wind.id);
    });

    it("checks quantity and price: ZeroQuantity, QuantityTooLarge (the meter's rated energy), ZeroPrice, PriceTooHigh (maxima are allowed)", async function () {
      const { market, users } = await loadFixture(crowdFixture);
      // a 100 kW meter measures at most 25 kWh in 900 s: a larger bid is above what it could deliver or take
      expect(MAX_WH_PER_INTERVAL < MAX_ENERGY).to.equal(true);
      const cases: [Actor, bigint, bigint][] = [
        [users[0], 0n, 1000n],
        [users[1], MAX_WH_PER_INTERVAL + 1n, 1000n],
        [users[2], 100n, 0n],
        [users[3], 100n, MAX_PRICE + 1n],
      ];
      await toCommit(market, D);
      const sealed = [];
      for (const [u, e, p] of cases) {
        const s = await seal(market, u.signer, D, Side.Sell, e, p);
        await market.connect(u.signer).commitBid(D, s.commitment);
        sealed.push(s.bid);
      }
      const ok = await seal(market, users[4].signer, D, Side.Sell, MAX_WH_PER_INTERVAL, MAX_PRICE);
      await market.connect(users[4].signer).commitBid(D, ok.commitment);
      await toReveal(market, D);
      const before = await snapshot(market);
      await expect(revealWith(market, users[0].signer, sealed[0])).to.be.revertedWithCustomError(market, "ZeroQuantity").withArgs();
      await expect(revealWith(market, users[1].signer, sealed[1]))
        .to.be.revertedWithCustomError(market, "QuantityTooLarge")
        .withArgs(MAX_WH_PER_INTERVAL + 1n, MAX_WH_PER_INTERVAL);
      await expect(revealWith(market, users[2].signer, sealed[2])).to.be.revertedWithCustomError(market, "ZeroPrice").withArgs();
      await expect(revealWith(market, users[3].signer, sealed[3]))
        .to.be.revertedWithCustomError(market, "PriceTooHigh")
        .withArgs(MAX_PRICE + 1n, MAX_PRICE);
      for (const [u] of cases) expect((await market.bidOf(D, u.id)).revealed).to.equal(false);
      expect(await snapshot(market)).to.deep.equal(before);
      await expect(revealWith(market, users[4].signer, ok.bid)).to.emit(market, "BidRevealed");
    });

    it("the grid, which has no meter, is bounded by the market's maximum energy (QuantityTooLarge)", async function () {
      const { market, gridSigner } = await loadFixture(crowdFixture);
      await toCommit(market, D);
      const tooLarge = await seal(market, gridSigner, D, Side.Sell, MAX_ENERGY + 1n, 1000n);
      await market.connect(gridSigner).commitBid(D, tooLarge.commitment);
      await toReveal(market, D);
      await expect(revealWith(market, gridSigner, tooLarge.bid)).to.be.revertedWithCustomError(market, "QuantityTooLarge").withArgs(MAX_ENERGY + 1n, MAX_ENERGY);
    });

    it("InsufficientFunds for a buyer below energy × price and a seller below its collateral, beyond margin and security; the boundaries pass", async function () {
      const { market, users } = await loadFixture(crowdFixture);
      const [poorBuyer, okBuyer, poorSeller, okSeller] = users;
      const kept = MARGIN + SECURITY;
      const collateral = collateralOf(1000n);
      // sellers keep exactly margin + security + collateral, less one wei for the poor one
      await market.connect(poorSeller.signer).withdraw(ETH - (kept + collateral - 1n));
      await market.connect(okSeller.signer).withdraw(ETH - (kept + collateral));
      await toCommit(market, D);
      // 1000 Wh at price p costs p wei
      const tooMuch = await seal(market, poorBuyer.signer, D, Side.Buy, 1000n, ETH - kept + 1n);
      const justEnough = await seal(market, okBuyer.signer, D, Side.Buy, 1000n, ETH - kept);
      const s1 = await seal(market, poorSeller.signer, D, Side.Sell, 1000n, 1000n);
      const s2 = await seal(market, okSeller.signer, D, Side.Sell, 1000n, 1000n);
      await market.connect(poorBuyer.signer).commitBid(D, tooMuch.commitment);
      await market.connect(okBuyer.signer).commitBid(D, justEnough.commitment);
      await market.connect(poorSeller.signer).commitBid(D, s1.commitment);
      await market.connect(okSeller.signer).commitBid(D, s2.commitment);
      await toReveal(market, D);
      const before = await snapshot(market);
      await expect(revealWith(market, poorBuyer.signer, tooMuch.bid))
        .to.be.revertedWithCustomError(market, "InsufficientFunds")
        .withArgs(poorBuyer.id, ETH - kept + 1n, ETH - kept);
      await expect(revealWith(market, poorSeller.signer, s1.bid))
        .to.be.revertedWithCustomError(market, "InsufficientFunds")
        .withArgs(poorSeller.id, collateral, collateral - 1n);
      expect(await snapshot(market)).to.deep.equal(before);
      await expect(revealWith(market, okBuyer.signer, justEnough.bid)).to.emit(market, "BidRevealed");
      const w = await market.walletOf(okBuyer.id);
      expect([w.balance, w.reserved, w.withdrawable]).to.deep.equal([kept, ETH - kept, 0n]);
      await expect(revealWith(market, okSeller.signer, s2.bid)).to.emit(market, "BidRevealed");
      const ws = await market.walletOf(okSeller.id);
      expect([ws.balance, ws.locked, ws.withdrawable]).to.deep.equal([kept + collateral, collateral, 0n]);
      await expectConserved(market);
    });

    it("an unrevealed commit forfeits at settlement (BidForfeited) one interval of the meter's rated energy at the cap price with the penalty", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind, ev } = actors;
      await toCommit(market, D);
      await commit(market, D, sell(wind, 300n, 5000n));
      const s = await commit(market, D, buy(ev, 300n, 5000n));
      await toReveal(market, D);
      await expect(revealWith(market, ev.signer, { ...s, salt: ethers.id("forgot") })).to.be.revertedWithCustomError(market, "BadReveal");
      for (const a of [wind, ev]) {
        await postAt(market, a, 1, 0n, 0n);
        await postAt(market, a, 2, 0n, 0n);
      }
      await settleThrough(market, 1, [wind.id, ev.id]);
      await clearUntilDone(market, D);
      await toSettlement(market, D);
      const [poolBefore] = await market.pool();
      // 25 kWh × 0.0012 ether/kWh × 1.05: more than the flat forfeit (the whole margin)
      expect(METERED_FORFEIT).to.equal(315n * 10n ** 14n);
      expect(METERED_FORFEIT > FORFEIT).to.equal(true);
      await expect(market.settle(D, [wind.id, ev.id]))
        .to.emit(market, "BidForfeited")
        .withArgs(D, wind.id, METERED_FORFEIT)
        .and.to.emit(market, "BidForfeited")
        .withArgs(D, ev.id, METERED_FORFEIT);
      expect((await market.pool())[0]).to.equal(poolBefore + 2n * METERED_FORFEIT);
      for (const a of [wind, ev]) {
        const w = await market.walletOf(a.id);
        expect([w.balance, w.reserved, w.withdrawable]).to.deep.equal([ETH - METERED_FORFEIT, 0n, ETH - METERED_FORFEIT - SECURITY]);
        expect((await market.settlementOf(a.id)).nextInterval).to.equal(BigInt(D + 1));
      }
      await expectConserved(market);
    });
  });

  describe("sorted books", function () {
    // green sellers: users 0,2,4,6,8,10 (IDs 2,4,...,12); other buyers: users 1,3,...,11 (IDs 3,...,13)
    const SELL_PRICES = [5000n, 3000n, 5000n, 1000n, 3000n, 5000n];
    const BUY_PRICES = [4000n, 6000n, 4000n, 9000n, 6000n, 4000n];

    async function revealBooks(mode: "fresh" | "stale" | "zero" | "wrong", order: number[]) {
      const f = await loadFixture(crowdFixture);
      const { market, users } = f;
      await toCommit(market, D);
      const bids: { u: Actor; side: SideValue; price: bigint; sealed: Awaited<ReturnType<typeof seal>> }[] = [];
      for (let k = 0; k < 6; k++) {
        const s = users[2 * k];
        const b = users[2 * k + 1];
        const ss = await seal(market, s.signer, D, Side.Sell, 100n, SELL_PRICES[k]);
        const bs = await seal(market, b.signer, D, Side.Buy, 100n, BUY_PRICES[k]);
        await market.connect(s.signer).commitBid(D, ss.commitment);
        await market.connect(b.signer).commitBid(D, bs.commitment);
        bids.push({ u: s, side: Side.Sell, price: SELL_PRICES[k], sealed: ss }, { u: b, side: Side.Buy, price: BUY_PRICES[k], sealed: bs });
      }
      await toReveal(market, D);
      // stale hints: computed on the empty book before any reveal... then taken from a partly filled one
      const staleHints = await Promise.all(bids.map((b) => market.revealHint(D, b.u.id, b.side, b.u.green, b.price)));
      for (const i of order) {
        const b = bids[i];
        let hint: bigint;
        if (mode === "fresh") hint = await market.revealHint(D, b.u.id, b.side, b.u.green, b.price);
        else if (mode === "stale") hint = i % 3 === 0 ? staleHints[i] : BigInt(bids[(i + 2) % bids.length].u.id);
        else if (mode === "wrong") hint = [b.u.id, 99n, BigInt(bids[(i + 1) % bids.length].u.id)][i % 3];
        else hint = 0n;
        await revealWith(market, b.u.signer, b.sealed.bid, hint);
      }
      return { market, users, sells: await bookOf(market, D, Side.Sell, true), buys: await bookOf(market, D, Side.Buy, false) };
    }

    async function expected(market: EnergyMarket, users: Actor[]) {
      const sells = [0, 1, 2, 3, 4, 5].map((k) => ({ id: users[2 * k].id, p: SELL_PRICES[k] }));
      const buys = [0, 1, 2, 3, 4, 5].map((k) => ({ id: users[2 * k + 1].id, p: BUY_PRICES[k] }));
      sells.sort((a, b) => (a.p !== b.p ? Number(a.p - b.p) : Number(a.id - b.id)));
      buys.sort((a, b) => (a.p !== b.p ? Number(b.p - a.p) : Number(a.id - b.id)));
      expect(await market.bookHead(D, Side.Sell, false)).to.equal(0n);
      expect(await market.bookHead(D, Side.Buy, true)).to.equal(0n);
      return { sells: sells.map((x) => x.id), buys: buys.map((x) => x.id) };
    }

    it("fresh hints sort sells by price ascending and buys descending, ties by lower ID", async function () {
      const r = await revealBooks("fresh", [11, 0, 5, 3, 8, 1, 10, 2, 7, 4, 9, 6]);
      const e = await expected(r.market, r.users);
      expect(r.sells).to.deep.equal(e.sells);
      expect(r.buys).to.deep.equal(e.buys);
      // ties: users 0, 4 and 10 sell at 5000 and sit in ID order at the end
      expect(r.sells.slice(3)).to.deep.equal([r.users[0].id, r.users[4].id, r.users[10].id]);
    });

    it("stale, zero and wrong hints give the same book order as fresh ones", async function () {
      const order = [11, 0, 5, 3, 8, 1, 10, 2, 7, 4, 9, 6];
      const fresh = await revealBooks("fresh", order);
      for (const mode of ["stale", "zero", "wrong"] as const) {
        for (const o of [order, [...order].reverse()]) {
          const r = await revealBooks(mode, o);
          expect(r.sells, `${mode} sells`).to.deep.equal(fresh.sells);
          expect(r.buys, `${mode} buys`).to.deep.equal(fresh.buys);
        }
      }
    });
  });
});
