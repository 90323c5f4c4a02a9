/**
 * Attacks on the average price A that every balancing and incentive payment uses: inflating it with
 * a tiny wash trade at the maximum price, deflating it with a fake offer at 1 wei/kWh, and pushing it
 * with a large wash trade. Each asserts the colluders' net ether and what the grid paid or was paid.
 */
import { expect } from "chai";
import { PAPER_PARAMS, clearUntilDone } from "../../lib/market";
import { valueOf } from "../../lib/model";
import { ETH, buy, kwh, milli, placeBids, sell, settleThrough, toStart, loadFixture } from "../shared/fixtures";
import { Player, attackFixture, join, meterEnergy, netEther, stakeFor } from "./support";

const P = PAPER_PARAMS as {
  maxPriceWeiPerKWh: bigint;
  referencePriceWeiPerKWh: bigint;
  floorPriceWeiPerKWh: bigint;
  capPriceWeiPerKWh: bigint;
  minVolumeWh: bigint;
  shortRatioPpm: bigint;
  longRatioPpm: bigint;
  penaltyRatioPpm: bigint;
};

describe("attacks on the average price", function () {
  /** Post every player's energy of `d-1` (none) and `d`, and settle them through `d`. */
  async function deliverAndSettle(market: Awaited<ReturnType<typeof attackFixture>>["market"], d: number, energy: [Player, { exportWh?: bigint; importWh?: bigint }][]) {
    await toStart(market, d + 1);
    for (const [p] of energy) await meterEnergy(market, p, d - 1);
    for (const [p, e] of energy) await meterEnergy(market, p, d, e);
    await settleThrough(market, d, energy.map(([p]) => p.id));
  }

  async function settledOf(market: Awaited<ReturnType<typeof attackFixture>>["market"], d: number, p: Player) {
    const [log] = await market.queryFilter(market.filters.ParticipantSettled(d, p.id));
    return log.args;
  }

  it("inflating: a 1 Wh wash trade at 1 ether/kWh in an empty interval leaves A at the reference price; the exporter is paid 0.0126 ether for 20 kWh, not 18", async function () {
    const f = await loadFixture(attackFixture);
    const { market, signers: s, gridId } = f;
    const c1 = await join(market, s[2], s[12], { name: "colluder 1", depositWei: stakeFor(100_000, [1n]) + ETH });
    const c2 = await join(market, s[3], s[13], { name: "colluder 2", depositWei: stakeFor(100_000) + ETH });
    const exporter = await join(market, s[4], s[14], { name: "exporter", depositWei: stakeFor(100_000) });
    const d = Number(await market.currentInterval()) + 2;
    await placeBids(market, d, [sell(c1, 1n, P.maxPriceWeiPerKWh), buy(c2, 1n, P.maxPriceWeiPerKWh)]);
    await clearUntilDone(market, d);
    const view = await market.intervalOf(d);
    expect(view.averagePriceWeiPerKWh, "the wash trade's mean price").to.equal(P.maxPriceWeiPerKWh);
    expect(view.balancingPriceWeiPerKWh, "1 Wh is below the minimum volume: A is the reference price").to.equal(P.referencePriceWeiPerKWh);
    const gridBefore = (await market.walletOf(gridId)).balance;
    await deliverAndSettle(market, d, [
      [c1, {}], // the wash trade only meant to set the price: nothing flows
      [c2, {}],
      [exporter, { exportWh: kwh("20") }],
    ]);
    const paid = (await settledOf(market, d, exporter)).balancingWei;
    expect(paid, "20 kWh at 0.0007 × 0.9").to.equal(kwh("20") * P.referencePriceWeiPerKWh * 9n / 10n / 1000n);
    expect(paid).to.equal(12_600_000_000_000_000n); // 0.0126 ether
    const traders = (await netEther(market, c1)) + (await netEther(market, c2));
    expect(traders, "the wash traders lose").to.be.lessThan(0n);
    expect(traders + (await netEther(market, exporter)) - paid, "with the exporter, the colluders got nothing beyond what an honest 20 kWh export earns").to.be.lessThan(0n);
    const washBalancing = (await settledOf(market, d, c1)).balancingWei + (await settledOf(market, d, c2)).balancingWei;
    expect(gridBefore - (await market.walletOf(gridId)).balance, "the grid paid the exporter and was paid for the wash trade's shortfall").to.equal(paid + washBalancing);
    expect(washBalancing, "the undelivered wash trade cost its seller more than the grid paid its buyer").to.be.lessThan(0n);
  });

  it("inflating with volume: a 0.2 kWh wash trade at 1 ether/kWh moves A no further than the cap, and the exporter gets at most cap × W''", async function () {
    const f = await loadFixture(attackFixture);
    const { market, signers: s } = f;
    const c1 = await join(market, s[2], s[12], { name: "colluder 1", depositWei: stakeFor(100_000, [kwh("0.2")]) + ETH });
    const c2 = await join(market, s[3], s[13], { name: "colluder 2", depositWei: stakeFor(100_000) + ETH });
    const exporter = await join(market, s[4], s[14], { name: "exporter", depositWei: stakeFor(100_000) });
    const d = Number(await market.currentInterval()) + 2;
    await placeBids(market, d, [sell(c1, kwh("0.2"), P.maxPriceWeiPerKWh), buy(c2, kwh("0.2"), P.maxPriceWeiPerKWh)]);
    await clearUntilDone(market, d);
    expect((await market.intervalOf(d)).balancingPriceWeiPerKWh).to.equal(P.capPriceWeiPerKWh);
    await deliverAndSettle(market, d, [
      [c1, { exportWh: kwh("0.2") }],
      [c2, { importWh: kwh("0.2") }],
      [exporter, { exportWh: kwh("20") }],
    ]);
    expect((await settledOf(market, d, exporter)).balancingWei).to.equal(valueOf(kwh("20"), P.capPriceWeiPerKWh, P.longRatioPpm));
  });

  it("deflating: a fake 1,000 kWh offer at 1 wei/kWh leaves A at the floor; the pair loses, the grid is paid at least the floor for what it supplied", async function () {
    const f = await loadFixture(attackFixture);
    const { market, signers: s, gridId } = f;
    const big = 4_000_000; // a 4 MW meter: 1,000 kWh in 15 minutes
    const faker = await join(market, s[2], s[12], { name: "faker", depositWei: stakeFor(big, [kwh("1000")]), ratedW: big });
    const accomplice = await join(market, s[3], s[13], { name: "accomplice", depositWei: stakeFor(big) + ETH, ratedW: big });
    const honest = await join(market, s[4], s[14], { name: "honest buyer", depositWei: ETH });
    const d = Number(await market.currentInterval()) + 2;
    await placeBids(market, d, [sell(faker, kwh("1000"), 1n), buy(honest, kwh("20"), milli("0.8")), buy(accomplice, kwh("980"), 1n)]);
    await clearUntilDone(market, d);
    const view = await market.intervalOf(d);
    expect(view.averagePriceWeiPerKWh, "the mean trade price the attack aimed for").to.equal((kwh("20") * ((milli("0.8") + 1n) / 2n) + kwh("980")) / kwh("1000"));
    expect(view.averagePriceWeiPerKWh).to.be.lessThan(10n ** 13n);
    expect(view.balancingPriceWeiPerKWh, "A is held at the floor").to.equal(P.floorPriceWeiPerKWh);
    const gridBefore = (await market.walletOf(gridId)).balance;
    await deliverAndSettle(market, d, [
      [faker, {}], // delivers nothing
      [accomplice, {}], // consumes nothing
      [honest, { importWh: kwh("20") }], // the grid supplies its 20 kWh
    ]);
    const fake = await settledOf(market, d, faker);
    expect(-fake.balancingWei, "the faker pays at least floor × W' for every kWh it did not deliver").to.be.greaterThanOrEqual(valueOf(kwh("1000"), P.floorPriceWeiPerKWh, P.shortRatioPpm));
    const pair = (await netEther(market, faker)) + (await netEther(market, accomplice));
    expect(pair, "the colluders end with less than they put in").to.be.lessThan(0n);
    const gridGot = (await market.walletOf(gridId)).balance - gridBefore;
    expect(gridGot, "the grid got at least the floor price for the 20 kWh it supplied").to.be.greaterThanOrEqual(kwh("20") * P.floorPriceWeiPerKWh / 1000n);
    expect((await market.walletOf(faker.id)).owed).to.equal(0n);
  });
});
