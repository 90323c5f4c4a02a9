/**
 * Meters: the operator proposes (proposeMeter), the prosumer accepts (acceptMeter), the operator
 * releases (unbindMeter); re-binding and swapping keep the energy settled equal to the register
 * differences; and postReading.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { EnergyMarket } from "../../typechain-types";
import { Actor, ETH, commit, paperFixture, sell, settleThrough, toCommit, toGraceOver, toSettlement, toStart, loadFixture } from "../shared/fixtures";
import { clearUntilDone } from "../../lib/market";
import type { MeterProposal } from "../../lib/market";
import { DEFAULT_LIMITS, MAX_WH_PER_INTERVAL, RATED_W, SECURITY, Side, bindMeter, newMeter, postAt, seal, securityFor, snapshot } from "./helpers";

async function settledEnergy(market: EnergyMarket, id: bigint, intervals: number[]) {
  const out = [];
  for (const d of intervals) {
    const [log] = await market.queryFilter(market.filters.ParticipantSettled(d, id));
    out.push({ actualWh: log.args.actualWh, readingMissing: log.args.readingMissing });
  }
  return out;
}

/** A newcomer (signer 8) registered with `depositWei` in its wallet and no meter. */
async function newcomer(market: EnergyMarket, signers: Awaited<ReturnType<typeof paperFixture>>["signers"], depositWei = ETH) {
  const signer = signers[8];
  await market.connect(signer).register("new", false);
  const id = await market.idOf(signer.address);
  if (depositWei > 0n) await market.connect(signer).deposit({ value: depositWei });
  return { signer, id };
}

const swap = (number: bigint, account: string, close: { importWh: bigint; exportWh: bigint }, open = { importWh: 0n, exportWh: 0n }): MeterProposal => ({
  ...newMeter(number, account, RATED_W, open),
  closeImportWh: close.importWh,
  closeExportWh: close.exportWh,
});

