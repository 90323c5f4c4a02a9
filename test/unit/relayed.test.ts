/**
 * Relayed entry points: messages a prosumer or a meter signs off-chain (EIP-712, lib/signed.ts) and
 * anyone carries to the market, paying the gas. Batches check each entry on its own and skip a refused
 * one with EntrySkipped (WrongSigner, NotReplacing, UnknownParticipant, …); single calls revert.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { TypedDataEncoder } from "ethers";
import { EnergyMarket } from "../../typechain-types";
import { ETH, paperFixture, toCommit, toReveal, toStart, loadFixture } from "../shared/fixtures";
import { marketDomain, signAcceptance, signCommit, signReading, signRegistration, signWithdrawal } from "../../lib/signed";
import { SECURITY, Side, newMeter, seal, skipReason, skipsOf, snapshot } from "./helpers";

const D = 2;

async function domainOf(market: EnergyMarket) {
  const { chainId } = await ethers.provider.getNetwork();
  return marketDomain(chainId, await market.getAddress());
}

/** The paper's fixture with a relayer (signer 30) that holds ether but no role in the market. */
async function relayFixture() {
  const f = await paperFixture();
  return { ...f, relayer: f.signers[30], domain: await domainOf(f.market) };
}

describe("relayed entry points", function () {
  it("domainSeparator is the EIP-712 domain the clients sign for; maxBatch bounds a batch (BatchTooLarge)", async function () {
    const { market, relayer, domain } = await loadFixture(relayFixture);
    expect(await market.domainSeparator()).to.equal(TypedDataEncoder.hashDomain(domain));
    const max = await market.maxBatch();
    expect(max).to.equal(500n);
    const entry = { meterNumber: 1n, interval: 1, importWh: 0n, exportWh: 0n, r: ethers.ZeroHash, vs: ethers.ZeroHash };
    await expect(market.connect(relayer).postReadings(Array(Number(max) + 1).fill(entry)))
      .to.be.revertedWithCustomError(market, "BatchTooLarge")
      .withArgs(max + 1n, max);
  });

  describe("commitBatch and revealBatch", function () {
    it("commits a bid the prosumer signed and reveals it, both carried by a relayer who pays the gas", async function () {
      const { market, actors, relayer, domain } = await loadFixture(relayFixture);
      const { wind } = actors;
      await toCommit(market, D);
      const { bid, commitment } = await seal(market, wind.signer, D, Side.Sell, 300n, 5000n);
      const signed = await signCommit(wind.signer, domain, { participant: wind.id, interval: D, commitment });
      const before = await ethers.provider.getBalance(wind.signer.address);
      await expect(market.connect(relayer).commitBatch(D, [signed])).to.emit(market, "BidCommitted").withArgs(D, wind.id, commitment);
      expect((await market.bidOf(D, wind.id)).committed).to.equal(true);
      await toReveal(market, D);
      const opening = { participant: wind.id, side: bid.side, energyWh: bid.energyWh, priceWeiPerKWh: bid.priceWeiPerKWh, salt: bid.salt, hintPrevId: 0 };
      await expect(market.connect(relayer).revealBatch(D, [opening])).to.emit(market, "BidRevealed").withArgs(D, wind.id, Side.Sell, 300n, 5000n);
      expect(await ethers.provider.getBalance(wind.signer.address)).to.equal(before);
    });

    it("skips entries signed by another key (WrongSigner), for an unknown ID, or refused by the bid checks, and commits the rest", async function () {
      const { market, actors, relayer, domain, signers } = await loadFixture(relayFixture);
      const { wind, ev, controllable } = actors;
      await market.authorize(controllable.id, false);
      await toCommit(market, D);
      const c = (a: typeof wind) => seal(market, a.signer, D, Side.Sell, 100n, 1000n).then((x) => x.commitment);
      const forged = await signCommit(signers[31], domain, { participant: ev.id, interval: D, commitment: await c(ev) });
      const unknown = await signCommit(signers[31], domain, { participant: 99, interval: D, commitment: ethers.id("x") });
      const unauthorized = await signCommit(controllable.signer, domain, { participant: controllable.id, interval: D, commitment: await c(controllable) });
      // signed for another interval: the signature recovers some other account
      const otherInterval = await signCommit(ev.signer, domain, { participant: ev.id, interval: D + 1, commitment: await c(ev) });
      const good = await signCommit(wind.signer, domain, { participant: wind.id, interval: D, commitment: await c(wind) });
      const tx = market.connect(relayer).commitBatch(D, [forged, unknown, unauthorized, otherInterval, good]);
      await expect(tx)
        .to.emit(market, "EntrySkipped")
        .withArgs(D, ev.id, 0, skipReason(market, "WrongSigner", [ev.id, signers[31].address]))
        .and.to.emit(market, "EntrySkipped")
        .withArgs(D, 99, 1, skipReason(market, "UnknownParticipant", [99]))
        .and.to.emit(market, "EntrySkipped")
        .withArgs(D, controllable.id, 2, skipReason(market, "NotAuthorized", [controllable.id]))
        .and.to.emit(market, "BidCommitted")
        .withArgs(D, wind.id, good.commitment);
      const skips = await skipsOf(market, tx);
      expect(skips.map((s) => [s.index, s.error])).to.deep.equal([
        [0n, "WrongSigner"],
        [1n, "UnknownParticipant"],
        [2n, "NotAuthorized"],
        [3n, "WrongSigner"],
      ]);
      expect(skips[3].args[1]).to.not.equal(ev.signer.address);
      expect((await market.bidOf(D, ev.id)).committed).to.equal(false);
      expect((await market.bidOf(D, controllable.id)).committed).to.equal(false);
    });

    it("a replayed or stale signed commit is skipped (NotReplacing): only the commitment it names can be replaced", async function () {
      const { market, actors, relayer, domain } = await loadFixture(relayFixture);
      const { wind } = actors;
      await toCommit(market, D);
      const first = (await seal(market, wind.signer, D, Side.Sell, 100n, 1000n)).commitment;
      const second = (await seal(market, wind.signer, D, Side.Sell, 200n, 2000n)).commitment;
      const third = (await seal(market, wind.signer, D, Side.Sell, 300n, 3000n)).commitment;
      const signedFirst = await signCommit(wind.signer, domain, { participant: wind.id, interval: D, commitment: first });
      const signedSecond = await signCommit(wind.signer, domain, { participant: wind.id, interval: D, commitment: second, replaces: first });
      await market.connect(relayer).commitBatch(D, [signedFirst]);
      await market.connect(relayer).commitBatch(D, [signedSecond]);
      // replaying the first would put back a bid the prosumer withdrew
      await expect(market.connect(relayer).commitBatch(D, [signedFirst]))
        .to.emit(market, "EntrySkipped")
        .withArgs(D, wind.id, 0, skipReason(market, "NotReplacing", [D, wind.id]))
        .and.not.to.emit(market, "BidCommitted");
      await expect(market.connect(relayer).commitBatch(D, [signedSecond]))
        .to.emit(market, "EntrySkipped")
        .withArgs(D, wind.id, 0, skipReason(market, "NotReplacing", [D, wind.id]));
      // a commitment naming one that is no longer held is stale
      const stale = await signCommit(wind.signer, domain, { participant: wind.id, interval: D, commitment: third, replaces: first });
      await expect(market.connect(relayer).commitBatch(D, [stale]))
        .to.emit(market, "EntrySkipped")
        .withArgs(D, wind.id, 0, skipReason(market, "NotReplacing", [D, wind.id]));
      const [last] = (await market.queryFilter(market.filters.BidCommitted(D, wind.id))).slice(-1);
      expect(last.args.commitment).to.equal(second);
      const next = await signCommit(wind.signer, domain, { participant: wind.id, interval: D, commitment: third, replaces: second });
      await expect(market.connect(relayer).commitBatch(D, [next])).to.emit(market, "BidCommitted").withArgs(D, wind.id, third);
    });

    it("revealBatch skips an opening that does not match its commitment (BadReveal) and reveals the rest", async function () {
      const { market, actors, relayer } = await loadFixture(relayFixture);
      const { wind, ev } = actors;
      await toCommit(market, D);
      const w = await seal(market, wind.signer, D, Side.Sell, 300n, 5000n);
      const e = await seal(market, ev.signer, D, Side.Buy, 300n, 6000n);
      await market.connect(wind.signer).commitBid(D, w.commitment);
      await market.connect(ev.signer).commitBid(D, e.commitment);
      await toReveal(market, D);
      const opening = (id: bigint, b: typeof w.bid) => ({ participant: id, side: b.side, energyWh: b.energyWh, priceWeiPerKWh: b.priceWeiPerKWh, salt: b.salt, hintPrevId: 0 });
      await expect(market.connect(relayer).revealBatch(D, [opening(wind.id, { ...w.bid, energyWh: 301n }), opening(ev.id, e.bid)]))
        .to.emit(market, "EntrySkipped")
        .withArgs(D, wind.id, 0, skipReason(market, "BadReveal", [D, wind.id]))
        .and.to.emit(market, "BidRevealed")
        .withArgs(D, ev.id, Side.Buy, 300n, 6000n);
      expect((await market.bidOf(D, wind.id)).revealed).to.equal(false);
    });
  });

  describe("postReadings", function () {
    it("posts readings the meters signed; one signed by another key is skipped (UnknownMeterAccount)", async function () {
      const { market, actors, relayer, domain, signers } = await loadFixture(relayFixture);
      const { wind, ev } = actors;
      await toStart(market, 2);
      const good = await signReading(wind.meter, domain, { meterNumber: wind.meterNumber, interval: 1, importWh: 10n, exportWh: 900n });
      const forged = await signReading(signers[31], domain, { meterNumber: ev.meterNumber, interval: 1, importWh: 0n, exportWh: 5000n });
      const tx = market.connect(relayer).postReadings([forged, good]);
      await expect(tx)
        .to.emit(market, "ReadingPosted")
        .withArgs(wind.id, 1, 10n, 900n)
        .and.to.emit(market, "EntrySkipped")
        .withArgs(1, ev.meterNumber, 0, skipReason(market, "UnknownMeterAccount", [signers[31].address]));
      expect(await market.readingOf(ev.id, 1)).to.deep.equal([false, 0n, 0n]);
      expect(await market.readingOf(wind.id, 1)).to.deep.equal([true, 10n, 900n]);
    });
  });

  describe("registerBatch", function () {
    it("registers accounts that signed their registration; skips a forged one (WrongSigner) and a known account (AlreadyRegistered)", async function () {
      const { market, actors, relayer, domain, signers } = await loadFixture(relayFixture);
      const count = await market.participantCount();
      const alice = await signRegistration(signers[32], domain, "alice", true);
      const forged = { ...(await signRegistration(signers[31], domain, "mallory", false)), account: signers[33].address };
      const again = await signRegistration(actors.wind.signer, domain, "wind again", true);
      const tx = market.connect(relayer).registerBatch([alice, forged, again]);
      await expect(tx).to.emit(market, "ParticipantRegistered").withArgs(count + 1n, signers[32].address, "alice", true, false);
      const skips = await skipsOf(market, tx);
      expect(skips.map((s) => [s.subject, s.index, s.error])).to.deep.equal([
        [BigInt(signers[33].address), 1n, "WrongSigner"],
        [BigInt(actors.wind.signer.address), 2n, "AlreadyRegistered"],
      ]);
      expect(await market.idOf(signers[33].address)).to.equal(0n);
      expect(await market.participantCount()).to.equal(count + 1n);
    });
  });

  describe("withdrawFor", function () {
    it("pays the prosumer's own account on its signature, once per nonce (WrongNonce), never on another key's (WrongSigner)", async function () {
      const { market, actors, relayer, domain, signers } = await loadFixture(relayFixture);
      const { wind } = actors;
      expect(await market.withdrawalNonce(wind.id)).to.equal(0n);
      const amount = ETH / 10n;
      const sig = await signWithdrawal(wind.signer, domain, { participant: wind.id, amount, nonce: 0 });
      const tx = market.connect(relayer).withdrawFor(wind.id, amount, 0, sig.r, sig.vs);
      await expect(tx).to.emit(market, "Withdrawn").withArgs(wind.id, amount);
      await expect(tx).to.changeEtherBalances([wind.signer, relayer, market], [amount, 0n, -amount]);
      expect(await market.withdrawalNonce(wind.id)).to.equal(1n);
      const before = await snapshot(market);
      // the same signed message again
      await expect(market.connect(relayer).withdrawFor(wind.id, amount, 0, sig.r, sig.vs)).to.be.revertedWithCustomError(market, "WrongNonce").withArgs(wind.id, 0, 1);
      // another key's signature, or the prosumer's for another amount
      const forged = await signWithdrawal(signers[31], domain, { participant: wind.id, amount, nonce: 1 });
      await expect(market.connect(relayer).withdrawFor(wind.id, amount, 1, forged.r, forged.vs))
        .to.be.revertedWithCustomError(market, "WrongSigner")
        .withArgs(wind.id, signers[31].address);
      const other = await signWithdrawal(wind.signer, domain, { participant: wind.id, amount, nonce: 1 });
      await expect(market.connect(relayer).withdrawFor(wind.id, 2n * amount, 1, other.r, other.vs)).to.be.revertedWithCustomError(market, "WrongSigner");
      expect(await snapshot(market)).to.deep.equal(before);
      // the rules of withdraw hold: the security stays
      const all = ETH - amount - SECURITY;
      const tooMuch = await signWithdrawal(wind.signer, domain, { participant: wind.id, amount: all + 1n, nonce: 1 });
      await expect(market.connect(relayer).withdrawFor(wind.id, all + 1n, 1, tooMuch.r, tooMuch.vs))
        .to.be.revertedWithCustomError(market, "InsufficientFunds")
        .withArgs(wind.id, all + 1n, all);
      expect(await market.withdrawalNonce(wind.id)).to.equal(1n);
    });
  });

  describe("acceptMeterFor", function () {
    it("binds the proposal the prosumer signed for; another key's signature is refused (WrongSigner)", async function () {
      const { market, relayer, domain, signers } = await loadFixture(relayFixture);
      const prosumer = signers[8];
      await market.connect(prosumer).register("new", false);
      const id = await market.idOf(prosumer.address);
      await market.connect(prosumer).deposit({ value: ETH });
      await market.proposeMeter(id, newMeter(42n, signers[18].address, 5000n));
      const [proposal] = await market.meterProposalOf(id);
      const forged = await signAcceptance(signers[31], domain, { participant: id, proposal });
      await expect(market.connect(relayer).acceptMeterFor(id, proposal, forged.r, forged.vs))
        .to.be.revertedWithCustomError(market, "WrongSigner")
        .withArgs(id, signers[31].address);
      expect((await market.meterOf(id)).meterNumber).to.equal(0n);
      const sig = await signAcceptance(prosumer, domain, { participant: id, proposal });
      await expect(market.connect(relayer).acceptMeterFor(id, proposal, sig.r, sig.vs)).to.emit(market, "MeterBound").withArgs(id, 42n, signers[18].address, 5000n, 1);
      // the operator cannot reuse the consent for a later proposal
      await market.proposeMeter(id, newMeter(43n, signers[19].address, 9_000_000n));
      const [later] = await market.meterProposalOf(id);
      await expect(market.connect(relayer).acceptMeterFor(id, later, sig.r, sig.vs)).to.be.revertedWithCustomError(market, "WrongSigner");
      expect((await market.meterOf(id)).meterNumber).to.equal(42n);
    });
  });
});
