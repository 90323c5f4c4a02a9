/**
 * Attacks: a reentrant withdraw, a copied commitment, a reveal by someone else.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { Side } from "../lib/market";
import { ETH, commit, kwh, milli, paperFixture, reveal, sell, settleThrough, toCommit, toReveal } from "./shared/fixtures";

describe("attacks", function () {
  it("a reentrant withdraw gets Reentrancy inside its receive() and takes only what it asked for once", async function () {
    const { market } = await loadFixture(paperFixture);
    const attacker = await (await ethers.getContractFactory("ReentrantWithdrawer")).deploy(await market.getAddress());
    await attacker.register();
    await attacker.depositAll({ value: ETH });
    const before = await ethers.provider.getBalance(await market.getAddress());
    await attacker.attack(ETH / 2n);
    expect(await attacker.reentries()).to.equal(1n);
    const selector = market.interface.getError("Reentrancy")!.selector;
    expect(await attacker.lastRevert()).to.equal(selector);
    expect(await ethers.provider.getBalance(await attacker.getAddress())).to.equal(ETH / 2n);
    expect(await ethers.provider.getBalance(await market.getAddress())).to.equal(before - ETH / 2n);
    const id = await market.idOf(await attacker.getAddress());
    expect((await market.walletOf(id)).balance).to.equal(ETH / 2n);
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
    await expect(
      market.connect(controllable.signer).revealBid(d, Side.Sell, sealed.energyWh, sealed.priceWeiPerKWh, sealed.salt, 0),
    ).to.be.revertedWithCustomError(market, "BadReveal").withArgs(d, controllable.id);
    await reveal(market, victim, sealed);
    expect((await market.bidOf(d, wind.id)).revealed).to.equal(true);
    expect((await market.bidOf(d, controllable.id)).committed).to.equal(true);
    const poolBefore = (await market.pool()).balance;
    await settleThrough(market, d, [controllable.id]);
    const forfeit = (await market.paramsAt(d)).forfeitWei;
    expect((await market.pool()).balance).to.equal(poolBefore + forfeit);
    const [forfeited] = await market.queryFilter(market.filters.BidForfeited(d, controllable.id));
    expect(forfeited.args.amount).to.equal(forfeit);
  });

  it("nobody can reveal someone else's bid: the call is keyed by the sender and the bid stays sealed", async function () {
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