describe("meters", function () {
  describe("proposeMeter and acceptMeter", function () {
    it("a proposal binds nothing until the prosumer accepts it; then the meter serves it from the current interval", async function () {
      const { market, signers } = await loadFixture(paperFixture);
      const { signer, id } = await newcomer(market, signers);
      const meter = newMeter(42n, signers[18].address, 5000n);
      await expect(market.proposeMeter(id, meter)).to.emit(market, "MeterProposed");
      const [hash, proposed] = await market.meterProposalOf(id);
      expect(hash).to.not.equal(ethers.ZeroHash);
      expect([proposed.meterNumber, proposed.account, proposed.ratedPowerW]).to.deep.equal([42n, signers[18].address, 5000n]);
      const [event] = await market.queryFilter(market.filters.MeterProposed(id));
      expect(event.args.proposal).to.equal(hash);
      // nothing is bound yet: the account cannot post, the prosumer is not metered
      expect((await market.meterOf(id)).meterNumber).to.equal(0n);
      expect(await market.participantOfMeter(signers[18].address)).to.equal(0n);
      expect((await market.settlementOf(id)).started).to.equal(false);

      await toStart(market, 3);
      await expect(market.connect(signer).acceptMeter(hash)).to.emit(market, "MeterBound").withArgs(id, 42n, signers[18].address, 5000n, 3);
      const m = await market.meterOf(id);
      expect([m.meterNumber, m.account, m.ratedPowerW, m.hasReading, m.importWh, m.exportWh]).to.deep.equal([42n, signers[18].address, 5000n, false, 0n, 0n]);
      expect(await market.participantOfMeter(signers[18].address)).to.equal(id);
      // settlement starts with the interval of the binding: energy from the opening registers on counts
      const s = await market.settlementOf(id);
      expect([s.started, s.nextInterval]).to.deep.equal([true, 3n]);
      expect((await market.meterProposalOf(id))[0]).to.equal(ethers.ZeroHash);
      // the security of a 5 kW meter stays in the wallet
      const w = await market.walletOf(id);
      expect([w.security, w.withdrawable]).to.deep.equal([securityFor(5000n), ETH - securityFor(5000n)]);
    });

    it("a meter bound at the very start serves from interval 1 (interval 0 never trades)", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const [log] = await market.queryFilter(market.filters.MeterBound(actors.wind.id));
      expect(log.args.fromInterval).to.equal(1n);
      expect((await market.settlementOf(actors.wind.id)).nextInterval).to.equal(1n);
    });

    it("proposeMeter reverts NotOperator, UnknownParticipant, NotForGrid, InvalidMeterNumber, ZeroValue, RatedPowerTooHigh and MeterInUse, proposing nothing", async function () {
      const { market, signers, gridId, actors } = await loadFixture(paperFixture);
      const { wind } = actors;
      const { signer, id } = await newcomer(market, signers);
      const acc = signers[18].address;
      const maxW = BigInt(DEFAULT_LIMITS.maxRatedPowerW as bigint);
      const before = await snapshot(market);
      await expect(market.connect(signer).proposeMeter(id, newMeter(42n, acc, 5000n)))
        .to.be.revertedWithCustomError(market, "NotOperator")
        .withArgs(signer.address);
      await expect(market.proposeMeter(99, newMeter(42n, acc, 5000n))).to.be.revertedWithCustomError(market, "UnknownParticipant").withArgs(99);
      await expect(market.proposeMeter(gridId, newMeter(42n, acc, 5000n))).to.be.revertedWithCustomError(market, "NotForGrid").withArgs(gridId);
      await expect(market.proposeMeter(id, newMeter(0n, acc, 5000n))).to.be.revertedWithCustomError(market, "InvalidMeterNumber").withArgs(0n);
      await expect(market.proposeMeter(id, newMeter(10n ** 12n, acc, 5000n)))
        .to.be.revertedWithCustomError(market, "InvalidMeterNumber")
        .withArgs(10n ** 12n);
      await expect(market.proposeMeter(id, newMeter(42n, ethers.ZeroAddress, 5000n))).to.be.revertedWithCustomError(market, "ZeroValue").withArgs();
      await expect(market.proposeMeter(id, newMeter(42n, acc, 0n))).to.be.revertedWithCustomError(market, "ZeroValue").withArgs();
      await expect(market.proposeMeter(id, newMeter(42n, acc, maxW + 1n)))
        .to.be.revertedWithCustomError(market, "RatedPowerTooHigh")
        .withArgs(maxW + 1n, maxW);
      // another prosumer's meter number or meter account
      await expect(market.proposeMeter(id, newMeter(wind.meterNumber, acc, 5000n)))
        .to.be.revertedWithCustomError(market, "MeterInUse")
        .withArgs(wind.id);
      await expect(market.proposeMeter(id, newMeter(42n, wind.meter.address, 5000n)))
        .to.be.revertedWithCustomError(market, "MeterInUse")
        .withArgs(wind.id);
      expect(await snapshot(market)).to.deep.equal(before);
      // the bounds themselves are allowed
      await expect(market.proposeMeter(id, newMeter(999_999_999_999n, acc, maxW))).to.emit(market, "MeterProposed");
    });

    it("acceptMeter reverts NotRegistered, NotForGrid and NoSuchProposal (none, a stranger's hash, a replaced proposal, another prosumer's), binding nothing", async function () {
      const { market, signers, gridSigner, gridId, actors } = await loadFixture(paperFixture);
      const { signer, id } = await newcomer(market, signers);
      const random = ethers.id("not a proposal");
      await expect(market.connect(signer).acceptMeter(ethers.ZeroHash)).to.be.revertedWithCustomError(market, "NoSuchProposal").withArgs(id, ethers.ZeroHash);
      await expect(market.connect(signer).acceptMeter(random)).to.be.revertedWithCustomError(market, "NoSuchProposal").withArgs(id, random);
      await market.proposeMeter(id, newMeter(42n, signers[18].address, 5000n));
      const [first] = await market.meterProposalOf(id);
      // the same meter proposed again: a new hash, and the first can no longer be accepted
      await market.proposeMeter(id, newMeter(42n, signers[18].address, 5000n));
      const [second] = await market.meterProposalOf(id);
      expect(second).to.not.equal(first);
      const before = await snapshot(market);
      await expect(market.connect(signer).acceptMeter(first)).to.be.revertedWithCustomError(market, "NoSuchProposal").withArgs(id, first);
      // another prosumer cannot take the newcomer's proposal
      await expect(market.connect(actors.wind.signer).acceptMeter(second))
        .to.be.revertedWithCustomError(market, "NoSuchProposal")
        .withArgs(actors.wind.id, second);
      await expect(market.connect(signers[9]).acceptMeter(second)).to.be.revertedWithCustomError(market, "NotRegistered").withArgs(signers[9].address);
      await expect(market.connect(gridSigner).acceptMeter(second)).to.be.revertedWithCustomError(market, "NotForGrid").withArgs(gridId);
      expect(await snapshot(market)).to.deep.equal(before);
      await expect(market.connect(signer).acceptMeter(second)).to.emit(market, "MeterBound");
    });

    it("acceptMeter reverts InsufficientFunds until the wallet holds the meter's security (deposit first)", async function () {
      const { market, signers } = await loadFixture(paperFixture);
      const { signer, id } = await newcomer(market, signers, SECURITY - 1n);
      await market.proposeMeter(id, newMeter(42n, signers[18].address, RATED_W));
      const [hash] = await market.meterProposalOf(id);
      const before = await snapshot(market);
      await expect(market.connect(signer).acceptMeter(hash)).to.be.revertedWithCustomError(market, "InsufficientFunds").withArgs(id, SECURITY, SECURITY - 1n);
      expect(await snapshot(market)).to.deep.equal(before);
      await market.connect(signer).deposit({ value: 1n });
      await expect(market.connect(signer).acceptMeter(hash)).to.emit(market, "MeterBound");
      const w = await market.walletOf(id);
      expect([w.balance, w.security, w.withdrawable]).to.deep.equal([SECURITY, SECURITY, 0n]);
      await expect(market.connect(signer).withdraw(1n)).to.be.revertedWithCustomError(market, "InsufficientFunds").withArgs(id, 1n, 0n);
    });

    it("acceptMeter reverts MeterInUse when the meter was bound to someone else after it was proposed", async function () {
      const { market, signers, actors } = await loadFixture(paperFixture);
      const { ev } = actors;
      const { signer, id } = await newcomer(market, signers);
      // the same new meter proposed to two prosumers: the first to accept gets it
      await market.proposeMeter(id, newMeter(42n, signers[18].address, 5000n));
      const [hash] = await market.meterProposalOf(id);
      await bindMeter(market, ev.signer, ev.id, swap(42n, signers[18].address, { importWh: 0n, exportWh: 0n }));
      await expect(market.connect(signer).acceptMeter(hash)).to.be.revertedWithCustomError(market, "MeterInUse").withArgs(ev.id);
      expect((await market.meterOf(id)).meterNumber).to.equal(0n);
      expect(await market.participantOfMeter(signers[18].address)).to.equal(ev.id);
    });

    it("re-binding the same meter (a new rated power) continues its register series and keeps the cursor", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind } = actors;
      await postAt(market, wind, 1, 0n, 5000n);
      // the opening registers of a proposal for the meter already serving are ignored: its series goes on
      await expect(bindMeter(market, wind.signer, wind.id, newMeter(wind.meterNumber, wind.meter.address, 50_000n, { importWh: 7n, exportWh: 7n })))
        .to.emit(market, "MeterBound")
        .withArgs(wind.id, wind.meterNumber, wind.meter.address, 50_000n, 2);
      const m = await market.meterOf(wind.id);
      expect([m.ratedPowerW, m.hasReading, m.lastInterval, m.importWh, m.exportWh]).to.deep.equal([50_000n, true, 1n, 0n, 5000n]);
      expect((await market.settlementOf(wind.id)).nextInterval).to.equal(1n);
      expect((await market.walletOf(wind.id)).security).to.equal(securityFor(50_000n));
      // the lower rating bounds the next reading: 50 kW × 900 s = 12.5 kWh
      await toStart(market, 3);
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 2, 0n, 5000n + 12_501n))
        .to.be.revertedWithCustomError(market, "ImplausibleReading")
        .withArgs(12_501n, 12_500n);
      await market.connect(wind.meter).postReading(wind.meterNumber, 2, 0n, 9000n);
      await settleThrough(market, 2, [wind.id]);
      const s = await settledEnergy(market, wind.id, [1, 2]);
      expect(s.map((x) => x.actualWh)).to.deep.equal([5000n, 4000n]);
    });

    it("swapping meters puts the old meter's energy since its last reading into the swap's interval; the new one counts from its opening registers", async function () {
      const { market, actors, signers } = await loadFixture(paperFixture);
      const { wind } = actors;
      const fresh = signers[18];
      await postAt(market, wind, 1, 100n, 5000n);
      // mid-interval 2 the old meter stops at 300 / 8000; the new one starts at 50 / 20
      await expect(bindMeter(market, wind.signer, wind.id, swap(777n, fresh.address, { importWh: 300n, exportWh: 8000n }, { importWh: 50n, exportWh: 20n })))
        .to.emit(market, "MeterBound")
        .withArgs(wind.id, 777n, fresh.address, RATED_W, 2);
      expect(await market.participantOfMeter(wind.meter.address)).to.equal(0n);
      expect(await market.participantOfMeter(fresh.address)).to.equal(wind.id);
      const m = await market.meterOf(wind.id);
      expect([m.meterNumber, m.hasReading, m.importWh, m.exportWh]).to.deep.equal([777n, false, 50n, 20n]);
      // the old meter account can no longer post; the new one posts under its own number
      await toStart(market, 3);
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 2, 300n, 8000n))
        .to.be.revertedWithCustomError(market, "UnknownMeterAccount")
        .withArgs(wind.meter.address);
      await market.connect(fresh).postReading(777n, 2, 150n, 1020n);
      await settleThrough(market, 2, [wind.id]);
      const s = await settledEnergy(market, wind.id, [1, 2]);
      const oldMeter = [(5000n - 0n) - (100n - 0n), (8000n - 5000n) - (300n - 100n)];
      const newMeter_ = (1020n - 20n) - (150n - 50n);
      expect(s.map((x) => x.actualWh)).to.deep.equal([oldMeter[0], oldMeter[1] + newMeter_]);
      // the released number may serve someone else
      await expect(market.proposeMeter(actors.ev.id, newMeter(wind.meterNumber, signers[19].address, RATED_W))).to.emit(market, "MeterProposed");
    });

    it("a swap whose new meter misses its first reading: the old meter's energy settles in the swap's interval, the new meter's with its next reading", async function () {
      const { market, actors, signers } = await loadFixture(paperFixture);
      const { wind } = actors;
      const fresh = signers[18];
      await postAt(market, wind, 1, 0n, 1000n);
      await bindMeter(market, wind.signer, wind.id, swap(777n, fresh.address, { importWh: 0n, exportWh: 1600n }, { importWh: 10n, exportWh: 10n }));
      await toStart(market, 4);
      await market.connect(fresh).postReading(777n, 3, 10n, 2510n);
      await settleThrough(market, 3, [wind.id]);
      const s = await settledEnergy(market, wind.id, [1, 2, 3]);
      expect(s).to.deep.equal([
        { actualWh: 1000n, readingMissing: false },
        { actualWh: 600n, readingMissing: true },
        { actualWh: 2500n, readingMissing: false },
      ]);
      expect(s.reduce((a, x) => a + x.actualWh, 0n)).to.equal(1600n + (2510n - 10n));
    });

    it("a swap's closing registers are checked like a reading (RegisterDecreased, ImplausibleReading), binding nothing", async function () {
      const { market, actors, signers } = await loadFixture(paperFixture);
      const { wind } = actors;
      await postAt(market, wind, 1, 100n, 5000n);
      const before = await snapshot(market);
      await market.proposeMeter(wind.id, swap(777n, signers[18].address, { importWh: 99n, exportWh: 5000n }));
      let [hash] = await market.meterProposalOf(wind.id);
      await expect(market.connect(wind.signer).acceptMeter(hash)).to.be.revertedWithCustomError(market, "RegisterDecreased").withArgs(100n, 99n);
      // the swap happens in interval 2, one interval after the last reading: one interval of rated energy
      await market.proposeMeter(wind.id, swap(777n, signers[18].address, { importWh: 100n, exportWh: 5000n + MAX_WH_PER_INTERVAL + 1n }));
      [hash] = await market.meterProposalOf(wind.id);
      await expect(market.connect(wind.signer).acceptMeter(hash))
        .to.be.revertedWithCustomError(market, "ImplausibleReading")
        .withArgs(MAX_WH_PER_INTERVAL + 1n, MAX_WH_PER_INTERVAL);
      const after = await snapshot(market);
      expect(after.wallets).to.deep.equal(before.wallets);
      expect((await market.meterOf(wind.id)).meterNumber).to.equal(wind.meterNumber);
    });
  });

  describe("unbindMeter", function () {
    it("releases the meter once everything it measured is settled: number, account and security are free", async function () {
      const { market, actors, signers } = await loadFixture(paperFixture);
      const { wind } = actors;
      await postAt(market, wind, 1, 0n, 1000n);
      await expect(market.unbindMeter(wind.id)).to.be.revertedWithCustomError(market, "NotSettledYet").withArgs(wind.id, 1);
      await settleThrough(market, 1, [wind.id]);
      const balance = (await market.walletOf(wind.id)).balance;
      await expect(market.unbindMeter(wind.id)).to.emit(market, "MeterUnbound").withArgs(wind.id, wind.meterNumber);
      const m = await market.meterOf(wind.id);
      expect([m.meterNumber, m.account, m.ratedPowerW]).to.deep.equal([0n, ethers.ZeroAddress, 0n]);
      expect(await market.participantOfMeter(wind.meter.address)).to.equal(0n);
      expect((await market.settlementOf(wind.id)).started).to.equal(false);
      const w = await market.walletOf(wind.id);
      expect([w.security, w.withdrawable]).to.deep.equal([0n, balance]);
      // it can no longer post or bid
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 2, 0n, 1000n))
        .to.be.revertedWithCustomError(market, "UnknownMeterAccount")
        .withArgs(wind.meter.address);
      await toCommit(market, 4);
      const { commitment } = await seal(market, wind.signer, 4, Side.Sell, 100n, 1000n);
      await expect(market.connect(wind.signer).commitBid(4, commitment)).to.be.revertedWithCustomError(market, "NoMeterBound").withArgs(wind.id);
      // the meter can serve another prosumer
      await bindMeter(market, actors.ev.signer, actors.ev.id, swap(wind.meterNumber, signers[19].address, { importWh: 0n, exportWh: 0n }));
      expect((await market.meterOf(actors.ev.id)).meterNumber).to.equal(wind.meterNumber);
    });

    it("reverts NotSettledYet while a bid is unsettled, NoMeterBound without a meter, NotOperator for others", async function () {
      const { market, actors, signers } = await loadFixture(paperFixture);
      const { wind } = actors;
      const { id } = await newcomer(market, signers);
      await expect(market.connect(wind.signer).unbindMeter(wind.id)).to.be.revertedWithCustomError(market, "NotOperator").withArgs(wind.signer.address);
      await expect(market.unbindMeter(id)).to.be.revertedWithCustomError(market, "NoMeterBound").withArgs(id);
      // an unsettled bid: the meter must stay until the sale it measures is settled
      await toCommit(market, 2);
      await commit(market, 2, sell(wind, 100n, 1000n));
      const before = await snapshot(market);
      await expect(market.unbindMeter(wind.id)).to.be.revertedWithCustomError(market, "NotSettledYet").withArgs(wind.id, 1);
      expect(await snapshot(market)).to.deep.equal(before);
      await toGraceOver(market, 2);
      await clearUntilDone(market, 1);
      await clearUntilDone(market, 2);
      await market.settle(1, [wind.id]);
      await expect(market.unbindMeter(wind.id)).to.be.revertedWithCustomError(market, "NotSettledYet").withArgs(wind.id, 2);
      await market.settle(2, [wind.id]);
      await expect(market.unbindMeter(wind.id)).to.emit(market, "MeterUnbound");
    });
  });

  describe("postReading", function () {
    it("records the registers of an ended interval and emits ReadingPosted", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind } = actors;
      await expect(postAt(market, wind, 1, 100n, 2000n)).to.emit(market, "ReadingPosted").withArgs(wind.id, 1, 100n, 2000n);
      expect(await market.readingOf(wind.id, 1)).to.deep.equal([true, 100n, 2000n]);
      expect(await market.readingOf(wind.id, 2)).to.deep.equal([false, 0n, 0n]);
      const m = await market.meterOf(wind.id);
      expect([m.hasReading, m.lastInterval, m.importWh, m.exportWh]).to.deep.equal([true, 1n, 100n, 2000n]);
    });

    it("reverts UnknownMeterAccount for any account but a bound meter (even the prosumer's own)", async function () {
      const { market, actors, operator } = await loadFixture(paperFixture);
      const { wind } = actors;
      await toStart(market, 2);
      for (const s of [wind.signer, operator]) {
        await expect(market.connect(s).postReading(wind.meterNumber, 1, 0, 0))
          .to.be.revertedWithCustomError(market, "UnknownMeterAccount")
          .withArgs(s.address);
      }
      expect((await market.readingOf(wind.id, 1))[0]).to.equal(false);
    });

    it("reverts WrongMeterNumber for another meter's number", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind, ev } = actors;
      await toStart(market, 2);
      await expect(market.connect(wind.meter).postReading(ev.meterNumber, 1, 0, 0))
        .to.be.revertedWithCustomError(market, "WrongMeterNumber")
        .withArgs(ev.meterNumber);
      expect((await market.readingOf(wind.id, 1))[0]).to.equal(false);
      expect((await market.readingOf(ev.id, 1))[0]).to.equal(false);
    });

    it("reverts IntervalNotEnded for the current and a future interval", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind } = actors;
      await toStart(market, 3);
      expect(await market.currentInterval()).to.equal(3);
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 3, 0, 0)).to.be.revertedWithCustomError(market, "IntervalNotEnded").withArgs(3);
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 4, 0, 0)).to.be.revertedWithCustomError(market, "IntervalNotEnded").withArgs(4);
      expect((await market.meterOf(wind.id)).hasReading).to.equal(false);
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 2, 0, 0)).to.emit(market, "ReadingPosted");
    });

    it("reverts ReadingOutOfOrder for an interval before the last reading", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind } = actors;
      await postAt(market, wind, 3, 10n, 10n);
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 2, 5n, 5n))
        .to.be.revertedWithCustomError(market, "ReadingOutOfOrder")
        .withArgs(2, 4);
      expect((await market.readingOf(wind.id, 2))[0]).to.equal(false);
      expect((await market.meterOf(wind.id)).lastInterval).to.equal(3);
    });

    it("reverts RegisterDecreased when the import or the export register goes down", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind } = actors;
      await postAt(market, wind, 1, 1000n, 2000n);
      await toStart(market, 3);
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 2, 999n, 2000n))
        .to.be.revertedWithCustomError(market, "RegisterDecreased")
        .withArgs(1000n, 999n);
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 2, 1000n, 1500n))
        .to.be.revertedWithCustomError(market, "RegisterDecreased")
        .withArgs(2000n, 1500n);
      expect((await market.readingOf(wind.id, 2))[0]).to.equal(false);
      expect((await market.meterOf(wind.id)).lastInterval).to.equal(1);
      // equal registers (no energy) are fine
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 2, 1000n, 2000n)).to.emit(market, "ReadingPosted");
    });

    it("the first reading is checked against the opening registers of the binding", async function () {
      const { market, signers } = await loadFixture(paperFixture);
      const { signer, id } = await newcomer(market, signers);
      const meter = signers[18];
      const meterActor: Actor = { name: "new", id, signer, meter, meterNumber: 42n, green: false };
      await bindMeter(market, signer, id, newMeter(42n, meter.address, RATED_W, { importWh: 5000n, exportWh: 700n }));
      await toStart(market, 2);
      await expect(market.connect(meter).postReading(42n, 1, 4999n, 700n)).to.be.revertedWithCustomError(market, "RegisterDecreased").withArgs(5000n, 4999n);
      await postAt(market, meterActor, 1, 5400n, 900n);
      await settleThrough(market, 1, [id]);
      expect((await settledEnergy(market, id, [1]))[0].actualWh).to.equal(200n - 400n);
    });

    it("caps each register's rise at rated power × elapsed time (ImplausibleReading)", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind } = actors;
      expect(MAX_WH_PER_INTERVAL).to.equal((RATED_W * 900n) / 3600n);
      await postAt(market, wind, 1, 0n, 0n);
      await toStart(market, 5);
      const cap = MAX_WH_PER_INTERVAL;
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 2, cap + 1n, 0n))
        .to.be.revertedWithCustomError(market, "ImplausibleReading")
        .withArgs(cap + 1n, cap);
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 2, 0n, cap + 1n))
        .to.be.revertedWithCustomError(market, "ImplausibleReading")
        .withArgs(cap + 1n, cap);
      expect((await market.readingOf(wind.id, 2))[0]).to.equal(false);
      // two intervals after the last reading allow twice the energy
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 3, 2n * cap + 1n, 0n))
        .to.be.revertedWithCustomError(market, "ImplausibleReading")
        .withArgs(2n * cap + 1n, 2n * cap);
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 3, 2n * cap, 2n * cap)).to.emit(market, "ReadingPosted");
      // and exactly one interval's cap on the next
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 4, 3n * cap, 3n * cap)).to.emit(market, "ReadingPosted");
    });

    it("an identical re-post of the last reading is a no-op without an event; a different one reverts ConflictingReading", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind } = actors;
      await postAt(market, wind, 1, 100n, 200n);
      await postAt(market, wind, 2, 300n, 400n);
      const tx = market.connect(wind.meter).postReading(wind.meterNumber, 2, 300n, 400n);
      await expect(tx).to.not.be.reverted;
      await expect(tx).to.not.emit(market, "ReadingPosted");
      expect((await market.meterOf(wind.id)).lastInterval).to.equal(2);
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 2, 300n, 401n))
        .to.be.revertedWithCustomError(market, "ConflictingReading")
        .withArgs(wind.id, 2);
      // an earlier reading, identical or not, is out of order
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 1, 100n, 200n))
        .to.be.revertedWithCustomError(market, "ReadingOutOfOrder")
        .withArgs(1, 3);
      expect(await market.readingOf(wind.id, 2)).to.deep.equal([true, 300n, 400n]);
      expect(await market.readingOf(wind.id, 1)).to.deep.equal([true, 100n, 200n]);
    });

    it("reverts ReadingTooLate for an interval already settled without it; the next reading carries its energy", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind } = actors;
      await settleThrough(market, 1, [wind.id]); // after the grace period: settled as missing
      expect((await settledEnergy(market, wind.id, [1]))[0]).to.deep.equal({ actualWh: 0n, readingMissing: true });
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 1, 0n, 900n))
        .to.be.revertedWithCustomError(market, "ReadingTooLate")
        .withArgs(1, 2);
      expect((await market.readingOf(wind.id, 1))[0]).to.equal(false);
      await postAt(market, wind, 2, 0n, 1500n);
      await settleThrough(market, 2, [wind.id]);
      expect((await settledEnergy(market, wind.id, [2]))[0]).to.deep.equal({ actualWh: 1500n, readingMissing: false });
    });

    it("reverts SettlementBehind for a reading four intervals after an unsettled one; readingOf answers for the last four only", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind } = actors;
      for (const d of [1, 2, 3, 4]) await postAt(market, wind, d, 0n, 100n * BigInt(d));
      await toSettlement(market, 1);
      await toStart(market, 6);
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 5, 0n, 500n))
        .to.be.revertedWithCustomError(market, "SettlementBehind")
        .withArgs(wind.id, 1);
      expect((await market.readingOf(wind.id, 5))[0]).to.equal(false);
      await settleThrough(market, 1, [wind.id]);
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 5, 0n, 500n)).to.emit(market, "ReadingPosted").withArgs(wind.id, 5, 0n, 500n);
      // interval 5 took interval 1's slot: its reading is only in the events now
      expect(await market.readingOf(wind.id, 5)).to.deep.equal([true, 0n, 500n]);
      expect(await market.readingOf(wind.id, 1)).to.deep.equal([false, 0n, 0n]);
      expect(await market.queryFilter(market.filters.ReadingPosted(wind.id, 1))).to.have.length(1);
    });
  });
});
