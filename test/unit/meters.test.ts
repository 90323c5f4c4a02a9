/**
 * Meters: bindMeter (incl. taking a number or an account from another holder) and postReading.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { paperFixture, toCommit, toStart } from "../shared/fixtures";
import { MAX_WH_PER_INTERVAL, RATED_W, Side, postAt, seal } from "./helpers";

describe("meters", function () {
  describe("bindMeter", function () {
    it("binds a meter (epoch 1), maps its account, and starts settlement at the next interval", async function () {
      const { market, signers } = await loadFixture(paperFixture);
      await market.connect(signers[8]).register("new", false);
      const id = await market.idOf(signers[8].address);
      const current = await market.currentInterval();
      await expect(market.bindMeter(id, 42n, signers[18].address, 5000))
        .to.emit(market, "MeterBound")
        .withArgs(id, 42n, signers[18].address, 5000, 1);
      const m = await market.meterOf(id);
      expect([m.meterNumber, m.account, m.ratedPowerW, m.epoch, m.hasReading]).to.deep.equal([42n, signers[18].address, 5000n, 1n, false]);
      expect(await market.participantOfMeter(signers[18].address)).to.equal(id);
      const s = await market.settlementOf(id);
      expect(s.started).to.equal(true);
      expect(s.nextInterval).to.equal(current + 1n);
    });

    it("reverts NotOperator, UnknownParticipant, NotForGrid and ZeroValue, binding nothing", async function () {
      const { market, signers, gridId, actors } = await loadFixture(paperFixture);
      await market.connect(signers[8]).register("new", false);
      const id = await market.idOf(signers[8].address);
      const acc = signers[18].address;
      await expect(market.connect(signers[8]).bindMeter(id, 42n, acc, 5000))
        .to.be.revertedWithCustomError(market, "NotOperator")
        .withArgs(signers[8].address);
      await expect(market.bindMeter(99, 42n, acc, 5000)).to.be.revertedWithCustomError(market, "UnknownParticipant").withArgs(99);
      await expect(market.bindMeter(gridId, 42n, acc, 5000)).to.be.revertedWithCustomError(market, "NotForGrid").withArgs(gridId);
      await expect(market.bindMeter(id, 0n, acc, 5000)).to.be.revertedWithCustomError(market, "ZeroValue").withArgs();
      await expect(market.bindMeter(id, 42n, ethers.ZeroAddress, 5000)).to.be.revertedWithCustomError(market, "ZeroValue").withArgs();
      await expect(market.bindMeter(id, 42n, acc, 0)).to.be.revertedWithCustomError(market, "ZeroValue").withArgs();
      // a failed attempt to take someone's number leaves it with them
      await expect(market.bindMeter(id, actors.wind.meterNumber, acc, 0)).to.be.revertedWithCustomError(market, "ZeroValue").withArgs();
      expect((await market.meterOf(id)).account).to.equal(ethers.ZeroAddress);
      expect(await market.participantOfMeter(acc)).to.equal(0);
      expect((await market.settlementOf(id)).started).to.equal(false);
      expect((await market.settlementOf(gridId)).started).to.equal(false);
      expect((await market.meterOf(actors.wind.id)).meterNumber).to.equal(actors.wind.meterNumber);
    });

    it("rebinding a prosumer releases its old meter and opens a new epoch", async function () {
      const { market, actors, signers } = await loadFixture(paperFixture);
      const { wind } = actors;
      const cursor = await market.settlementOf(wind.id);
      await expect(market.bindMeter(wind.id, 777n, signers[18].address, 2000))
        .to.emit(market, "MeterBound")
        .withArgs(wind.id, 777n, signers[18].address, 2000, 2)
        .and.not.to.emit(market, "MeterUnbound");
      expect(await market.participantOfMeter(wind.meter.address)).to.equal(0);
      expect(await market.participantOfMeter(signers[18].address)).to.equal(wind.id);
      const m = await market.meterOf(wind.id);
      expect([m.meterNumber, m.epoch, m.ratedPowerW]).to.deep.equal([777n, 2n, 2000n]);
      // the settlement cursor is not restarted
      expect((await market.settlementOf(wind.id)).nextInterval).to.equal(cursor.nextInterval);
      // the old meter account can no longer post
      await toStart(market, 1);
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 0, 0, 0))
        .to.be.revertedWithCustomError(market, "UnknownMeterAccount")
        .withArgs(wind.meter.address);
      await expect(market.connect(signers[18]).postReading(777n, 0, 0, 0)).to.emit(market, "ReadingPosted").withArgs(wind.id, 0, 0, 0);
    });

    it("a new epoch starts a new register series: lower registers than the old meter's are accepted", async function () {
      const { market, actors, signers } = await loadFixture(paperFixture);
      const { wind } = actors;
      await postAt(market, wind, 0, 5000n, 5000n);
      await market.bindMeter(wind.id, 777n, signers[18].address, 100_000);
      await toStart(market, 2);
      await expect(market.connect(signers[18]).postReading(777n, 1, 10n, 20n)).to.emit(market, "ReadingPosted").withArgs(wind.id, 1, 10n, 20n);
      const m = await market.meterOf(wind.id);
      expect([m.hasReading, m.lastInterval]).to.deep.equal([true, 1n]);
    });

    it("taking a meter number from another holder unbinds that holder (MeterUnbound); it can no longer bid", async function () {
      const { market, actors, signers } = await loadFixture(paperFixture);
      const { wind, ev } = actors;
      await expect(market.bindMeter(ev.id, wind.meterNumber, signers[18].address, 3000))
        .to.emit(market, "MeterUnbound")
        .withArgs(wind.id, wind.meterNumber)
        .and.to.emit(market, "MeterBound")
        .withArgs(ev.id, wind.meterNumber, signers[18].address, 3000, 2);
      const w = await market.meterOf(wind.id);
      expect([w.meterNumber, w.account, w.ratedPowerW]).to.deep.equal([0n, ethers.ZeroAddress, 0n]);
      expect(await market.participantOfMeter(wind.meter.address)).to.equal(0);
      expect(await market.participantOfMeter(ev.meter.address)).to.equal(0); // ev's old meter released
      expect(await market.participantOfMeter(signers[18].address)).to.equal(ev.id);
      expect((await market.meterOf(ev.id)).meterNumber).to.equal(wind.meterNumber);
      // the old holder cannot post with it and cannot commit a bid
      await toCommit(market, 2);
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 0, 0, 0))
        .to.be.revertedWithCustomError(market, "UnknownMeterAccount")
        .withArgs(wind.meter.address);
      const { commitment } = await seal(market, wind.signer, 2, Side.Sell, 100n, 1000n);
      await expect(market.connect(wind.signer).commitBid(2, commitment)).to.be.revertedWithCustomError(market, "NoMeterBound").withArgs(wind.id);
    });

    it("taking a meter account from another holder unbinds that holder", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind, ev } = actors;
      await expect(market.bindMeter(ev.id, 555n, wind.meter.address, 3000))
        .to.emit(market, "MeterUnbound")
        .withArgs(wind.id, wind.meterNumber);
      expect(await market.participantOfMeter(wind.meter.address)).to.equal(ev.id);
      expect((await market.meterOf(wind.id)).account).to.equal(ethers.ZeroAddress);
      // the old number is free: binding it to someone else unbinds nobody
      await expect(market.bindMeter(wind.id, wind.meterNumber, ethers.Wallet.createRandom().address, 3000)).to.not.emit(market, "MeterUnbound");
      // posting with the taken account now posts for ev under number 555 only
      await toStart(market, 1);
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 0, 0, 0))
        .to.be.revertedWithCustomError(market, "WrongMeterNumber")
        .withArgs(wind.meterNumber);
      await expect(market.connect(wind.meter).postReading(555n, 0, 1, 2)).to.emit(market, "ReadingPosted").withArgs(ev.id, 0, 1, 2);
    });
  });

  describe("postReading", function () {
    it("records the registers of an ended interval and emits ReadingPosted", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind } = actors;
      await expect(postAt(market, wind, 0, 100n, 2000n)).to.emit(market, "ReadingPosted").withArgs(wind.id, 0, 100n, 2000n);
      expect(await market.readingOf(wind.id, 0)).to.deep.equal([true, 100n, 2000n]);
      expect(await market.readingOf(wind.id, 1)).to.deep.equal([false, 0n, 0n]);
      const m = await market.meterOf(wind.id);
      expect([m.hasReading, m.lastInterval]).to.deep.equal([true, 0n]);
    });

    it("reverts UnknownMeterAccount for any account but a bound meter (even the prosumer's own)", async function () {
      const { market, actors, operator } = await loadFixture(paperFixture);
      const { wind } = actors;
      await toStart(market, 1);
      for (const s of [wind.signer, operator]) {
        await expect(market.connect(s).postReading(wind.meterNumber, 0, 0, 0))
          .to.be.revertedWithCustomError(market, "UnknownMeterAccount")
          .withArgs(s.address);
      }
      expect((await market.readingOf(wind.id, 0))[0]).to.equal(false);
    });

    it("reverts WrongMeterNumber for another meter's number", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind, ev } = actors;
      await toStart(market, 1);
      await expect(market.connect(wind.meter).postReading(ev.meterNumber, 0, 0, 0))
        .to.be.revertedWithCustomError(market, "WrongMeterNumber")
        .withArgs(ev.meterNumber);
      expect((await market.readingOf(wind.id, 0))[0]).to.equal(false);
      expect((await market.readingOf(ev.id, 0))[0]).to.equal(false);
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
      await postAt(market, wind, 2, 10n, 10n);
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 1, 5n, 5n))
        .to.be.revertedWithCustomError(market, "ReadingOutOfOrder")
        .withArgs(1, 2);
      expect((await market.readingOf(wind.id, 1))[0]).to.equal(false);
      expect((await market.meterOf(wind.id)).lastInterval).to.equal(2);
    });

    it("reverts RegisterDecreased when the import or the export register goes down", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind } = actors;
      await postAt(market, wind, 0, 1000n, 2000n);
      await toStart(market, 2);
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 1, 999n, 2000n))
        .to.be.revertedWithCustomError(market, "RegisterDecreased")
        .withArgs(1000n, 999n);
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 1, 1000n, 1500n))
        .to.be.revertedWithCustomError(market, "RegisterDecreased")
        .withArgs(2000n, 1500n);
      expect((await market.readingOf(wind.id, 1))[0]).to.equal(false);
      expect((await market.meterOf(wind.id)).lastInterval).to.equal(0);
      // equal registers (no energy) are fine
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 1, 1000n, 2000n)).to.emit(market, "ReadingPosted");
    });

    it("caps each register's rise at rated power × elapsed time (ImplausibleReading)", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind } = actors;
      expect(MAX_WH_PER_INTERVAL).to.equal((RATED_W * 900n) / 3600n);
      await postAt(market, wind, 0, 0n, 0n);
      await toStart(market, 4);
      const cap = MAX_WH_PER_INTERVAL;
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 1, cap + 1n, 0n))
        .to.be.revertedWithCustomError(market, "ImplausibleReading")
        .withArgs(cap + 1n, cap);
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 1, 0n, cap + 1n))
        .to.be.revertedWithCustomError(market, "ImplausibleReading")
        .withArgs(cap + 1n, cap);
      expect((await market.readingOf(wind.id, 1))[0]).to.equal(false);
      // two intervals after the last reading allow twice the energy
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 2, 2n * cap + 1n, 0n))
        .to.be.revertedWithCustomError(market, "ImplausibleReading")
        .withArgs(2n * cap + 1n, 2n * cap);
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 2, 2n * cap, 2n * cap)).to.emit(market, "ReadingPosted");
      // and exactly one interval's cap on the next
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 3, 3n * cap, 3n * cap)).to.emit(market, "ReadingPosted");
    });

    it("an identical re-post is a no-op without an event; a different one reverts ConflictingReading", async function () {
      const { market, actors } = await loadFixture(paperFixture);
      const { wind } = actors;
      await postAt(market, wind, 0, 100n, 200n);
      await postAt(market, wind, 1, 300n, 400n);
      // identical re-post of the last and of an earlier interval
      for (const [d, imp, exp] of [
        [1, 300n, 400n],
        [0, 100n, 200n],
      ] as const) {
        const tx = market.connect(wind.meter).postReading(wind.meterNumber, d, imp, exp);
        await expect(tx).to.not.be.reverted;
        await expect(tx).to.not.emit(market, "ReadingPosted");
      }
      expect((await market.meterOf(wind.id)).lastInterval).to.equal(1);
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 1, 300n, 401n))
        .to.be.revertedWithCustomError(market, "ConflictingReading")
        .withArgs(wind.id, 1);
      await expect(market.connect(wind.meter).postReading(wind.meterNumber, 0, 101n, 200n))
        .to.be.revertedWithCustomError(market, "ConflictingReading")
        .withArgs(wind.id, 0);
      expect(await market.readingOf(wind.id, 1)).to.deep.equal([true, 300n, 400n]);
      expect(await market.readingOf(wind.id, 0)).to.deep.equal([true, 100n, 200n]);
    });
  });
});
