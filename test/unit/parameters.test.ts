/**
 * Parameters: scheduleParams (future intervals only, at most one pending set, documented bounds and
 * the deployment's limits) and the schedule and limits checked at deployment.
 */
import { expect } from "chai";
import { EnergyMarket } from "../../typechain-types";
import { commit, paperFixture, sell, toCommit, toReveal, toStart, loadFixture } from "../shared/fixtures";
import { reveal } from "../shared/fixtures";
import { DEFAULT_LIMITS, MarketParams, PAPER_PARAMS, linkedFactory, scheduleFor } from "./helpers";

const FIELDS = [
  "marginWei",
  "forfeitWei",
  "maxEnergyWh",
  "minVolumeWh",
  "referencePriceWeiPerKWh",
  "maxPriceWeiPerKWh",
  "floorPriceWeiPerKWh",
  "capPriceWeiPerKWh",
  "shortRatioPpm",
  "longRatioPpm",
  "rewardRatioPpm",
  "penaltyRatioPpm",
] as const;

const asArray = (p: MarketParams) => FIELDS.map((f) => BigInt(p[f] as bigint));

async function paramsAt(market: EnergyMarket, d: number) {
  const p = await market.paramsAt(d);
  return FIELDS.map((f) => p[f]);
}

const CHEAP: MarketParams = {
  ...PAPER_PARAMS,
  maxPriceWeiPerKWh: 10n ** 15n,
  referencePriceWeiPerKWh: 10n ** 14n,
  floorPriceWeiPerKWh: 5n * 10n ** 13n,
  capPriceWeiPerKWh: 2n * 10n ** 14n,
};
const LIMIT_PRICE = BigInt(DEFAULT_LIMITS.maxPriceWeiPerKWh as bigint);
const LIMIT_BAND = BigInt(DEFAULT_LIMITS.maxBandPriceWeiPerKWh as bigint);
const LIMIT_MARGIN = BigInt(DEFAULT_LIMITS.maxMarginWei as bigint);
const json = (x: unknown) => JSON.stringify(x, (_, v) => (typeof v === "bigint" ? v.toString() : v));

