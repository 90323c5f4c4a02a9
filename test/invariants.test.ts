/**
 * Invariants after random operation sequences: the contract's ether equals wallets + reserved + pool
 * after every transaction, debts add up, nothing is settled twice (a second settle is skipped), and no
 * settlement leaves a prosumer with more new debt than the rules allow: what its meter can consume in
 * one interval beyond what the security and locked sale funds cover (MECHANISM.md, "Locked funds").
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { ContractTransactionReceipt, ContractTransactionResponse } from "ethers";
import { EnergyMarket } from "../typechain-types";
import { PAPER_PARAMS, Side, bindMeter, clearUntilDone, newMeter } from "../lib/market";
import { valueOf } from "../lib/model";
import { Actor, ETH, MILLI, commit, paperFixture, reveal, toClearing, toCommit, toGraceOver, toReveal, toStart, loadFixture } from "./shared/fixtures";
import { rng } from "./shared/random";

/** The fixtures' 100 kW meters measure at most 25 kWh in a 900 s interval. */
const RATED_WH = 25_000n;
const CAP = BigInt(PAPER_PARAMS.capPriceWeiPerKWh as bigint);
const SECURITY = 2n * valueOf(RATED_WH, CAP, 1_150_000n);

async function checkConservation(market: EnergyMarket) {
  const count = Number(await market.participantCount());
  let held = (await market.pool()).balance;
  let owed = (await market.pool()).owed;
  let due = (await market.walletOf(0)).due;
  let pairwise = 0n;
  for (let id = 1; id <= count; id++) {
    const w = await market.walletOf(id);
    held += w.balance + w.reserved;
    owed += w.owed;
    due += w.due;
    for (let c = 0; c <= count; c++) pairwise += await market.debtOf(id, c);
  }
  for (let c = 1; c <= count; c++) pairwise += await market.debtOf(0, c);
  expect(await ethers.provider.getBalance(await market.getAddress()), "ether = wallets + reserved + pool").to.equal(held);
  expect(owed, "owed totals = debts").to.equal(pairwise);
  expect(due, "due totals = debts").to.equal(pairwise);
}

/** Send, and on success check the invariants; a revert is allowed (random input), and must change nothing. */
async function attempt(market: EnergyMarket, send: () => Promise<ContractTransactionResponse>): Promise<ContractTransactionReceipt | null> {
  let receipt: ContractTransactionReceipt | null = null;
  try {
    receipt = await (await send()).wait();
  } catch (e) {
    if (!String(e).includes("reverted")) throw e;
  }
  await checkConservation(market);
  return receipt;
}

/** The debt a settlement transaction recorded against `id` (to the grid and the pool), and its forfeit if any. */
function debtRecorded(market: EnergyMarket, receipt: ContractTransactionReceipt, id: bigint) {
  let debt = 0n;
  let forfeit = 0n;
  for (const log of receipt.logs) {
    const e = market.interface.parseLog(log);
    if (e?.name === "DebtRecorded" && e.args.debtor === id) debt += e.args.amount;
    if (e?.name === "BidForfeited" && e.args.id === id) forfeit += e.args.amount;
  }
  return { debt, forfeit };
}

