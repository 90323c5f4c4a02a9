/**
 * Parameters: scheduleParams (future intervals only, validation, replacement) and the schedule checked at deployment.
 */
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { EnergyMarket } from "../../typechain-types";
import { commit, paperFixture, sell, toCommit, toReveal, toStart } from "../shared/fixtures";
import { reveal } from "../shared/fixtures";
import { MarketParams, PAPER_PARAMS, linkedFactory, scheduleFor } from "./helpers";

const asArray = (p: MarketParams) => [
  p.marginWei,
  p.forfeitWei,
  p.referencePriceWeiPerKWh,
  p.maxPriceWeiPerKWh,
  p.maxEnergyWh,
  p.shortRatioPpm,
  p.longRatioPpm,
  p.rewardRatioPpm,
  p.penaltyRatioPpm,
].map((x) => BigInt(x as bigint));

async function paramsAt(market: EnergyMarket, d: number) {
  const p = await market.paramsAt(d);
  return asArray(p as unknown as MarketParams);
}

const CHEAP: MarketParams = { ...PAPER_PARAMS, maxPriceWeiPerKWh: 10n ** 15n, referencePriceWeiPerKWh: 10n ** 14n };

describe("parameters", function () {
  it("reverts NotOperator for anyone but the operator", async function () {
    const { market, actors } = await loadFixture(paperFixture);
    await expect(market.connect(actors.wind.signer).scheduleParams(CHEAP, 5))
      .to.be.revertedWithCustomError(market, "NotOperator")
      .withArgs(actors.wind.signer.address);
    expect(await paramsAt(market, 5)).to.deep.equal(asArray(PAPER_PARAMS));
  });

  it("reverts ParamsNotInFuture for an interval whose trading has started, or before a pending set", async function () {
    const { market } = await loadFixture(paperFixture);
    await toStart(market, 3);
    // interval 4 trades during 3 (now): the earliest is 5
    await expect(market.scheduleParams(CHEAP, 4)).to.be.revertedWithCustomError(market, "ParamsNotInFuture").withArgs(4, 5);
    await expect(market.scheduleParams(CHEAP, 0)).to.be.revertedWithCustomError(market, "ParamsNotInFuture").withArgs(0, 5);
    expect(await paramsAt(market, 4)).to.deep.equal(asArray(PAPER_PARAMS));
    await market.scheduleParams(CHEAP, 8);
    await expect(market.scheduleParams(PAPER_PARAMS, 6)).to.be.revertedWithCustomError(market, "ParamsNotInFuture").withArgs(6, 8);
    expect(await paramsAt(market, 7)).to.deep.equal(asArray(PAPER_PARAMS));
    expect(await paramsAt(market, 8)).to.deep.equal(asArray(CHEAP));
  });

  it("reverts InvalidParams for out-of-range values", async function () {
    const { market } = await loadFixture(paperFixture);
    const bad: Partial<MarketParams>[] = [
      { maxEnergyWh: 0n },
      { maxEnergyWh: 2n ** 48n },
      { maxPriceWeiPerKWh: 0n },
      { maxPriceWeiPerKWh: 2n ** 96n },
      { referencePriceWeiPerKWh: 0n },
      { referencePriceWeiPerKWh: BigInt(PAPER_PARAMS.maxPriceWeiPerKWh as bigint) + 1n },
      { shortRatioPpm: 10_000_001n },
      { longRatioPpm: 10_000_001n },
      { rewardRatioPpm: 10_000_001n },
      { penaltyRatioPpm: 10_000_001n },
    ];
    for (const b of bad) {
      await expect(market.scheduleParams({ ...PAPER_PARAMS, ...b }, 5), JSON.stringify(b, (_, v) => (typeof v === "bigint" ? v.toString() : v)))
        .to.be.revertedWithCustomError(market, "InvalidParams")
        .withArgs();
    }
    expect(await paramsAt(market, 5)).to.deep.equal(asArray(PAPER_PARAMS));
  });

  it("reverts InvalidParams for a forfeit above the margin (it is paid from the margin)", async function () {
    const { market } = await loadFixture(paperFixture);
    const p = { ...PAPER_PARAMS, forfeitWei: BigInt(PAPER_PARAMS.marginWei as bigint) + 1n };
    await expect(market.scheduleParams(p, 5)).to.be.revertedWithCustomError(market, "InvalidParams").withArgs();
    expect(await paramsAt(market, 5)).to.deep.equal(asArray(PAPER_PARAMS));
  });

  it("a new set applies from its interval only: earlier bids keep the old maximum price", async function () {
    const { market, actors } = await loadFixture(paperFixture);
    const { wind } = actors;
    await expect(market.scheduleParams(CHEAP, 3)).to.emit(market, "ParamsScheduled");
    expect(await paramsAt(market, 2)).to.deep.equal(asArray(PAPER_PARAMS));
    expect(await paramsAt(market, 3)).to.deep.equal(asArray(CHEAP));
    expect(await paramsAt(market, 100)).to.deep.equal(asArray(CHEAP));
    const high = BigInt(CHEAP.maxPriceWeiPerKWh as bigint) + 1n;
    const spec = sell(wind, 100n, high);
    await toCommit(market, 2);
    const s2 = await commit(market, 2, spec);
    await toReveal(market, 2);
    await expect(reveal(market, spec, s2)).to.emit(market, "BidRevealed");
    await toCommit(market, 3);
    const s3 = await commit(market, 3, spec);
    await toReveal(market, 3);
    await expect(reveal(market, spec, s3))
      .to.be.revertedWithCustomError(market, "PriceTooHigh")
      .withArgs(high, CHEAP.maxPriceWeiPerKWh);
    // intervals without trades take their own set's reference price
    expect((await market.intervalOf(3)).averagePriceWeiPerKWh).to.equal(CHEAP.referencePriceWeiPerKWh);
  });

  it("scheduling the same interval again replaces the pending set", async function () {
    const { market } = await loadFixture(paperFixture);
    await market.scheduleParams(CHEAP, 5);
    const other = { ...PAPER_PARAMS, marginWei: 2n * 10n ** 15n };
    await expect(market.scheduleParams(other, 5)).to.emit(market, "ParamsScheduled");
    const logs = await market.queryFilter(market.filters.ParamsScheduled(5));
    expect(logs.map((l) => l.args.version)).to.deep.equal([1n, 1n]);
    expect(await paramsAt(market, 5)).to.deep.equal(asArray(other));
    expect(await paramsAt(market, 4)).to.deep.equal(asArray(PAPER_PARAMS));
    // a later set stacks on top
    await market.scheduleParams(CHEAP, 9);
    expect(await paramsAt(market, 8)).to.deep.equal(asArray(other));
    expect(await paramsAt(market, 9)).to.deep.equal(asArray(CHEAP));
  });

  it("the constructor rejects a schedule without room for every phase (InvalidSchedule) and invalid parameters", async function () {
    const { operator } = await loadFixture(paperFixture);
    const factory = await linkedFactory(operator);
    const bad = [
      scheduleFor(900, 0, { intervalSeconds: 0 }),
      scheduleFor(900, 0, { commitSeconds: 0 }),
      scheduleFor(900, 0, { revealSeconds: 0 }),
      scheduleFor(900, 0, { commitSeconds: 600, revealSeconds: 300 }),
      scheduleFor(900, 0, { settleOffsetSeconds: 900 }),
    ];
    for (const s of bad) await expect(factory.deploy(s, PAPER_PARAMS)).to.be.revertedWithCustomError(factory, "InvalidSchedule").withArgs();
    await expect(factory.deploy(scheduleFor(900), { ...PAPER_PARAMS, maxEnergyWh: 0n })).to.be.revertedWithCustomError(factory, "InvalidParams");
    const ok = await factory.deploy(scheduleFor(900, 0, { commitSeconds: 600, revealSeconds: 299, settleOffsetSeconds: 899 }), PAPER_PARAMS);
    expect((await ok.schedule())[1]).to.equal(900n);
  });
});