describe("parameters", function () {
  it("reverts NotOperator for anyone but the operator", async function () {
    const { market, actors } = await loadFixture(paperFixture);
    await expect(market.connect(actors.wind.signer).scheduleParams(CHEAP, 5))
      .to.be.revertedWithCustomError(market, "NotOperator")
      .withArgs(actors.wind.signer.address);
    expect(await paramsAt(market, 5)).to.deep.equal(asArray(PAPER_PARAMS));
  });

  it("reverts ParamsNotInFuture for an interval whose trading has started", async function () {
    const { market } = await loadFixture(paperFixture);
    await toStart(market, 3);
    // interval 4 trades during 3 (now): the earliest is 5
    await expect(market.scheduleParams(CHEAP, 4)).to.be.revertedWithCustomError(market, "ParamsNotInFuture").withArgs(4, 5);
    await expect(market.scheduleParams(CHEAP, 0)).to.be.revertedWithCustomError(market, "ParamsNotInFuture").withArgs(0, 5);
    expect(await paramsAt(market, 4)).to.deep.equal(asArray(PAPER_PARAMS));
    await expect(market.scheduleParams(CHEAP, 5)).to.emit(market, "ParamsScheduled");
    expect(await paramsAt(market, 5)).to.deep.equal(asArray(CHEAP));
  });

  it("keeps at most one set pending: scheduling again before it takes effect replaces it, whatever its interval", async function () {
    const { market } = await loadFixture(paperFixture);
    const other = { ...PAPER_PARAMS, marginWei: 2n * 10n ** 15n };
    await market.scheduleParams(CHEAP, 8);
    await expect(market.scheduleParams(other, 6)).to.emit(market, "ParamsScheduled");
    expect(await paramsAt(market, 5)).to.deep.equal(asArray(PAPER_PARAMS));
    expect(await paramsAt(market, 6)).to.deep.equal(asArray(other));
    expect(await paramsAt(market, 9)).to.deep.equal(asArray(other)); // CHEAP from 8 is gone
    // however often the operator schedules, the sets stored do not grow
    for (let i = 0; i < 20; i++) await market.scheduleParams(i % 2 ? CHEAP : other, 10 + i);
    // version 0 is the deployment's set; every one scheduled since was stored as version 1
    const versions = (await market.queryFilter(market.filters.ParamsScheduled())).map((l) => l.args.version);
    expect(versions).to.deep.equal([0n, ...Array(22).fill(1n)]);
    // the last one (CHEAP from 29) is the only set pending; before it the deployment's set is in force
    expect(await paramsAt(market, 28)).to.deep.equal(asArray(PAPER_PARAMS));
    expect(await paramsAt(market, 29)).to.deep.equal(asArray(CHEAP));
  });

  it("a set that took effect stays; a later one stacks on top", async function () {
    const { market } = await loadFixture(paperFixture);
    const other = { ...PAPER_PARAMS, marginWei: 2n * 10n ** 15n };
    await market.scheduleParams(other, 5);
    // interval 5 trades during 4: from then on the set is no longer pending
    await toStart(market, 4);
    await market.scheduleParams(CHEAP, 9);
    const logs = await market.queryFilter(market.filters.ParamsScheduled());
    expect(logs.map((l) => [l.args.fromInterval, l.args.version])).to.deep.equal([
      [0n, 0n], // the deployment's set
      [5n, 1n],
      [9n, 2n],
    ]);
    expect(await paramsAt(market, 4)).to.deep.equal(asArray(PAPER_PARAMS));
    expect(await paramsAt(market, 8)).to.deep.equal(asArray(other));
    expect(await paramsAt(market, 9)).to.deep.equal(asArray(CHEAP));
  });

  it("reverts InvalidParams outside the documented bounds: 1 < W' <= 2, M'' <= W'' <= 1, M' <= 0.1, M'' <= 0.5, 0 < floor <= reference <= cap, the band, bid prices and margin within the limits, forfeit <= margin", async function () {
    const { market } = await loadFixture(paperFixture);
    const ref = BigInt(PAPER_PARAMS.referencePriceWeiPerKWh as bigint);
    const cap = BigInt(PAPER_PARAMS.capPriceWeiPerKWh as bigint);
    const margin = BigInt(PAPER_PARAMS.marginWei as bigint);
    const bad: Partial<MarketParams>[] = [
      { maxEnergyWh: 0n },
      { maxPriceWeiPerKWh: 0n },
      { maxPriceWeiPerKWh: LIMIT_PRICE + 1n },
      { floorPriceWeiPerKWh: 0n },
      { floorPriceWeiPerKWh: ref + 1n },
      { referencePriceWeiPerKWh: cap + 1n },
      { capPriceWeiPerKWh: LIMIT_BAND + 1n },
      { shortRatioPpm: 1_000_000n },
      { shortRatioPpm: 2_000_001n },
      { longRatioPpm: 1_000_001n },
      { longRatioPpm: 40_000n }, // below M'' = 0.05
      { penaltyRatioPpm: 500_001n },
      { rewardRatioPpm: 100_001n },
      { marginWei: LIMIT_MARGIN + 1n },
      { forfeitWei: margin + 1n },
    ];
    for (const b of bad) {
      await expect(market.scheduleParams({ ...PAPER_PARAMS, ...b }, 5), json(b)).to.be.revertedWithCustomError(market, "InvalidParams").withArgs();
    }
    expect(await paramsAt(market, 5)).to.deep.equal(asArray(PAPER_PARAMS));
    // every bound itself is allowed
    const edge: MarketParams = {
      ...PAPER_PARAMS,
      marginWei: LIMIT_MARGIN,
      forfeitWei: LIMIT_MARGIN,
      maxPriceWeiPerKWh: LIMIT_PRICE,
      floorPriceWeiPerKWh: LIMIT_BAND,
      referencePriceWeiPerKWh: LIMIT_BAND,
      capPriceWeiPerKWh: LIMIT_BAND,
      shortRatioPpm: 2_000_000n,
      longRatioPpm: 1_000_000n,
      penaltyRatioPpm: 500_000n,
      rewardRatioPpm: 100_000n,
    };
    await expect(market.scheduleParams(edge, 5)).to.emit(market, "ParamsScheduled");
    expect(await paramsAt(market, 5)).to.deep.equal(asArray(edge));
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
    const v = await market.intervalOf(3);
    expect([v.averagePriceWeiPerKWh, v.balancingPriceWeiPerKWh]).to.deep.equal([CHEAP.referencePriceWeiPerKWh, CHEAP.referencePriceWeiPerKWh]);
  });

  it("limits() returns the deployment's bounds", async function () {
    const { market } = await loadFixture(paperFixture);
    const l = await market.limits();
    expect([l.maxPriceWeiPerKWh, l.maxBandPriceWeiPerKWh, l.maxMarginWei, l.maxRatedPowerW]).to.deep.equal([
      LIMIT_PRICE,
      LIMIT_BAND,
      LIMIT_MARGIN,
      BigInt(DEFAULT_LIMITS.maxRatedPowerW as bigint),
    ]);
  });

  it("the constructor rejects a schedule without room for every phase or zero limits (InvalidSchedule), and parameters outside the limits (InvalidParams)", async function () {
    const { operator } = await loadFixture(paperFixture);
    const factory = await linkedFactory(operator);
    const bad = [
      scheduleFor(900, 0, { intervalSeconds: 0 }),
      scheduleFor(900, 0, { commitSeconds: 0 }),
      scheduleFor(900, 0, { revealSeconds: 0 }),
      scheduleFor(900, 0, { commitSeconds: 600, revealSeconds: 300 }),
      scheduleFor(900, 0, { settleOffsetSeconds: 900 }),
    ];
    for (const s of bad) await expect(factory.deploy(s, DEFAULT_LIMITS, PAPER_PARAMS)).to.be.revertedWithCustomError(factory, "InvalidSchedule").withArgs();
    for (const l of [{ ...DEFAULT_LIMITS, maxPriceWeiPerKWh: 0n }, { ...DEFAULT_LIMITS, maxBandPriceWeiPerKWh: 0n }, { ...DEFAULT_LIMITS, maxRatedPowerW: 0n }]) {
      await expect(factory.deploy(scheduleFor(900), l, PAPER_PARAMS)).to.be.revertedWithCustomError(factory, "InvalidSchedule").withArgs();
    }
    await expect(factory.deploy(scheduleFor(900), DEFAULT_LIMITS, { ...PAPER_PARAMS, maxEnergyWh: 0n })).to.be.revertedWithCustomError(factory, "InvalidParams");
    // the paper's parameters do not fit limits below their maximum bid price, cap or margin
    for (const tight of [
      { ...DEFAULT_LIMITS, maxPriceWeiPerKWh: 10n ** 15n },
      { ...DEFAULT_LIMITS, maxBandPriceWeiPerKWh: 10n ** 15n },
      { ...DEFAULT_LIMITS, maxMarginWei: 10n ** 14n },
    ]) {
      await expect(factory.deploy(scheduleFor(900), tight, PAPER_PARAMS), json(tight)).to.be.revertedWithCustomError(factory, "InvalidParams");
    }
    const ok = await factory.deploy(scheduleFor(900, 0, { commitSeconds: 600, revealSeconds: 299, settleOffsetSeconds: 899 }), DEFAULT_LIMITS, PAPER_PARAMS);
    expect((await ok.schedule())[1]).to.equal(900n);
  });
});
