/**
 * Attacks on the money: selling energy one does not have and withdrawing the buyers' payments,
 * selling above the average and not delivering, consuming more than one bought, consuming without
 * ever bidding, and a reentrant withdraw. Each plays the cheat through the contract and asserts the
 * cheater's net ether and what the grid and the pool were paid.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { PAPER_PARAMS, newMeter } from "../../lib/market";
import { valueOf } from "../../lib/model";
import { ETH, buy, commit, kwh, milli, paperFixture, placeBids, reveal, sell, settleThrough, toCommit, toReveal, toSettlement, toStart, loadFixture } from "../shared/fixtures";
import { clearUntilDone } from "../../lib/market";
import type { EnergyMarket } from "../../typechain-types";
import { rng } from "../shared/random";
import { Player, attackFixture, join, meterEnergy, netEther, stakeFor, withdrawAll } from "./support";

const RANDOM_INTERVALS = Number(process.env.ATTACK_INTERVALS ?? 12);

/** Withdraw a random share of what `p` may take out. */
async function withdrawSome(market: EnergyMarket, p: Player, share: number) {
  const free = (await market.walletOf(p.id)).withdrawable;
  const amount = (free * BigInt(Math.round(share * 1000))) / 1000n;
  if (amount === 0n) return;
  await market.connect(p.signer).withdraw(amount);
  p.withdrawn += amount;
}

const P = PAPER_PARAMS as { marginWei: bigint; capPriceWeiPerKWh: bigint; shortRatioPpm: bigint; longRatioPpm: bigint; penaltyRatioPpm: bigint; referencePriceWeiPerKWh: bigint };

