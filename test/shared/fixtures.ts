/**
 * Test fixtures: a market on the in-process network with the paper's five users, meters bound and
 * wallets funded, plus helpers that move block time into a phase of a delivery interval.
 */
import { ethers } from "hardhat";
import { loadFixture as revertToFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { EnergyMarket } from "../../typechain-types";
import { PAPER_PARAMS, SealedBid, Side, SideValue, bindMeter, clearUntilDone, commitmentOf, deployMarket, newMeter, newSalt, revealSealed, scheduleFor } from "../../lib/market";

export const INTERVAL = 900;
export const ETH = 10n ** 18n;
export const MILLI = 10n ** 15n;

/**
 * Move block time to the next interval boundary and return it. Fixtures start their market there,
 * so every test sees the same phases: block time keeps following the wall clock after each
 * snapshot revert, and a market started at a random point of an interval could drift into the
 * next phase while a long suite runs. From the boundary, interval 2's commit window is 900 s away.
 */
export async function toNextBoundary(intervalSeconds = INTERVAL): Promise<bigint> {
  const now = BigInt(await time.latest());
  const boundary = now - (now % BigInt(intervalSeconds)) + BigInt(intervalSeconds);
  await time.increaseTo(boundary);
  return boundary;
}

/**
 * Hardhat's `loadFixture`, with block time taken back to the fixture's own. After a snapshot revert
 * the in-process network's clock keeps the wall-clock time that passed since the snapshot was taken,
 * so a fixture first used early in a long suite would be reloaded minutes later, in a later phase
 * (CI once reached interval 2's commit window that way). One block mined a second after the
 * snapshot's re-anchors the clock there: every test starts from the phase its fixture set up.
 */
export async function loadFixture<T>(fixture: () => Promise<T>): Promise<T> {
  const result = await revertToFixture(fixture);
  await time.increaseTo((await time.latest()) + 1);
  return result;
}

/** A bare market: operator only, started at the interval boundary the fixture moves time to. */
export async function marketFixture() {
  const signers = await ethers.getSigners();
  const [operator] = signers;
  const start = await toNextBoundary();
  const market = await deployMarket(operator, scheduleFor(INTERVAL, start), PAPER_PARAMS);
  return { market, operator, signers, start };
}

export interface Actor {
  name: string;
  id: bigint;
  signer: HardhatEthersSigner;
  meter: HardhatEthersSigner;
  meterNumber: bigint;
  green: boolean;
}

/** Register signer 1 as the grid with 100 ether in its wallet, and put `poolWei` in the pool. */
export async function withGrid(market: EnergyMarket, signers: HardhatEthersSigner[], poolWei: bigint) {
  const gridSigner = signers[1];
  await market.registerGrid(gridSigner.address, "grid");
  await market.connect(gridSigner).deposit({ value: 100n * ETH });
  if (poolWei > 0n) await market.fundPool({ value: poolWei });
  return { gridSigner, gridId: await market.gridId() };
}

/** The paper's five users: wind (green producer), controllable, ev (green consumer), conventional, grid. */
export async function paperFixture() {
  const base = await marketFixture();
  const { market, signers } = base;
  const { gridSigner, gridId } = await withGrid(market, signers, ETH);
  const spec: [string, boolean][] = [
    ["wind", true],
    ["controllable", false],
    ["ev", true],
    ["conventional", false],
  ];
  const actors: Record<string, Actor> = {};
  for (const [i, [name, green]] of spec.entries()) {
    const signer = signers[2 + i];
    const meter = signers[10 + i];
    await market.connect(signer).register(name, green);
    const id = await market.idOf(signer.address);
    await market.authorize(id, true);
    const meterNumber = 100000000001n + BigInt(i);
    await market.connect(signer).deposit({ value: ETH });
    await bindMeter(market, signer, id, newMeter(meterNumber, meter.address, 100_000));
    actors[name] = { name, id, signer, meter, meterNumber, green };
  }
  return { ...base, gridSigner, gridId, actors };
}

// ------------------------------------------------------------------ time

export async function toCommit(market: EnergyMarket, d: number) {
  await toTime((await market.intervalOf(d)).commitStart);
}
export async function toReveal(market: EnergyMarket, d: number) {
  await toTime((await market.intervalOf(d)).revealStart);
}
export async function toClearing(market: EnergyMarket, d: number) {
  await toTime((await market.intervalOf(d)).revealEnd);
}
/** The start of interval `d` (readings of `d-1` can be posted from here). */
export async function toStart(market: EnergyMarket, d: number) {
  const [start, len] = await market.schedule();
  await toTime(start + BigInt(d) * len);
}
export async function toSettlement(market: EnergyMarket, d: number, extraSeconds = 0n) {
  await toTime((await market.intervalOf(d)).settleStart + extraSeconds);
}
/** Past settlement start and the reading grace period of interval `d`. */
export async function toGraceOver(market: EnergyMarket, d: number) {
  const [, , , , , grace] = await market.schedule();
  await toSettlement(market, d, grace);
}
async function toTime(t: bigint) {
  const now = BigInt(await time.latest());
  if (t > now + 1n) await time.increaseTo(t);
}

// ------------------------------------------------------------------ bids

export interface BidSpec {
  actor: Actor;
  side: SideValue;
  energyWh: bigint;
  priceWeiPerKWh: bigint;
}

export const sell = (actor: Actor, energyWh: bigint, priceWeiPerKWh: bigint): BidSpec => ({ actor, side: Side.Sell, energyWh, priceWeiPerKWh });
export const buy = (actor: Actor, energyWh: bigint, priceWeiPerKWh: bigint): BidSpec => ({ actor, side: Side.Buy, energyWh, priceWeiPerKWh });

/** Commit a bid now (must be in the commit window); returns the sealed bid to reveal later. */
export async function commit(market: EnergyMarket, d: number, b: BidSpec): Promise<SealedBid> {
  const sealed: SealedBid = { interval: d, side: b.side, energyWh: b.energyWh, priceWeiPerKWh: b.priceWeiPerKWh, salt: newSalt() };
  const { chainId } = await ethers.provider.getNetwork();
  const c = commitmentOf(chainId, await market.getAddress(), b.actor.signer.address, sealed);
  await market.connect(b.actor.signer).commitBid(d, c);
  return sealed;
}

export async function reveal(market: EnergyMarket, b: BidSpec, sealed: SealedBid) {
  return revealSealed(market.connect(b.actor.signer), b.actor.id, b.actor.green, sealed);
}

/** Commit and reveal a whole book for delivery interval `d`, leaving time at the reveal's end. */
export async function placeBids(market: EnergyMarket, d: number, bids: BidSpec[]) {
  await toCommit(market, d);
  const sealed = [];
  for (const b of bids) sealed.push(await commit(market, d, b));
  await toReveal(market, d);
  for (const [i, b] of bids.entries()) await reveal(market, b, sealed[i]);
  await toClearing(market, d);
}

/** kWh with 3 decimals as a number literal string -> Wh. */
export const kwh = (s: string): bigint => BigInt(Math.round(Number(s) * 1000));
/** 10^-3 ether per kWh (the paper's price unit) -> wei per kWh. */
export const milli = (s: string): bigint => BigInt(Math.round(Number(s) * 1e6)) * 10n ** 9n;

/** Clear (if needed) and settle every interval up to and including `d` for `ids`, in order. */
export async function settleThrough(market: EnergyMarket, d: number, ids: bigint[]) {
  await toGraceOver(market, d);
  const next = await Promise.all(ids.map(async (id) => Number((await market.settlementOf(id)).nextInterval)));
  for (let k = Math.min(...next); k <= d; k++) {
    if (Number((await market.intervalOf(k)).stage) !== 4) await clearUntilDone(market, k);
    const due = ids.filter((_, i) => next[i] <= k);
    if (due.length) await market.settle(k, due);
  }
}
