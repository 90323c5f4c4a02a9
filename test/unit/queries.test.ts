/**
 * Queries: the views of participants, wallets, pool, debts, meters, meter proposals, readings,
 * settlement cursors, bids and books, interval phases over time, limits, the operator and its
 * proposed successor, and commitments.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { ETH, INTERVAL, commit, paperFixture, sell, buy, toClearing, toCommit, toReveal, toSettlement, toStart, reveal, loadFixture } from "../shared/fixtures";
import { clearUntilDone, commitmentOf, newSalt } from "../../lib/market";
import { DEFAULT_LIMITS, PAPER_PARAMS, PHASE, REF_PRICE, SECURITY, STAGE, Side, newMeter, postAt } from "./helpers";

describe("queries", function () {
  it("schedule, operator, currentInterval, participantCount, gridId, idOf, participantOfMeter", async function () {
    const { market, start, operator, actors, gridId, gridSigner, signers } = await loadFixture(paperFixture);
    const s = await market.schedule();
    expect(s.map((x) => BigInt(x))).to.deep.equal([start, 900n, 120n, 60n, 600n, 300n]);
    expect(await market.operator()).to.equal(operator.address);
    expect(await market.pendingOperator()).to.equal(ethers.ZeroAddress);
    const l = await market.limits();
    expect([l.maxPriceWeiPerKWh, l.maxBandPriceWeiPerKWh, l.maxMarginWei, l.maxRatedPowerW]).to.deep.equal([
      DEFAULT_LIMITS.maxPriceWeiPerKWh,
      DEFAULT_LIMITS.maxBandPriceWeiPerKWh,
      DEFAULT_LIMITS.maxMarginWei,
      DEFAULT_LIMITS.maxRatedPowerW,
    ]);
    expect(await market.currentInterval()).to.equal(0);
    await toStart(market, 7);
    expect(await market.currentInterval()).to.equal(7);
    expect(await market.participantCount()).to.equal(5);
    expect(await market.idOf(gridSigner.address)).to.equal(gridId);
    expect(await market.idOf(signers[9].address)).to.equal(0);
    expect(await market.participantOfMeter(actors.ev.meter.address)).to.equal(actors.ev.id);
    expect(await market.participantOfMeter(actors.ev.signer.address)).to.equal(0);
    expect(await market.paramsAt(7)).to.deep.equal(Object.values(PAPER_PARAMS));
  });

  it("participant, walletOf, pool, debtOf, meterOf, meterProposalOf, readingOf, settlementOf", async function () {
    const { market, actors, gridId, signers } = await loadFixture(paperFixture);
    const { ev } = actors;
    const p = await market.participant(ev.id);
    expect([p.id, p.account, p.name, p.green, p.authorized, p.grid]).to.deep.equal([ev.id, ev.signer.address, "ev", true, true, false]);
    const w = await market.walletOf(ev.id);
    expect([w.balance, w.reserved, w.locked, w.security, w.owed, w.due, w.withdrawable]).to.deep.equal([ETH, 0n, 0n, SECURITY, 0n, 0n, ETH - SECURITY]);
    const g = await market.walletOf(gridId);
    expect([g.balance, g.security, g.withdrawable]).to.deep.equal([100n * ETH, 0n, 100n * ETH]);
    expect(await market.pool()).to.deep.equal([ETH, 0n]);
    expect(await market.debtOf(ev.id, gridId)).to.equal(0n);
    const m = await market.meterOf(ev.id);
    expect([m.meterNumber, m.account, m.ratedPowerW, m.hasReading, m.importWh, m.exportWh]).to.deep.equal([ev.meterNumber, ev.meter.address, 100_000n, false, 0n, 0n]);
    expect((await market.meterOf(gridId)).meterNumber).to.equal(0n);
    const [none, empty] = await market.meterProposalOf(ev.id);
    expect([none, empty.meterNumber, empty.account]).to.deep.equal([ethers.ZeroHash, 0n, ethers.ZeroAddress]);
    const proposal = newMeter(7n, signers[19].address, 2000n, { importWh: 5n, exportWh: 6n });
    await market.proposeMeter(ev.id, proposal);
    const [hash, proposed] = await market.meterProposalOf(ev.id);
    expect(hash).to.not.equal(ethers.ZeroHash);
    expect([proposed.meterNumber, proposed.account, proposed.ratedPowerW, proposed.openImportWh, proposed.openExportWh, proposed.closeImportWh, proposed.closeExportWh]).to.deep.equal([
      7n,
      signers[19].address,
      2000n,
      5n,
      6n,
      0n,
      0n,
    ]);
    expect(await market.readingOf(ev.id, 1)).to.deep.equal([false, 0n, 0n]);
    await postAt(market, ev, 1, 12n, 34n);
    expect(await market.readingOf(ev.id, 1)).to.deep.equal([true, 12n, 34n]);
    const after = await market.meterOf(ev.id);
    expect([after.hasReading, after.lastInterval, after.importWh, after.exportWh]).to.deep.equal([true, 1n, 12n, 34n]);
    const c = await market.settlementOf(ev.id);
    expect([c.started, c.nextInterval]).to.deep.equal([true, 1n]);
    expect((await market.settlementOf(gridId)).started).to.equal(false);
  });

  it("intervalOf: timing and phases over time, from Upcoming to Settlement", async function () {
    const { market, start } = await loadFixture(paperFixture);
    const d = 2;
    const v = await market.intervalOf(d);
    const t0 = start + BigInt((d - 1) * INTERVAL);
    expect([v.commitStart, v.revealStart, v.revealEnd, v.settleStart]).to.deep.equal([t0, t0 + 120n, t0 + 180n, start + BigInt((d + 1) * INTERVAL) + 600n]);
    expect(v.phase).to.equal(PHASE.Upcoming);
    expect([v.averagePriceWeiPerKWh, v.balancingPriceWeiPerKWh]).to.deep.equal([REF_PRICE, REF_PRICE]);
    expect((await market.intervalOf(0)).phase).to.equal(PHASE.Upcoming);
    await toCommit(market, d);
    expect((await market.intervalOf(d)).phase).to.equal(PHASE.Commit);
    await toReveal(market, d);
    expect((await market.intervalOf(d)).phase).to.equal(PHASE.Reveal);
    await toClearing(market, d);
    expect((await market.intervalOf(d)).phase).to.equal(PHASE.Clearing);
    // clearing may run late: the phase waits for it
    await toSettlement(market, d);
    expect((await market.intervalOf(d)).phase).to.equal(PHASE.Clearing);
    await clearUntilDone(market, d);
    const done = await market.intervalOf(d);
    expect([done.phase, done.stage]).to.deep.equal([BigInt(PHASE.Settlement), BigInt(STAGE.Done)]);
    // a cleared interval before its settlement window is in Delivery
    await toClearing(market, d + 2);
    await clearUntilDone(market, d + 2);
    expect((await market.intervalOf(d + 2)).phase).to.equal(PHASE.Delivery);
    expect((await market.intervalOf(0)).phase).to.equal(PHASE.Upcoming);
  });

  it("bidCommitment equals the client's commitmentOf and binds interval, bidder and every field", async function () {
    const { market, actors } = await loadFixture(paperFixture);
    const { wind, ev } = actors;
    const { chainId } = await ethers.provider.getNetwork();
    const bid = { interval: 2, side: Side.Buy, energyWh: 123n, priceWeiPerKWh: 456n, salt: newSalt() } as const;
    const local = commitmentOf(chainId, await market.getAddress(), wind.signer.address, bid);
    expect(await market.bidCommitment(2, wind.signer.address, Side.Buy, 123n, 456n, bid.salt)).to.equal(local);
    const variants = [
      market.bidCommitment(3, wind.signer.address, Side.Buy, 123n, 456n, bid.salt),
      market.bidCommitment(2, ev.signer.address, Side.Buy, 123n, 456n, bid.salt),
      market.bidCommitment(2, wind.signer.address, Side.Sell, 123n, 456n, bid.salt),
      market.bidCommitment(2, wind.signer.address, Side.Buy, 124n, 456n, bid.salt),
      market.bidCommitment(2, wind.signer.address, Side.Buy, 123n, 457n, bid.salt),
      market.bidCommitment(2, wind.signer.address, Side.Buy, 123n, 456n, newSalt()),
    ];
    for (const v of await Promise.all(variants)) expect(v).to.not.equal(local);
  });

  it("bidOf, bookHead and revealHint follow a bid from commit through clearing", async function () {
    const { market, actors } = await loadFixture(paperFixture);
    const { wind, ev, conventional } = actors;
    const d = 2;
    let b = await market.bidOf(d, wind.id);
    expect([b.committed, b.revealed, b.energyWh]).to.deep.equal([false, false, 0n]);
    await toCommit(market, d);
    const ss = await commit(market, d, sell(wind, 500n, 1000n));
    const bs1 = await commit(market, d, buy(ev, 300n, 3000n));
    const bs2 = await commit(market, d, buy(conventional, 300n, 2000n));
    b = await market.bidOf(d, wind.id);
    expect([b.committed, b.revealed]).to.deep.equal([true, false]);
    await toReveal(market, d);
    expect(await market.bookHead(d, Side.Sell, true)).to.equal(0n);
    expect(await market.revealHint(d, wind.id, Side.Sell, true, 1000n)).to.equal(0n);
    await reveal(market, sell(wind, 500n, 1000n), ss);
    await reveal(market, buy(ev, 300n, 3000n), bs1);
    await reveal(market, buy(conventional, 300n, 2000n), bs2);
    expect(await market.bookHead(d, Side.Sell, true)).to.equal(wind.id);
    expect(await market.bookHead(d, Side.Buy, true)).to.equal(ev.id);
    expect(await market.bookHead(d, Side.Buy, false)).to.equal(conventional.id);
    expect(await market.bookHead(d, Side.Sell, false)).to.equal(0n);
    // a further green sell at a higher price would go after wind; at a lower one, at the head
    expect(await market.revealHint(d, 99, Side.Sell, true, 2000n)).to.equal(wind.id);
    expect(await market.revealHint(d, 99, Side.Sell, true, 500n)).to.equal(0n);
    // equal price: after wind only for a higher ID
    expect(await market.revealHint(d, 1, Side.Sell, true, 1000n)).to.equal(0n);
    expect(await market.revealHint(d, 99, Side.Sell, true, 1000n)).to.equal(wind.id);
    b = await market.bidOf(d, wind.id);
    expect([b.committed, b.revealed, b.side, b.green, b.energyWh, b.remainingWh, b.priceWeiPerKWh, b.next]).to.deep.equal([
      false,
      true,
      BigInt(Side.Sell),
      true,
      500n,
      500n,
      1000n,
      0n,
    ]);
    await toClearing(market, d);
    await clearUntilDone(market, d);
    // ev took 300 (green stage), conventional 200 (all stage)
    expect((await market.bidOf(d, wind.id)).remainingWh).to.equal(0n);
    expect((await market.bidOf(d, conventional.id)).remainingWh).to.equal(100n);
    // books hold what remains once clearing ran: the sell book is used up and buy books released
    expect(await market.bookHead(d, Side.Sell, true)).to.equal(0n);
    expect(await market.bookHead(d, Side.Buy, false)).to.equal(0n);
  });
});