describe("attacks on the money", function () {
  async function sellerAndBuyer() {
    const f = await loadFixture(attackFixture);
    const s = f.signers;
    const sales = [kwh("20"), kwh("20"), kwh("20")];
    const attacker = await join(f.market, s[2], s[12], { name: "attacker", depositWei: stakeFor(100_000, sales) });
    const buyer = await join(f.market, s[3], s[13], { name: "buyer", depositWei: ETH });
    return { ...f, attacker, buyer, sales };
  }

  it("a prosumer with only the margin gets no meter, and with the margin and the security cannot sell without the sale's collateral", async function () {
    const f = await loadFixture(attackFixture);
    const [, , signer, , , , , , , , , , meter] = f.signers;
    const { market } = f;
    await market.connect(signer).register("poor", false);
    const id = await market.idOf(signer.address);
    await market.authorize(id, true);
    await market.connect(signer).deposit({ value: P.marginWei });
    await market.proposeMeter(id, newMeter(300000009999n, meter.address, 100_000));
    const [hash] = await market.meterProposalOf(id);
    const security = stakeFor(100_000) - P.marginWei;
    await expect(market.connect(signer).acceptMeter(hash)).to.be.revertedWithCustomError(market, "InsufficientFunds").withArgs(id, security, P.marginWei);
    await market.connect(signer).deposit({ value: security });
    await market.connect(signer).acceptMeter(hash);
    const poor: Player = { name: "poor", id, signer, meter, meterNumber: 300000009999n, green: false, deposited: P.marginWei + security, withdrawn: 0n, importWh: 0n, exportWh: 0n };
    const d = Number(await market.currentInterval()) + 2;
    await toCommit(market, d);
    const sealed = await commit(market, d, sell(poor, kwh("20"), milli("0.6")));
    await toReveal(market, d);
    const collateral = valueOf(kwh("20"), P.capPriceWeiPerKWh, P.shortRatioPpm + P.penaltyRatioPpm);
    await expect(reveal(market, sell(poor, kwh("20"), milli("0.6")), sealed)).to.be.revertedWithCustomError(market, "InsufficientFunds").withArgs(id, collateral, 0n);
  });

  it("selling 20 kWh in three intervals and delivering nothing: the buyers' payments stay locked, the seller loses, the grid and the pool are paid in full", async function () {
    const { market, attacker, buyer, gridId, sales } = await sellerAndBuyer();
    const first = Number(await market.currentInterval()) + 2;
    const gridBefore = (await market.walletOf(gridId)).balance;
    const poolBefore = (await market.pool()).balance;
    let proceeds = 0n;
    for (let d = first; d < first + sales.length; d++) {
      await placeBids(market, d, [sell(attacker, sales[d - first], milli("0.6")), buy(buyer, sales[d - first], milli("0.8"))]);
      await clearUntilDone(market, d);
      const [trade] = await market.queryFilter(market.filters.TradeMatched(d));
      proceeds += trade.args.amountWei;
      // The attacker tries to take the buyers' money out before delivering anything.
      const w = await market.walletOf(attacker.id);
      expect(w.balance).to.equal(attacker.deposited + proceeds);
      expect(w.withdrawable, "only its own unused collateral is free, not the proceeds").to.equal(attacker.deposited - stakeFor(100_000, sales.slice(0, d - first + 1)));
      await expect(market.connect(attacker.signer).withdraw(w.withdrawable + proceeds)).to.be.revertedWithCustomError(market, "InsufficientFunds");
    }
    expect(proceeds).to.equal(3n * kwh("20") * milli("0.7") / 1000n);
    const last = first + sales.length - 1;
    await toStart(market, last + 1);
    for (let d = first - 1; d <= last; d++) {
      await meterEnergy(market, attacker, d); // delivers nothing
      await meterEnergy(market, buyer, d, { importWh: d >= first ? sales[d - first] : 0n });
    }
    await settleThrough(market, last, [attacker.id, buyer.id]);
    await withdrawAll(market, attacker);

    const net = await netEther(market, attacker);
    const A = milli("0.7");
    const perInterval = valueOf(kwh("20"), A, P.shortRatioPpm) + valueOf(kwh("20"), A, P.penaltyRatioPpm) - kwh("20") * A / 1000n;
    expect(net, "the attacker ends with less than it put in, by its shortfall and penalties less its proceeds").to.equal(-3n * perInterval);
    expect((await market.walletOf(attacker.id)).owed, "nothing is left unpaid").to.equal(0n);
    const shortfalls = 3n * valueOf(kwh("20"), A, P.shortRatioPpm);
    expect((await market.walletOf(gridId)).balance - gridBefore, "the grid was paid for the 60 kWh it supplied").to.equal(shortfalls);
    const incentives = (await market.queryFilter(market.filters.ParticipantSettled(undefined, attacker.id))).reduce((sum, l) => sum + l.args.incentiveWei, 0n);
    expect(incentives, "the attacker paid its penalties into the pool").to.equal(-3n * valueOf(kwh("20"), A, P.penaltyRatioPpm));
    const rewards = (await market.queryFilter(market.filters.ParticipantSettled(undefined, buyer.id))).reduce((sum, l) => sum + l.args.incentiveWei, 0n);
    expect((await market.pool()).balance - poolBefore).to.equal(-incentives - rewards);
    expect((await market.walletOf(buyer.id)).owed).to.equal(0n);
  });

  it("selling above the interval's average and not delivering pays back what the sale earned above A (the unwind premium)", async function () {
    const f = await loadFixture(attackFixture);
    const s = f.signers;
    const { market } = f;
    const attacker = await join(market, s[2], s[12], { name: "attacker", green: true, depositWei: stakeFor(100_000, [kwh("5")]) });
    const greenBuyer = await join(market, s[3], s[13], { name: "green buyer", green: true, depositWei: ETH });
    const seller = await join(market, s[4], s[14], { name: "seller", depositWei: ETH, ratedW: 200_000 });
    const buyer = await join(market, s[5], s[15], { name: "buyer", depositWei: ETH, ratedW: 200_000 });
    const d = Number(await market.currentInterval()) + 2;
    // Green stage: the attacker sells 5 kWh at 1.0 (mean of 0.9 and 1.1); the rest of the market trades 30 kWh at 0.5.
    await placeBids(market, d, [
      sell(attacker, kwh("5"), milli("0.9")),
      buy(greenBuyer, kwh("5"), milli("1.1")),
      sell(seller, kwh("30"), milli("0.4")),
      buy(buyer, kwh("30"), milli("0.6")),
    ]);
    await clearUntilDone(market, d);
    const A = (await market.intervalOf(d)).balancingPriceWeiPerKWh;
    expect(A).to.equal((kwh("5") * milli("1.0") + kwh("30") * milli("0.5")) / kwh("35"));
    await toStart(market, d + 1);
    for (const p of [attacker, greenBuyer, seller, buyer]) await meterEnergy(market, p, d - 1);
    await meterEnergy(market, attacker, d); // nothing delivered
    await meterEnergy(market, greenBuyer, d, { importWh: kwh("5") });
    await meterEnergy(market, seller, d, { exportWh: kwh("30") });
    await meterEnergy(market, buyer, d, { importWh: kwh("30") });
    await settleThrough(market, d, [attacker.id, greenBuyer.id, seller.id, buyer.id]);

    const [settled] = await market.queryFilter(market.filters.ParticipantSettled(d, attacker.id));
    const proceeds = kwh("5") * milli("1.0") / 1000n;
    const paperCharge = valueOf(kwh("5"), A, P.shortRatioPpm);
    const premium = proceeds - kwh("5") * A / 1000n;
    expect(paperCharge + valueOf(kwh("5"), A, P.penaltyRatioPpm) < proceeds, "under the paper's rule alone, this cheat would pay").to.equal(true);
    expect(-settled.args.balancingWei).to.equal(paperCharge + premium);
    await withdrawAll(market, attacker);
    expect(await netEther(market, attacker)).to.equal(proceeds - paperCharge - premium - (settled.args.rewardWei - settled.args.incentiveWei));
    expect(await netEther(market, attacker)).to.be.lessThan(0n);
    expect((await market.walletOf(attacker.id)).owed).to.equal(0n);
  });

  it("a buyer that consumes the meter's full rating after buying 1 kWh pays the grid from its security and owes nothing", async function () {
    const f = await loadFixture(attackFixture);
    const s = f.signers;
    const { market, gridId } = f;
    const seller = await join(market, s[2], s[12], { name: "seller", depositWei: ETH });
    const glutton = await join(market, s[3], s[13], { name: "glutton", depositWei: stakeFor(100_000) + kwh("1") * milli("0.8") / 1000n });
    const d = Number(await market.currentInterval()) + 2;
    await placeBids(market, d, [sell(seller, kwh("1"), milli("0.6")), buy(glutton, kwh("1"), milli("0.8"))]);
    await clearUntilDone(market, d);
    await withdrawAll(market, glutton);
    await toStart(market, d + 1);
    for (const p of [seller, glutton]) await meterEnergy(market, p, d - 1);
    await meterEnergy(market, seller, d, { exportWh: kwh("1") });
    await meterEnergy(market, glutton, d, { importWh: kwh("25") }); // 100 kW for 15 minutes
    const gridBefore = (await market.walletOf(gridId)).balance;
    await settleThrough(market, d, [seller.id, glutton.id]);
    const [settled] = await market.queryFilter(market.filters.ParticipantSettled(d, glutton.id));
    expect(-settled.args.balancingWei).to.equal(valueOf(kwh("24"), milli("0.7"), P.shortRatioPpm));
    expect((await market.walletOf(gridId)).balance - gridBefore, "the grid got all of it").to.equal(-settled.args.balancingWei);
    expect((await market.walletOf(glutton.id)).owed).to.equal(0n);
  });

  it("a metered participant that never bids and consumes at full rating: the security pays two intervals at the cap price, then debt grows at most R × cap × W' an interval and it cannot bid", async function () {
    const f = await loadFixture(attackFixture);
    const s = f.signers;
    const { market } = f;
    const security = stakeFor(100_000) - P.marginWei;
    const consumer = await join(market, s[2], s[12], { name: "consumer", depositWei: security });
    const start = Number((await market.settlementOf(consumer.id)).nextInterval);
    const R = kwh("25");
    const bound = valueOf(R, P.capPriceWeiPerKWh, P.shortRatioPpm);
    const perInterval = valueOf(R, P.referencePriceWeiPerKWh, P.shortRatioPpm); // no trades: A is the reference price
    expect(security).to.be.greaterThanOrEqual(2n * bound);
    let owed = 0n;
    for (let d = start; d < start + 5; d++) {
      await toStart(market, d + 1);
      await meterEnergy(market, consumer, d, { importWh: R });
      await settleThrough(market, d, [consumer.id]);
      const w = await market.walletOf(consumer.id);
      const paidSoFar = BigInt(d - start + 1) * perInterval;
      expect(w.owed, `debt after interval ${d}`).to.equal(paidSoFar > security ? paidSoFar - security : 0n);
      expect(w.owed - owed, "the debt grows at most R × cap × W' per interval").to.be.lessThanOrEqual(bound);
      owed = w.owed;
    }
    expect(owed, "the exposure beyond the security is real, bounded and recorded").to.be.greaterThan(0n);
    const debts = await market.queryFilter(market.filters.DebtRecorded(consumer.id));
    expect(debts.length).to.be.greaterThan(0);
    const d = Number(await market.currentInterval()) + 1;
    await toCommit(market, d);
    await expect(commit(market, d, buy(consumer, kwh("1"), milli("0.8")))).to.be.revertedWithCustomError(market, "HasDebt");
  });

  it(`random strategies (sell, buy, withdraw at any time, deliver all, part or nothing) over ${RANDOM_INTERVALS} intervals: nobody gains from what it did not deliver, nothing is left unpaid`, async function () {
    const seed = Number(process.env.ATTACK_SEED ?? 8);
    const r = rng(seed);
    const f = await loadFixture(attackFixture);
    const s = f.signers;
    const { market, gridId } = f;
    const attackers = [] as Player[];
    for (let i = 0; i < 4; i++) {
      attackers.push(await join(market, s[2 + i], s[12 + i], { name: `attacker ${i}`, green: r.chance(0.5), depositWei: stakeFor(100_000) + BigInt(r.int(100, 400)) * 10n ** 15n }));
    }
    const honestBuyer = await join(market, s[8], s[18], { name: "honest buyer", green: true, depositWei: 5n * ETH, ratedW: 1_000_000 });
    const honestSeller = await join(market, s[9], s[19], { name: "honest seller", depositWei: 5n * ETH, ratedW: 1_000_000 });
    const everyone = [...attackers, honestBuyer, honestSeller];
    const delivered = new Map<bigint, { interval: number; fraction: number }[]>();
    const gain = new Map<bigint, bigint>(attackers.map((a) => [a.id, 0n]));
    const first = Number(await market.currentInterval()) + 2;
    const last = first + RANDOM_INTERVALS - 1;
    let cheats = 0;
    let partial = 0;
    let settledThrough = Number((await market.settlementOf(attackers[0].id)).nextInterval) - 1;
    const tradesOf = new Map<number, Awaited<ReturnType<typeof market.queryFilter<typeof market.filters.TradeMatched>>>>();
    // The real timeline: bids for d are placed and cleared during d-1, while d-2 is settled.
    for (let d = first; d <= last + 2; d++) {
      if (d <= last) {
        const bids = [buy(honestBuyer, kwh("60"), milli("0.95")), sell(honestSeller, kwh("15"), milli("0.45"))];
        for (const a of attackers) {
          const w = await market.walletOf(a.id);
          const free = w.balance - w.locked - w.owed - w.security - P.marginWei;
          const seller = a === attackers[0] || a === attackers[1]; // these two always offer to sell at a price that trades
          if (!seller && r.chance(0.15)) {
            const e = BigInt(r.int(1, 5000));
            if (free >= (e * milli("1.0")) / 1000n) bids.push(buy(a, e, milli(String(r.int(50, 100) / 100))));
          } else if (seller || r.chance(0.85)) {
            const e = BigInt(r.int(1, 25_000));
            const price = milli(String(r.int(30, seller ? 90 : 120) / 100));
            if (free >= valueOf(e, P.capPriceWeiPerKWh, P.shortRatioPpm + P.penaltyRatioPpm)) bids.push(sell(a, e, price));
          }
        }
        await placeBids(market, d, bids);
        for (const a of attackers) if (r.chance(0.3)) await withdrawSome(market, a, r.next());
        await clearUntilDone(market, d);
        tradesOf.set(d, await market.queryFilter(market.filters.TradeMatched(d)));
        for (const a of attackers) if (r.chance(0.3)) await withdrawSome(market, a, r.next());
      } else {
        await toStart(market, d - 1);
      }
      // ---- delivery of everything up to d-2: each attacker delivers all, part or nothing of what it sold
      for (let k = settledThrough + 1; k <= d - 2; k++) {
        const trades = tradesOf.get(k) ?? [];
        const sold = (id: bigint) => trades.filter((t) => t.args.sellerId === id).reduce((x, t) => x + t.args.energyWh, 0n);
        const bought = (id: bigint) => trades.filter((t) => t.args.buyerId === id).reduce((x, t) => x + t.args.energyWh, 0n);
        for (const p of everyone) {
          const honest = p === honestBuyer || p === honestSeller;
          // attacker 0 never delivers, attacker 1 delivers part, the others choose at random
          const fraction = honest ? 1 : p === attackers[0] ? 0 : p === attackers[1] ? r.pick([0.25, 0.5, 0.9]) : r.pick([0, 0.25, 0.5, 0.9, 1]);
          const exportWh = (sold(p.id) * BigInt(Math.round(fraction * 100))) / 100n;
          await meterEnergy(market, p, k, { exportWh, importWh: bought(p.id) });
          if (!honest && sold(p.id) > 0n) {
            delivered.set(p.id, [...(delivered.get(p.id) ?? []), { interval: k, fraction }]);
            if (fraction === 0) cheats++;
            else if (fraction < 1) partial++;
          }
        }
        await toSettlement(market, k);
        if (Number((await market.intervalOf(k)).stage) !== 4) await clearUntilDone(market, k);
        await market.settle(k, everyone.map((p) => p.id));
        settledThrough = k;
        for (const a of attackers) if (r.chance(0.3)) await withdrawSome(market, a, r.next());
        // ---- what each attacker got for a sale is at most what its delivered part earned
        for (const a of attackers) {
          const [settled] = await market.queryFilter(market.filters.ParticipantSettled(k, a.id));
          const proceeds = trades.filter((t) => t.args.sellerId === a.id).reduce((x, t) => x + t.args.amountWei, 0n);
          const paid = trades.filter((t) => t.args.buyerId === a.id).reduce((x, t) => x + t.args.amountWei, 0n);
          const forfeits = (await market.queryFilter(market.filters.BidForfeited(k, a.id))).reduce((x, l) => x + l.args.amount, 0n);
          const outcome = proceeds - paid + settled.args.balancingWei + settled.args.incentiveWei - forfeits;
          const soldWh = sold(a.id);
          const actual = settled.args.actualWh > 0n ? settled.args.actualWh : 0n;
          const deliveredWh = actual < soldWh ? actual : soldWh;
          const earnedByDelivery = soldWh === 0n ? 0n : (proceeds * deliveredWh) / soldWh;
          const fair = earnedByDelivery - paid + (settled.args.incentiveWei > 0n ? settled.args.incentiveWei : 0n);
          expect(outcome, `attacker ${a.id} in interval ${k} (seed ${seed})`).to.be.lessThanOrEqual(fair);
          if (deliveredWh < soldWh) expect(outcome, `an undelivered sale costs more than it earned (attacker ${a.id}, interval ${k})`).to.be.lessThan(fair);
          gain.set(a.id, gain.get(a.id)! + outcome - fair);
          const w = await market.walletOf(a.id);
          expect(w.owed, `attacker ${a.id} leaves nothing unpaid (interval ${k})`).to.equal(0n);
          expect(w.balance, "the wallet still holds what is locked for unsettled sales").to.be.greaterThanOrEqual(w.locked);
        }
      }
    }
    for (const a of attackers) {
      expect(gain.get(a.id)!, `attacker ${a.id} over the run`).to.be.lessThanOrEqual(0n);
      const onlyCheated = (delivered.get(a.id) ?? []).every((x) => x.fraction === 0);
      if (onlyCheated && (delivered.get(a.id) ?? []).length > 0) expect(await netEther(market, a)).to.be.lessThan(0n);
    }
    expect((await market.walletOf(gridId)).owed).to.equal(0n);
    expect((await market.queryFilter(market.filters.DebtRecorded())).length, "no payment fell short").to.equal(0);
    expect(cheats, "some sales were not delivered at all").to.be.greaterThan(2);
    expect(partial, "some were delivered in part").to.be.greaterThan(2);
  });

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
});

export type { Player };
