/**
 * Randomized differential test: many random order books and meter outcomes run through the contract
 * and through the off-chain reference model (lib/model.ts); trades, average prices, settlements and
 * wallets must agree exactly, in Wh and wei.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { PAPER_PARAMS, Side, SealedBid, bindMeter, commitmentOf, deployMarket, newMeter, newSalt, scheduleFor } from "../lib/market";
import { ModelBand, ModelBid, averagePrice, balancingPrice, clearBook, positionOf, settleParticipant } from "../lib/model";
import { ETH, INTERVAL, toClearing, toCommit, toGraceOver, toNextBoundary, toReveal, toStart } from "./shared/fixtures";
import { rng } from "./shared/random";

interface Trader {
  id: number;
  green: boolean;
  signer: HardhatEthersSigner;
  meter: HardhatEthersSigner;
  number: bigint;
  imp: bigint;
  exp: bigint;
}

const RATIOS = PAPER_PARAMS as unknown as { shortRatioPpm: bigint; longRatioPpm: bigint; rewardRatioPpm: bigint; penaltyRatioPpm: bigint };
const REFERENCE = PAPER_PARAMS.referencePriceWeiPerKWh as bigint;
const BAND = PAPER_PARAMS as unknown as ModelBand;
const TRADERS = 10;
const ROUNDS = Number(process.env.MODEL_ROUNDS ?? 24);

describe("contract against the reference model (randomized)", function () {
  it(`agrees on ${ROUNDS} random order books and meter outcomes, exactly in Wh and wei`, async function () {
    const seed = Number(process.env.MODEL_SEED ?? 20190305);
    const r = rng(seed);
    const signers = await ethers.getSigners();
    const market = await deployMarket(signers[0], scheduleFor(INTERVAL, await toNextBoundary()), PAPER_PARAMS);
    await market.registerGrid(signers[1].address, "grid");
    const gridId = Number(await market.gridId());
    await market.connect(signers[1]).deposit({ value: 1000n * ETH });
    await market.fundPool({ value: 100n * ETH });
    const traders: Trader[] = [];
    for (let i = 0; i < TRADERS; i++) {
      const signer = signers[2 + i];
      const green = r.chance(0.4);
      await market.connect(signer).register(`p${i}`, green);
      const id = Number(await market.idOf(signer.address));
      await market.authorize(id, true);
      const number = 200000000000n + BigInt(i);
      await market.connect(signer).deposit({ value: 10n * ETH });
      await bindMeter(market, signer, id, newMeter(number, signers[2 + TRADERS + i].address, 50_000));
      traders.push({ id, green, signer, meter: signers[2 + TRADERS + i], number, imp: 0n, exp: 0n });
    }
    const ids = traders.map((t) => BigInt(t.id));
    const balances = new Map<number, bigint>(traders.map((t) => [t.id, 10n * ETH]));
    balances.set(gridId, 1000n * ETH);
    let pool = 100n * ETH;
    let tradesSeen = 0;
    let shortSellers = 0;
    const bandsHit = new Set<string>();
    let settledIntervals = Number((await market.settlementOf(ids[0])).nextInterval);

    let d = Number(await market.currentInterval()) + 2;
    for (let round = 0; round < ROUNDS; round++, d += 3) {
      // ---- random book, committed and revealed in random order with random hints
      const bidders = traders.filter(() => r.chance(0.8));
      const coarse = r.chance(0.5); // coarse prices make ties likely
      const wide = r.chance(0.3) ? (r.chance(0.5) ? "low" : "high") : null; // prices beyond the band: A is clamped
      const thin = r.chance(0.15); // tiny quantities: the volume may stay below the minimum
      const bids: ModelBid[] = bidders.map((t) => ({
        id: t.id,
        side: r.chance(0.5) ? "sell" : "buy",
        green: t.green,
        energyWh: BigInt(thin ? r.int(1, 40) : r.int(1, 3000)),
        priceWeiPerKWh: wide
          ? BigInt(wide === "low" ? r.int(1, 4) : r.int(10, 30)) * 10n ** 14n + BigInt(r.int(0, 999))
          : coarse
            ? BigInt(r.int(4, 9)) * 10n ** 14n
            : BigInt(r.int(400_000, 900_000)) * 10n ** 9n + BigInt(r.int(0, 999)),
      }));
      await toCommit(market, d);
      const sealed = new Map<number, SealedBid>();
      const { chainId } = await ethers.provider.getNetwork();
      for (const b of bids) {
        const t = traders.find((x) => x.id === b.id)!;
        const s: SealedBid = { interval: d, side: b.side === "sell" ? Side.Sell : Side.Buy, energyWh: b.energyWh, priceWeiPerKWh: b.priceWeiPerKWh, salt: newSalt() };
        sealed.set(b.id, s);
        await market.connect(t.signer).commitBid(d, commitmentOf(chainId, await market.getAddress(), t.signer.address, s));
      }
      await toReveal(market, d);
      const order = [...bids].sort(() => r.next() - 0.5);
      for (const b of order) {
        const t = traders.find((x) => x.id === b.id)!;
        const s = sealed.get(b.id)!;
        const hint = r.chance(0.5) ? await market.revealHint(d, t.id, s.side, t.green, s.priceWeiPerKWh) : BigInt(r.pick([0, ...bids.map((x) => x.id)]));
        await market.connect(t.signer).revealBid(d, s.side, s.energyWh, s.priceWeiPerKWh, s.salt, hint);
      }

      // ---- clearing in random-size steps
      await toClearing(market, d);
      while (Number((await market.intervalOf(d)).stage) !== 4) await market.clear(d, r.int(1, 12));
      const model = clearBook(bids);
      const logs = await market.queryFilter(market.filters.TradeMatched(d));
      expect(
        logs.map((l) => [Number(l.args.stage) === 1 ? "green" : "all", Number(l.args.sellerId), Number(l.args.buyerId), l.args.energyWh, l.args.priceWeiPerKWh, l.args.amountWei]),
        `trades of round ${round} (seed ${seed})`,
      ).to.deep.equal(model.trades.map((t) => [t.stage, t.sellerId, t.buyerId, t.energyWh, t.priceWeiPerKWh, t.amountWei]));
      const view = await market.intervalOf(d);
      expect(view.averagePriceWeiPerKWh).to.equal(averagePrice(model, REFERENCE));
      const price = balancingPrice(model, BAND);
      expect(view.balancingPriceWeiPerKWh).to.equal(price);
      bandsHit.add(price === REFERENCE && model.tradedWh < BAND.minVolumeWh ? "reference" : price === BAND.floorPriceWeiPerKWh ? "floor" : price === BAND.capPriceWeiPerKWh ? "cap" : "mean");
      tradesSeen += model.trades.length;
      for (const t of model.trades) {
        balances.set(t.sellerId, balances.get(t.sellerId)! + t.amountWei);
        balances.set(t.buyerId, balances.get(t.buyerId)! - t.amountWei);
      }

      // ---- meter outcomes: registers at the end of d-1 and of d
      await toStart(market, d);
      for (const t of traders) await market.connect(t.meter).postReading(t.number, d - 1, t.imp, t.exp);
      const actual = new Map<number, bigint>();
      for (const t of traders) {
        const exp = r.chance(0.5) ? BigInt(r.int(0, 3500)) : 0n;
        const imp = r.chance(0.5) ? BigInt(r.int(0, 3500)) : 0n;
        t.exp += exp;
        t.imp += imp;
        actual.set(t.id, exp - imp);
      }
      await toStart(market, d + 1);
      for (const t of traders) await market.connect(t.meter).postReading(t.number, d, t.imp, t.exp);

      // ---- settle every interval up to d (the ones between rounds have no bids and no energy)
      await toGraceOver(market, d);
      for (let k = settledIntervals; k <= d; k++) {
        if (Number((await market.intervalOf(k)).stage) !== 4) await market.clear(k, 10);
        await market.settle(k, ids);
      }
      settledIntervals = d + 1;
      const settled = await market.queryFilter(market.filters.ParticipantSettled(d));
      expect(settled.length).to.equal(traders.length);
      for (const log of settled) {
        const id = Number(log.args.id);
        const position = positionOf(model, bids.find((b) => b.id === id));
        const expected = settleParticipant(position, actual.get(id)!, price, RATIOS);
        if (position && position.clearedWh > actual.get(id)! && position.clearedWh > 0n) shortSellers++;
        expect(
          [log.args.declaredWh, log.args.clearedWh, log.args.actualWh, log.args.balancingWei, log.args.rewardWei, (log.args.rewardWei - log.args.incentiveWei), log.args.incentiveWei],
          `settlement of ${id} in round ${round} (seed ${seed})`,
        ).to.deep.equal([
          position?.declaredWh ?? 0n,
          position?.clearedWh ?? 0n,
          actual.get(id)!,
          expected.balancingWei,
          expected.rewardWei,
          expected.penaltyWei,
          expected.incentiveWei,
        ]);
        balances.set(id, balances.get(id)! + expected.balancingWei + expected.incentiveWei);
        balances.set(gridId, balances.get(gridId)! - expected.balancingWei);
        pool -= expected.incentiveWei;
      }
      for (const [id, balance] of balances) {
        const w = await market.walletOf(id);
        expect(w.balance, `wallet of ${id} after round ${round} (seed ${seed})`).to.equal(balance);
        expect(w.reserved).to.equal(0n);
        expect(w.locked, "every sale is settled, so nothing stays locked").to.equal(0n);
        expect(w.owed).to.equal(0n);
      }
      expect((await market.pool()).balance).to.equal(pool);
    }
    expect(tradesSeen, "the random books produced trades").to.be.greaterThan(ROUNDS);
    expect(shortSellers, "some sellers fell short of their sales (the unwind premium was compared)").to.be.greaterThan(0);
    expect([...bandsHit].sort(), "A came from the mean, the floor, the cap and the reference price").to.deep.equal(["cap", "floor", "mean", "reference"]);
  });
});
