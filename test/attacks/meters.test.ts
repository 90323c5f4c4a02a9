/**
 * Attacks on the meters and their energy: re-binding or swapping a meter must not wipe an
 * interval's energy (which would make a delivering seller look short, or a consumer look long),
 * and a meter cannot be released while what it measured is unsettled.
 */
import { expect } from "chai";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { EnergyMarket } from "../../typechain-types";
import { clearUntilDone, newMeter } from "../../lib/market";
import { ETH, buy, kwh, milli, placeBids, sell, settleThrough, toStart, loadFixture } from "../shared/fixtures";
import { Player, attackFixture, join, meterEnergy } from "./support";

describe("attacks on the meters", function () {
  /** Move into interval `d`, `seconds` after its start. */
  async function into(market: EnergyMarket, d: number, seconds: number) {
    await toStart(market, d);
    await time.increase(seconds);
  }

  async function actualOf(market: EnergyMarket, p: Player, d: number) {
    const [log] = await market.queryFilter(market.filters.ParticipantSettled(d, p.id));
    return log.args.actualWh;
  }

  it("re-binding the same meter mid-interval (a corrected rated power) keeps its register series: every interval settles its register difference", async function () {
    const { market, signers: s } = await loadFixture(attackFixture);
    const p = await join(market, s[2], s[12], { name: "prosumer", depositWei: ETH });
    const from = Number((await market.settlementOf(p.id)).nextInterval);
    const exports = [kwh("3"), kwh("4"), kwh("5"), kwh("6")];
    for (const [i, e] of exports.entries()) {
      const d = from + i;
      if (i === 1) {
        await into(market, d, 300);
        await market.proposeMeter(p.id, newMeter(p.meterNumber, p.meter.address, 120_000));
        await market.connect(p.signer).acceptMeter((await market.meterProposalOf(p.id))[0]);
        expect((await market.meterOf(p.id)).ratedPowerW).to.equal(120_000n);
      }
      await toStart(market, d + 1);
      await meterEnergy(market, p, d, { exportWh: e });
    }
    await settleThrough(market, from + exports.length - 1, [p.id]);
    for (const [i, e] of exports.entries()) expect(await actualOf(market, p, from + i), `interval ${from + i}`).to.equal(e);
  });

  it("swapping to a meter with other registers mid-interval: the old meter's last energy and the new meter's first both land in the interval of the swap", async function () {
    const { market, signers: s } = await loadFixture(attackFixture);
    const p = await join(market, s[2], s[12], { name: "prosumer", depositWei: ETH });
    const newAccount = s[20];
    const from = Number((await market.settlementOf(p.id)).nextInterval);
    // interval from: the old meter exports 3 kWh
    await toStart(market, from + 1);
    await meterEnergy(market, p, from, { exportWh: kwh("3") });
    // interval from+1: the old meter exports 1.5 kWh until the swap, the new one 2.5 kWh after it
    await into(market, from + 1, 400);
    const oldClose = { importWh: p.importWh, exportWh: p.exportWh + kwh("1.5") };
    const open = { importWh: 5_000_000n, exportWh: 7_000_000n };
    const swap = { ...newMeter(555000000001n, newAccount.address, 100_000, open), closeImportWh: oldClose.importWh, closeExportWh: oldClose.exportWh };
    await market.proposeMeter(p.id, swap);
    await market.connect(p.signer).acceptMeter((await market.meterProposalOf(p.id))[0]);
    const swapped: Player = { ...p, meter: newAccount, meterNumber: 555000000001n, ...open };
    await toStart(market, from + 2);
    await expect(market.connect(p.meter).postReading(p.meterNumber, from + 1, oldClose.importWh, oldClose.exportWh), "the old meter is released")
      .to.be.revertedWithCustomError(market, "UnknownMeterAccount");
    await meterEnergy(market, swapped, from + 1, { exportWh: kwh("2.5") });
    // interval from+2: the new meter imports 1 kWh
    await toStart(market, from + 3);
    await meterEnergy(market, swapped, from + 2, { importWh: kwh("1") });
    await settleThrough(market, from + 2, [p.id]);
    expect(await actualOf(market, p, from)).to.equal(kwh("3"));
    expect(await actualOf(market, p, from + 1), "1.5 kWh on the old meter + 2.5 kWh on the new").to.equal(kwh("4"));
    expect(await actualOf(market, p, from + 2)).to.equal(-kwh("1"));
  });

  it("a seller that delivered its sale keeps it across a swap: no shortfall, no penalty", async function () {
    const { market, signers: s } = await loadFixture(attackFixture);
    const seller = await join(market, s[2], s[12], { name: "seller", depositWei: ETH });
    const buyer = await join(market, s[3], s[13], { name: "buyer", depositWei: ETH });
    const d = Number(await market.currentInterval()) + 2;
    await placeBids(market, d, [sell(seller, kwh("4"), milli("0.6")), buy(buyer, kwh("4"), milli("0.8"))]);
    await clearUntilDone(market, d);
    await toStart(market, d);
    for (const p of [seller, buyer]) await meterEnergy(market, p, d - 1);
    // mid-delivery the seller's meter is swapped after exporting 1 kWh; the new meter measures the other 3
    await into(market, d, 450);
    const close = { closeImportWh: seller.importWh, closeExportWh: seller.exportWh + kwh("1") };
    await market.proposeMeter(seller.id, { ...newMeter(555000000002n, s[21].address, 100_000, { importWh: 10n, exportWh: 20n }), ...close });
    await market.connect(seller.signer).acceptMeter((await market.meterProposalOf(seller.id))[0]);
    const swapped: Player = { ...seller, meter: s[21], meterNumber: 555000000002n, importWh: 10n, exportWh: 20n };
    await toStart(market, d + 1);
    await meterEnergy(market, swapped, d, { exportWh: kwh("3") });
    await meterEnergy(market, buyer, d, { importWh: kwh("4") });
    await settleThrough(market, d, [seller.id, buyer.id]);
    const [log] = await market.queryFilter(market.filters.ParticipantSettled(d, seller.id));
    expect(log.args.actualWh).to.equal(kwh("4"));
    expect(log.args.balancingWei).to.equal(0n);
    expect((log.args.rewardWei - log.args.incentiveWei)).to.equal(0n);
  });

  it("a meter cannot be released while its readings or its holder's bids are unsettled, and a reading of a settled interval is refused with its energy carried", async function () {
    const { market, signers: s } = await loadFixture(attackFixture);
    const p = await join(market, s[2], s[12], { name: "prosumer", depositWei: ETH });
    const from = Number((await market.settlementOf(p.id)).nextInterval);
    await toStart(market, from + 1);
    await meterEnergy(market, p, from, { exportWh: kwh("2") });
    await expect(market.unbindMeter(p.id)).to.be.revertedWithCustomError(market, "NotSettledYet").withArgs(p.id, from);
    // interval from+1 is settled with its reading missing; the late reading is refused, the next carries the energy
    await settleThrough(market, from + 1, [p.id]);
    await expect(market.connect(p.meter).postReading(p.meterNumber, from + 1, p.importWh, p.exportWh + kwh("1")))
      .to.be.revertedWithCustomError(market, "ReadingTooLate")
      .withArgs(from + 1, from + 2);
    await toStart(market, from + 3);
    await meterEnergy(market, p, from + 2, { exportWh: kwh("1") + kwh("0.5") });
    await settleThrough(market, from + 2, [p.id]);
    expect(await actualOf(market, p, from + 1)).to.equal(0n);
    expect(await actualOf(market, p, from + 2), "the missing interval's energy comes with the next reading").to.equal(kwh("1.5"));
    await market.unbindMeter(p.id);
    expect((await market.meterOf(p.id)).meterNumber).to.equal(0n);
    expect((await market.walletOf(p.id)).security, "the security is released with the meter").to.equal(0n);
  });
});