describe("invariants under random operation sequences", function () {
  for (const seed of [7, 11, 13]) {
    it(`seed ${seed}: ether conservation, consistent debts and single settlement hold after every transaction`, async function () {
      const { market, actors, gridId, signers } = await loadFixture(paperFixture);
      const r = rng(seed);
      // a poor prosumer who will run into debts
      const poorSigner = signers[20];
      await market.connect(poorSigner).register("poor", false);
      const poorId = await market.idOf(poorSigner.address);
      await market.authorize(poorId, true);
      // just the meter's security and a little more: the security runs out within a few intervals
      await market.connect(poorSigner).deposit({ value: SECURITY + 2n * MILLI });
      await bindMeter(market, poorSigner, poorId, newMeter(999000000001n, signers[21].address, 100_000));
      const everyone: Actor[] = [
        ...Object.values(actors),
        { name: "poor", id: poorId, signer: poorSigner, meter: signers[21], meterNumber: 999000000001n, green: false },
      ];
      const registers = new Map(everyone.map((a) => [a.name, { imp: 0n, exp: 0n }]));
      const ids = everyone.map((a) => a.id);
      let d = Number(await market.currentInterval()) + 2;
      const settledPairs = new Set<string>();
      // the most one interval can add to a prosumer's debt once its security is used up: its meter's
      // rated energy imported at the cap price, short (W') with the penalty (M'') on top, and the
      // forfeit of a commit it did not reveal (a sale is covered by its own locked funds)
      const debtBound = valueOf(RATED_WH, CAP, 1_150_000n);
      let largestDebt = 0n;
      for (let round = 0; round < 5; round++, d += 2) {
        await toCommit(market, d);
        const sealed = new Map<string, Awaited<ReturnType<typeof commit>>>();
        for (const a of everyone) {
          if (!r.chance(0.8)) continue;
          const b = {
            actor: a,
            side: r.chance(0.5) ? Side.Sell : Side.Buy,
            energyWh: BigInt(r.int(1, 3000)),
            priceWeiPerKWh: BigInt(r.int(3, 15)) * 10n ** 14n, // up to above the cap of the balancing price
          } as const;
          try {
            sealed.set(a.name, await commit(market, d, b));
          } catch (e) {
            if (!String(e).includes("reverted")) throw e;
          }
          await checkConservation(market);
          if (r.chance(0.3)) await attempt(market, () => market.connect(a.signer).withdraw(BigInt(r.int(1, 5)) * MILLI));
        }
        await toReveal(market, d);
        for (const a of everyone) {
          const s = sealed.get(a.name);
          if (!s || r.chance(0.15)) continue; // some never reveal: they forfeit
          await attempt(market, () => reveal(market, { actor: a, side: s.side, energyWh: s.energyWh, priceWeiPerKWh: s.priceWeiPerKWh }, s));
          if (r.chance(0.3)) await attempt(market, () => market.connect(a.signer).withdraw(ETH / 2n));
        }
        await toClearing(market, d);
        while (Number((await market.intervalOf(d)).stage) !== 4) await attempt(market, () => market.clear(d, r.int(1, 4)));
        // readings at the end of d-1 and d; some meters miss one
        for (const k of [d - 1, d]) {
          await toStart(market, k + 1);
          for (const a of everyone) {
            const reg = registers.get(a.name)!;
            reg.imp += a.id === poorId ? RATED_WH : BigInt(r.int(0, 2500)); // the poor one consumes all its meter allows
            reg.exp += BigInt(r.int(0, 2500));
            if (a.id !== poorId && r.chance(0.15)) continue;
            await attempt(market, () => market.connect(a.meter).postReading(a.meterNumber, k, reg.imp, reg.exp));
          }
        }
        if (r.chance(0.5)) await attempt(market, () => market.fundPool({ value: BigInt(r.int(1, 3)) * MILLI }));
        if (r.chance(0.5)) await attempt(market, () => market.connect(everyone[4].signer).deposit({ value: MILLI }));
        await toGraceOver(market, d);
        for (let k = Math.min(...(await Promise.all(ids.map(async (id) => Number((await market.settlementOf(id)).nextInterval))))); k <= d; k++) {
          if (Number((await market.intervalOf(k)).stage) !== 4) await clearUntilDone(market, k);
          for (const id of [...ids].sort(() => r.next() - 0.5)) {
            if (Number((await market.settlementOf(id)).nextInterval) !== k) continue;
            const receipt = await attempt(market, () => market.settle(k, [id]));
            expect(receipt, `settle(${k}, [${id}]) went through`).to.not.equal(null);
            const { debt, forfeit } = debtRecorded(market, receipt!, id);
            expect(debt, `new debt of ${id} in interval ${k}`).to.be.lessThanOrEqual(debtBound + forfeit);
            if (debt > largestDebt) largestDebt = debt;
            await expect(market.settle(k, [id]))
              .to.emit(market, "EntrySkipped")
              .withArgs(k, id, 0, market.interface.encodeErrorResult("AlreadySettled", [k, id]))
              .and.not.to.emit(market, "ParticipantSettled");
          }
        }
        for (const log of await market.queryFilter(market.filters.ParticipantSettled())) {
          const key = `${log.args.interval}/${log.args.id}`;
          settledPairs.add(key);
        }
      }
      const logs = await market.queryFilter(market.filters.ParticipantSettled());
      expect(logs.length, "each (interval, participant) settled once").to.equal(settledPairs.size);
      expect(logs.length).to.be.greaterThan(20);
      expect((await market.walletOf(gridId)).balance).to.be.greaterThan(0n);
      const debts = await market.queryFilter(market.filters.DebtRecorded());
      expect(debts.length, "the poor prosumer ran into debt, so the owed path was exercised").to.be.greaterThan(0);
      expect(largestDebt).to.be.greaterThan(0n);
    });
  }
});
