/**
 * A stolen or rogue operator key: binding a victim to a meter it controls, deauthorizing a bidder
 * between commit and reveal, handing the role to a wrong account, pricing everyone out with many
 * parameter sets or with extreme parameters, releasing a meter mid-sale; and all of it at once. No
 * prosumer may lose ether it did not owe under the rules.
 */
import { expect } from "chai";
import { ContractTransactionResponse, getBytes } from "ethers";
import type { EnergyMarket } from "../../typechain-types";
import { DEFAULT_LIMITS, PAPER_PARAMS, clearUntilDone, newMeter } from "../../lib/market";
import { ModelBand, balancingPrice, clearBook, positionOf, settleParticipant } from "../../lib/model";
import { ETH, buy, commit, kwh, milli, placeBids, reveal, sell, settleThrough, toClearing, toCommit, toReveal, toStart, loadFixture } from "../shared/fixtures";
import { Player, attackFixture, join, meterEnergy } from "./support";

const LIMITS = DEFAULT_LIMITS as { maxPriceWeiPerKWh: bigint; maxBandPriceWeiPerKWh: bigint; maxMarginWei: bigint; maxRatedPowerW: bigint };

describe("attacks by the operator", function () {
  async function victimAndPartner() {
    const f = await loadFixture(attackFixture);
    const victim = await join(f.market, f.signers[2], f.signers[12], { name: "victim", depositWei: ETH });
    const partner = await join(f.market, f.signers[3], f.signers[13], { name: "partner", depositWei: ETH });
    return { ...f, victim, partner, rogueMeter: f.signers[30] };
  }

  it("cannot bind a victim to a meter account it controls: the proposal waits for the victim, the rogue meter cannot post, an unbounded rating is refused", async function () {
    const { market, victim, rogueMeter, operator } = await victimAndPartner();
    await expect(market.proposeMeter(victim.id, newMeter(777000000001n, rogueMeter.address, 2n ** 32n - 1n)))
      .to.be.revertedWithCustomError(market, "RatedPowerTooHigh")
      .withArgs(2n ** 32n - 1n, LIMITS.maxRatedPowerW);
    await market.proposeMeter(victim.id, newMeter(777000000001n, rogueMeter.address, LIMITS.maxRatedPowerW));
    const [hash] = await market.meterProposalOf(victim.id);
    await expect(market.connect(operator).acceptMeter(hash), "only the prosumer accepts").to.be.revertedWithCustomError(market, "NotRegistered");
    const d = Number(await market.currentInterval());
    await toStart(market, d + 1);
    await expect(market.connect(rogueMeter).postReading(777000000001n, d, 10n ** 9n, 0n)).to.be.revertedWithCustomError(market, "UnknownMeterAccount");
    const m = await market.meterOf(victim.id);
    expect([m.meterNumber, m.account]).to.deep.equal([victim.meterNumber, victim.meter.address]);
    expect((await market.walletOf(victim.id)).balance).to.equal(ETH);
  });

  it("deauthorizing a bidder between its commit and its reveal does not make it forfeit: the committed bid is revealed and trades", async function () {
    const { market, victim, partner } = await victimAndPartner();
    const d = Number(await market.currentInterval()) + 2;
    await toCommit(market, d);
    const bid = sell(victim, kwh("2"), milli("0.6"));
    const sealed = await commit(market, d, bid);
    const other = buy(partner, kwh("2"), milli("0.8"));
    const sealedOther = await commit(market, d, other);
    await market.authorize(victim.id, false);
    await toReveal(market, d);
    await reveal(market, bid, sealed);
    await reveal(market, other, sealedOther);
    await toClearing(market, d);
    await clearUntilDone(market, d);
    expect((await market.queryFilter(market.filters.TradeMatched(d, victim.id))).length).to.equal(1);
    await toStart(market, d + 1);
    for (const p of [victim, partner]) await meterEnergy(market, p, d - 1);
    await meterEnergy(market, victim, d, { exportWh: kwh("2") });
    await meterEnergy(market, partner, d, { importWh: kwh("2") });
    await settleThrough(market, d, [victim.id, partner.id]);
    expect(await market.queryFilter(market.filters.BidForfeited(undefined, victim.id))).to.have.length(0);
    const [log] = await market.queryFilter(market.filters.ParticipantSettled(d, victim.id));
    expect(log.args.balancingWei).to.equal(0n);
    expect((log.args.rewardWei - log.args.incentiveWei)).to.equal(0n);
    // a new commit is refused while deauthorized
    const next = Number(await market.currentInterval()) + 1;
    await toCommit(market, next);
    await expect(commit(market, next, sell(victim, kwh("1"), milli("0.6")))).to.be.revertedWithCustomError(market, "NotAuthorized");
  });

  it("hands the role over in two steps: a wrong address changes nothing until it accepts, and nobody else can accept", async function () {
    const { market, operator, signers } = await victimAndPartner();
    const typo = signers[31];
    const intended = signers[32];
    await market.transferOperator(typo.address);
    expect(await market.operator()).to.equal(operator.address);
    await market.transferOperator(intended.address); // the mistake is corrected before anyone accepts
    await expect(market.connect(typo).acceptOperator()).to.be.revertedWithCustomError(market, "NotProposedOperator").withArgs(typo.address);
    await market.connect(intended).acceptOperator();
    expect(await market.operator()).to.equal(intended.address);
    expect(await market.pendingOperator()).to.equal("0x0000000000000000000000000000000000000000");
    await expect(market.authorize(2, false)).to.be.revertedWithCustomError(market, "NotOperator").withArgs(operator.address);
  });

  it("scheduling many parameter sets neither piles up versions nor makes anyone's commit or reveal dearer", async function () {
    const { market, victim, partner } = await victimAndPartner();
    // Rounds four intervals apart use the same storage slots, so they compare like for like.
    const gas = async (scheduled: number, d: number) => {
      for (let i = 0; i < scheduled; i++) await market.scheduleParams({ ...PAPER_PARAMS, marginWei: 10n ** 15n + BigInt(i) }, d + 2 + i);
      await toCommit(market, d);
      const bid = sell(victim, kwh("1"), milli("0.6"));
      const c = await executionGas(await market.connect(victim.signer).commitBid(d, await commitmentFor(market, victim, d, bid, "0x" + "11".repeat(32))));
      const o = buy(partner, kwh("1"), milli("0.8"));
      await commit(market, d, o);
      await toReveal(market, d);
      const rv = await executionGas(await market.connect(victim.signer).revealBid(d, bid.side, bid.energyWh, bid.priceWeiPerKWh, "0x" + "11".repeat(32), 0));
      return { commit: c, reveal: rv, d };
    };
    const first = Number(await market.currentInterval()) + 2;
    await settleThrough(market, (await gas(0, first)).d, [victim.id, partner.id]);
    const one = await gas(1, first + 4);
    await settleThrough(market, one.d, [victim.id, partner.id]);
    const many = await gas(40, first + 8);
    expect(many.commit, "commit").to.equal(one.commit);
    expect(many.reveal, "reveal").to.equal(one.reveal);
    const versions = await market.queryFilter(market.filters.ParamsScheduled());
    expect(versions.length).to.equal(1 + 1 + 40);
    expect(new Set(versions.map((v) => v.args.version)).size, "each new set replaced the pending one: the initial set and one per round").to.equal(3);
  });

  it("parameters are bounded: no W' above 2 or at or below 1, no M'' above W'', no band above the deployment's ceiling, no margin above its limit", async function () {
    const { market } = await victimAndPartner();
    const from = Number(await market.currentInterval()) + 2;
    const bad = [
      { shortRatioPpm: 2_000_001n },
      { shortRatioPpm: 1_000_000n },
      { penaltyRatioPpm: 950_000n },
      { rewardRatioPpm: 100_001n },
      { capPriceWeiPerKWh: LIMITS.maxBandPriceWeiPerKWh + 1n },
      { floorPriceWeiPerKWh: 0n },
      { marginWei: LIMITS.maxMarginWei + 1n, forfeitWei: 0n },
    ];
    for (const change of bad) {
      await expect(market.scheduleParams({ ...PAPER_PARAMS, ...change }, from), JSON.stringify(change, (_, v) => (typeof v === "bigint" ? String(v) : v))).to.be.revertedWithCustomError(market, "InvalidParams");
    }
  });

  it("all at once: a stolen key tries every lever during a victim's honest sale; the victim's outcome is exactly what the rules owe it", async function () {
    const { market, victim, partner, rogueMeter, signers, gridId } = await victimAndPartner();
    const d = Number(await market.currentInterval()) + 2;
    // The rogue schedules the harshest parameters it may, from the earliest interval it may.
    const harsh = { ...PAPER_PARAMS, capPriceWeiPerKWh: LIMITS.maxBandPriceWeiPerKWh, shortRatioPpm: 2_000_000n, penaltyRatioPpm: 500_000n, longRatioPpm: 500_000n, rewardRatioPpm: 0n };
    await market.scheduleParams(harsh, Number(await market.currentInterval()) + 2);
    for (let i = 0; i < 10; i++) await market.scheduleParams(harsh, Number(await market.currentInterval()) + 3 + i);
    await toCommit(market, d);
    const bid = sell(victim, kwh("3"), milli("0.6"));
    const sealed = await commit(market, d, bid);
    const other = buy(partner, kwh("3"), milli("0.8"));
    const sealedOther = await commit(market, d, other);
    // ... proposes its own meter to the victim, deauthorizes it, tries to release its meter mid-sale
    await market.proposeMeter(victim.id, newMeter(777000000002n, rogueMeter.address, LIMITS.maxRatedPowerW));
    await market.authorize(victim.id, false);
    await toReveal(market, d);
    await reveal(market, bid, sealed);
    await reveal(market, other, sealedOther);
    await expect(market.unbindMeter(victim.id)).to.be.revertedWithCustomError(market, "NotSettledYet");
    await toClearing(market, d);
    await clearUntilDone(market, d);
    // ... and hands the role to an accomplice
    await market.transferOperator(signers[33].address);
    await market.connect(signers[33]).acceptOperator();
    await toStart(market, d + 1);
    await expect(market.connect(rogueMeter).postReading(777000000002n, d, 10n ** 9n, 0n)).to.be.revertedWithCustomError(market, "UnknownMeterAccount");
    for (const p of [victim, partner]) await meterEnergy(market, p, d - 1);
    await meterEnergy(market, victim, d, { exportWh: kwh("3") });
    await meterEnergy(market, partner, d, { importWh: kwh("3") });
    const before = (await market.walletOf(victim.id)).balance;
    await settleThrough(market, d, [victim.id, partner.id]);

    const params = await market.paramsAt(d);
    const model = clearBook([
      { id: Number(victim.id), side: "sell", green: false, energyWh: bid.energyWh, priceWeiPerKWh: bid.priceWeiPerKWh },
      { id: Number(partner.id), side: "buy", green: false, energyWh: other.energyWh, priceWeiPerKWh: other.priceWeiPerKWh },
    ]);
    const A = balancingPrice(model, params as unknown as ModelBand);
    const owed = settleParticipant(positionOf(model, { id: Number(victim.id), side: "sell", green: false, energyWh: bid.energyWh, priceWeiPerKWh: bid.priceWeiPerKWh }), kwh("3"), A, params as never);
    const [log] = await market.queryFilter(market.filters.ParticipantSettled(d, victim.id));
    expect([log.args.balancingWei, log.args.incentiveWei]).to.deep.equal([owed.balancingWei, owed.incentiveWei]);
    expect(owed.balancingWei, "a delivered sale owes the grid nothing, whatever the parameters").to.equal(0n);
    expect((await market.walletOf(victim.id)).balance - before).to.equal(owed.incentiveWei);
    expect(await market.queryFilter(market.filters.BidForfeited(undefined, victim.id))).to.have.length(0);
    expect((await market.meterOf(victim.id)).account).to.equal(victim.meter.address);
    expect((await market.walletOf(gridId)).owed).to.equal(0n);
  });
});

/** Gas a transaction used beyond its calldata (whose cost depends on how many of its bytes are zero). */
async function executionGas(tx: ContractTransactionResponse): Promise<bigint> {
  const receipt = (await tx.wait())!;
  const data = getBytes(tx.data);
  const calldata = data.reduce((sum, byte) => sum + (byte === 0 ? 4n : 16n), 0n);
  return receipt.gasUsed - calldata;
}

/** The commitment of `bid` with a fixed salt (so two runs cost the same gas). */
async function commitmentFor(market: EnergyMarket, p: Player, d: number, bid: { side: number; energyWh: bigint; priceWeiPerKWh: bigint }, salt: string) {
  return market.bidCommitment(d, p.signer.address, bid.side, bid.energyWh, bid.priceWeiPerKWh, salt);
}
