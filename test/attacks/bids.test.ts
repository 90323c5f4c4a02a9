/**
 * Attacks on sealed bids and their settlement: keeping a sealed bid as a cheap option, an
 * unfillable bid that buys a reward, front-running a settle batch, copying someone's commitment,
 * revealing someone else's bid.
 */
import { expect } from "chai";
import { PAPER_PARAMS, Side, clearUntilDone } from "../../lib/market";
import { forfeitOf, valueOf } from "../../lib/model";
import { ETH, buy, commit, kwh, milli, paperFixture, placeBids, reveal, sell, settleThrough, toClearing, toCommit, toReveal, toSettlement, toStart, loadFixture } from "../shared/fixtures";
import { attackFixture, join, meterEnergy, netEther, stakeFor } from "./support";

const P = PAPER_PARAMS as { forfeitWei: bigint; capPriceWeiPerKWh: bigint; penaltyRatioPpm: bigint; rewardRatioPpm: bigint; referencePriceWeiPerKWh: bigint; shortRatioPpm: bigint };

describe("attacks on sealed bids", function () {
  it("keeping a sealed bid as an option: two colluders commit a cheap and a dear offer and reveal only the one that pays; the forfeit costs more than the option gained", async function () {
    const f = await loadFixture(attackFixture);
    const { market, signers: s } = f;
    const stake = stakeFor(100_000, [kwh("25")]);
    const cheap = await join(market, s[2], s[12], { name: "cheap", depositWei: stake });
    const dear = await join(market, s[3], s[13], { name: "dear", depositWei: stake });
    const buyer = await join(market, s[4], s[14], { name: "buyer", depositWei: ETH });
    const d = Number(await market.currentInterval()) + 2;
    await toCommit(market, d);
    const cheapBid = sell(cheap, kwh("25"), milli("0.3"));
    const dearBid = sell(dear, kwh("25"), milli("1.2"));
    const buyBid = buy(buyer, kwh("25"), milli("1.2"));
    const sealedCheap = await commit(market, d, cheapBid);
    const sealedDear = await commit(market, d, dearBid);
    const sealedBuy = await commit(market, d, buyBid);
    await toReveal(market, d);
    // The buyer reveals a high price; the colluders, having seen it, reveal only the dear offer.
    await reveal(market, buyBid, sealedBuy);
    await reveal(market, dearBid, sealedDear);
    await toClearing(market, d);
    await clearUntilDone(market, d);
    const [trade] = await market.queryFilter(market.filters.TradeMatched(d));
    // What the option gained: the dear offer's proceeds over what the cheap one would have fetched.
    const gained = trade.args.amountWei - (kwh("25") * ((milli("0.3") + milli("1.2")) / 2n)) / 1000n;
    await toStart(market, d + 1);
    for (const p of [cheap, dear, buyer]) await meterEnergy(market, p, d - 1);
    await meterEnergy(market, cheap, d);
    await meterEnergy(market, dear, d, { exportWh: kwh("25") });
    await meterEnergy(market, buyer, d, { importWh: kwh("25") });
    await settleThrough(market, d, [cheap.id, dear.id, buyer.id]);
    const [forfeit] = await market.queryFilter(market.filters.BidForfeited(d, cheap.id));
    expect(forfeit.args.amount, "one interval of the meter's rated energy at the cap price, with the penalty").to.equal(forfeitOf(kwh("25"), P));
    expect(forfeit.args.amount, "more than the whole margin").to.be.greaterThan(P.forfeitWei);
    expect(forfeit.args.amount, "more than the option gained").to.be.greaterThan(gained);
    const [settledDear] = await market.queryFilter(market.filters.ParticipantSettled(d, dear.id));
    expect((await netEther(market, cheap)) + (await netEther(market, dear)), "the pair ends below an honest sale at the cheap price").to.be.lessThan(
      (kwh("25") * ((milli("0.3") + milli("1.2")) / 2n)) / 1000n + settledDear.args.incentiveWei,
    );
  });

  it("an unfillable buy at 1 wei for energy the buyer uses anyway earns no reward; a bid priced to trade at A earns it on what it declared (the paper's 14:00)", async function () {
    const f = await loadFixture(attackFixture);
    const { market, signers: s } = f;
    const freeloader = await join(market, s[2], s[12], { name: "freeloader", depositWei: ETH });
    const seller = await join(market, s[3], s[13], { name: "seller", depositWei: ETH });
    const honest = await join(market, s[4], s[14], { name: "honest", depositWei: ETH });
    const d = Number(await market.currentInterval()) + 2;
    // supply is short: the honest buyer's 10 kWh at 0.8 is only partly filled, the freeloader's 1 wei never
    await placeBids(market, d, [buy(freeloader, kwh("20"), 1n), sell(seller, kwh("4"), milli("0.6")), buy(honest, kwh("10"), milli("0.8"))]);
    await clearUntilDone(market, d);
    await toStart(market, d + 1);
    for (const p of [freeloader, seller, honest]) await meterEnergy(market, p, d - 1);
    await meterEnergy(market, freeloader, d, { importWh: kwh("20") });
    await meterEnergy(market, seller, d, { exportWh: kwh("4") });
    await meterEnergy(market, honest, d, { importWh: kwh("10") });
    await settleThrough(market, d, [freeloader.id, seller.id, honest.id]);
    const A = (await market.intervalOf(d)).balancingPriceWeiPerKWh;
    const [free] = await market.queryFilter(market.filters.ParticipantSettled(d, freeloader.id));
    expect(free.args.rewardWei, "nothing cleared, and 1 wei is no offer at A").to.equal(0n);
    const [fair] = await market.queryFilter(market.filters.ParticipantSettled(d, honest.id));
    expect(fair.args.clearedWh).to.equal(-kwh("4"));
    expect(fair.args.rewardWei, "its declared 10 kWh counts: it offered to buy at A").to.equal(valueOf(kwh("10"), A, P.rewardRatioPpm));
  });

  it("front-running a settle batch: a participant settled by someone else first is skipped with a reason, the rest of the batch stands", async function () {
    const { market, actors, gridId } = await loadFixture(paperFixture);
    const { wind, ev, conventional } = actors;
    const d = Number(await market.currentInterval()) + 2;
    await placeBids(market, d, [sell(wind, kwh("1"), milli("0.6")), buy(ev, kwh("1"), milli("0.8"))]);
    await clearUntilDone(market, d);
    await toStart(market, d + 1);
    for (const a of [wind, ev, conventional]) await market.connect(a.meter).postReading(a.meterNumber, d - 1, 0n, 0n);
    await market.connect(wind.meter).postReading(wind.meterNumber, d, 0n, kwh("1"));
    await market.connect(ev.meter).postReading(ev.meterNumber, d, kwh("1"), 0n);
    await market.connect(conventional.meter).postReading(conventional.meterNumber, d, 0n, 0n);
    await settleThrough(market, d - 1, [wind.id, ev.id, conventional.id]);
    await toSettlement(market, d);
    await market.settle(d, [ev.id]); // the front-runner
    const tx = await market.settle(d, [wind.id, ev.id, conventional.id, gridId]);
    await expect(tx).to.emit(market, "EntrySkipped").withArgs(d, ev.id, 1, market.interface.encodeErrorResult("AlreadySettled", [d, ev.id]));
    await expect(tx).to.emit(market, "EntrySkipped").withArgs(d, gridId, 3, market.interface.encodeErrorResult("NothingToSettle", [gridId]));
    for (const a of [wind, ev, conventional]) expect((await market.settlementOf(a.id)).nextInterval).to.equal(d + 1);
    expect(await market.queryFilter(market.filters.ParticipantSettled(d, ev.id))).to.have.length(1);
  });

  it("a copied commitment cannot be revealed by the copier, forfeits, and leaves the victim's bid intact", async function () {
    const { market, actors } = await loadFixture(paperFixture);
    const { wind, controllable } = actors;
    const d = Number(await market.currentInterval()) + 2;
    await toCommit(market, d);
    const victim = sell(wind, kwh("0.5"), milli("0.6"));
    const sealed = await commit(market, d, victim);
    const [log] = await market.queryFilter(market.filters.BidCommitted(d, wind.id));
    await market.connect(controllable.signer).commitBid(d, log.args.commitment);
    await toReveal(market, d);
    await expect(market.connect(controllable.signer).revealBid(d, Side.Sell, sealed.energyWh, sealed.priceWeiPerKWh, sealed.salt, 0))
      .to.be.revertedWithCustomError(market, "BadReveal")
      .withArgs(d, controllable.id);
    await reveal(market, victim, sealed);
    expect((await market.bidOf(d, wind.id)).revealed).to.equal(true);
    expect((await market.bidOf(d, controllable.id)).committed).to.equal(true);
    const poolBefore = (await market.pool()).balance;
    await settleThrough(market, d, [controllable.id]);
    const [forfeited] = await market.queryFilter(market.filters.BidForfeited(d, controllable.id));
    expect(forfeited.args.amount).to.equal(forfeitOf(kwh("25"), P));
    expect((await market.pool()).balance - poolBefore, "the forfeit went to the pool").to.equal(forfeited.args.amount);
  });

  it("nobody can reveal someone else's bid directly: the call is keyed by the sender and the bid stays sealed", async function () {
    const { market, actors } = await loadFixture(paperFixture);
    const { wind, ev } = actors;
    const d = Number(await market.currentInterval()) + 2;
    await toCommit(market, d);
    const sealed = await commit(market, d, sell(wind, kwh("0.5"), milli("0.6")));
    await toReveal(market, d);
    await expect(market.connect(ev.signer).revealBid(d, sealed.side, sealed.energyWh, sealed.priceWeiPerKWh, sealed.salt, 0))
      .to.be.revertedWithCustomError(market, "NoCommitment")
      .withArgs(d, ev.id);
    const bid = await market.bidOf(d, wind.id);
    expect(bid.committed).to.equal(true);
    expect(bid.revealed).to.equal(false);
  });
});
