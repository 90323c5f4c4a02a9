/**
 * What the attack tests share: a market with the grid and a funded pool, players who join as
 * prosumers (register, get authorized, deposit, accept a meter), meters that post energy per
 * interval, and each player's net ether (what it took out plus what its wallet holds, less what it
 * put in).
 */
import { ethers } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { EnergyMarket } from "../../typechain-types";
import { PAPER_PARAMS, bindMeter, newMeter } from "../../lib/market";
import { Actor, ETH, marketFixture, withGrid } from "../shared/fixtures";

export interface Player extends Actor {
  deposited: bigint;
  withdrawn: bigint;
  importWh: bigint;
  exportWh: bigint;
}

/** A market with the grid (100 ether) and 1 ether in the pool; signers 2.. are free for players. */
export async function attackFixture() {
  const base = await marketFixture();
  const { gridSigner, gridId } = await withGrid(base.market, base.signers, ETH);
  return { ...base, gridSigner, gridId, nextSigner: 2 };
}

let meterNumbers = 300000000000n;

/** A prosumer that registers, is authorized, deposits `depositWei` and accepts a meter of `ratedW`. */
export async function join(
  market: EnergyMarket,
  signer: HardhatEthersSigner,
  meter: HardhatEthersSigner,
  o: { name: string; green?: boolean; depositWei: bigint; ratedW?: number },
): Promise<Player> {
  const green = o.green ?? false;
  await market.connect(signer).register(o.name, green);
  const id = await market.idOf(signer.address);
  await market.authorize(id, true);
  if (o.depositWei > 0n) await market.connect(signer).deposit({ value: o.depositWei });
  const meterNumber = ++meterNumbers;
  await bindMeter(market, signer, id, newMeter(meterNumber, meter.address, o.ratedW ?? 100_000));
  return { name: o.name, id, signer, meter, meterNumber, green, deposited: o.depositWei, withdrawn: 0n, importWh: 0n, exportWh: 0n };
}

/** Post `p`'s registers at the end of interval `d` after `exportWh`/`importWh` more energy (time must be past `d`). */
export async function meterEnergy(market: EnergyMarket, p: Player, d: number, e: { exportWh?: bigint; importWh?: bigint } = {}) {
  p.exportWh += e.exportWh ?? 0n;
  p.importWh += e.importWh ?? 0n;
  await market.connect(p.meter).postReading(p.meterNumber, d, p.importWh, p.exportWh);
}

/** Withdraw everything `p` may take out now; returns the amount. */
export async function withdrawAll(market: EnergyMarket, p: Player): Promise<bigint> {
  const amount = (await market.walletOf(p.id)).withdrawable;
  if (amount > 0n) {
    await market.connect(p.signer).withdraw(amount);
    p.withdrawn += amount;
  }
  return amount;
}

/** What `p` took out plus what its wallet holds (it gets the rest back once its meter is released), less what it put in and what it owes. */
export async function netEther(market: EnergyMarket, p: Player): Promise<bigint> {
  const w = await market.walletOf(p.id);
  return p.withdrawn + w.balance + w.reserved - w.owed - p.deposited;
}

/** Deposit enough for a sell of `energyWh` on top of the margin and the security of a `ratedW` meter. */
export function stakeFor(ratedW: number, sells: bigint[] = []): bigint {
  const p = PAPER_PARAMS as { marginWei: bigint; capPriceWeiPerKWh: bigint; shortRatioPpm: bigint; penaltyRatioPpm: bigint };
  const ratio = p.shortRatioPpm + p.penaltyRatioPpm;
  const value = (wh: bigint) => (wh * p.capPriceWeiPerKWh * ratio) / 1_000_000_000n;
  const ratedWh = BigInt(ratedW) / 4n; // 900-s intervals
  return p.marginWei + 2n * value(ratedWh) + sells.reduce((sum, e) => sum + value(e), 0n);
}

export { ethers };
