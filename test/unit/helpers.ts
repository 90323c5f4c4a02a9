/**
 * Shared helpers of the unit tests: extra fixtures, a market snapshot for "nothing changed" checks,
 * book walking, reading posts, and a small payee contract (compiled here with solc-js, since tests
 * may not add contracts) that can refuse ether or re-enter `withdraw`.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { BaseContract, ContractFactory, Signer } from "ethers";
import { EnergyMarket } from "../../typechain-types";
import { DEFAULT_LIMITS, PAPER_PARAMS, SealedBid, Side, SideValue, bindMeter, commitmentOf, newMeter, newSalt, scheduleFor, deployMarket, linkedMarketFactory } from "../../lib/market";
import type { Limits, MarketParams, Schedule } from "../../lib/market";
import { forfeitOf, saleCollateralOf, securityOf } from "../../lib/model";
import { Actor, ETH, INTERVAL, marketFixture, toStart, withGrid } from "../shared/fixtures";

export { DEFAULT_LIMITS, PAPER_PARAMS, Side, bindMeter, newMeter };
export const PHASE = { Upcoming: 0, Commit: 1, Reveal: 2, Clearing: 3, Delivery: 4, Settlement: 5 } as const;
export const STAGE = { NotStarted: 0, Green: 1, All: 2, Release: 3, Done: 4 } as const;
export const MARGIN = BigInt(PAPER_PARAMS.marginWei as bigint);
export const FORFEIT = BigInt(PAPER_PARAMS.forfeitWei as bigint);
export const REF_PRICE = BigInt(PAPER_PARAMS.referencePriceWeiPerKWh as bigint);
export const MAX_PRICE = BigInt(PAPER_PARAMS.maxPriceWeiPerKWh as bigint);
export const MAX_ENERGY = BigInt(PAPER_PARAMS.maxEnergyWh as bigint);
export const FLOOR_PRICE = BigInt(PAPER_PARAMS.floorPriceWeiPerKWh as bigint);
export const CAP_PRICE = BigInt(PAPER_PARAMS.capPriceWeiPerKWh as bigint);
export const MIN_VOLUME = BigInt(PAPER_PARAMS.minVolumeWh as bigint);
/** Rated power the shared fixtures bind meters with (W) and the Wh it allows per 900 s interval. */
export const RATED_W = 100_000n;
export const MAX_WH_PER_INTERVAL = (RATED_W * BigInt(INTERVAL)) / 3600n;

const PAPER_BIGINTS = {
  forfeitWei: FORFEIT,
  capPriceWeiPerKWh: CAP_PRICE,
  shortRatioPpm: BigInt(PAPER_PARAMS.shortRatioPpm as bigint),
  penaltyRatioPpm: BigInt(PAPER_PARAMS.penaltyRatioPpm as bigint),
};
/** What a wallet keeps while a meter of `ratedW` is bound (paper parameters, 900 s intervals). */
export const securityFor = (ratedW: bigint) => securityOf((ratedW * BigInt(INTERVAL)) / 3600n, PAPER_BIGINTS);
/** The security of the fixtures' 100 kW meters: 2 × 25 kWh × cap × (W' + M'') = 0.069 ether. */
export const SECURITY = securityFor(RATED_W);
/** The forfeit of an unrevealed commit of a 100 kW participant: 25 kWh × cap × (1 + M'') = 0.0315 ether. */
export const METERED_FORFEIT = forfeitOf(MAX_WH_PER_INTERVAL, PAPER_BIGINTS);
/** A sell bid's collateral at the paper parameters. */
export const collateralOf = (energyWh: bigint) => saleCollateralOf(energyWh, PAPER_BIGINTS);
/** A seller's proceeds as the contract counts them: the trade amount rounded up to the gwei. */
export const toGwei = (wei: bigint) => ((wei + 10n ** 9n - 1n) / 10n ** 9n) * 10n ** 9n;

/** `energy × price` and `energy × price × ratio`, rounded down as the contract does (wei). */
export { costOf, valueOf } from "../../lib/model";

// ------------------------------------------------------------------ fixtures

async function actorsOn(market: EnergyMarket, signers: HardhatEthersSigner[], spec: { name: string; green: boolean; user: number; meter: number; depositWei: bigint }[]) {
  const actors: Record<string, Actor> = {};
  for (const [i, s] of spec.entries()) {
    const signer = signers[s.user];
    const meter = signers[s.meter];
    await market.connect(signer).register(s.name, s.green);
    const id = await market.idOf(signer.address);
    await market.authorize(id, true);
    const meterNumber = 200000000001n + BigInt(i);
    // the security must be in the wallet before the prosumer accepts its meter
    await market.connect(signer).deposit({ value: s.depositWei });
    await bindMeter(market, signer, id, newMeter(meterNumber, meter.address, RATED_W));
    actors[s.name] = { name: s.name, id, signer, meter, meterNumber, green: s.green };
  }
  return actors;
}

/** Like the paper's fixture but with an empty incentive pool (rewards become pool debts). */
export async function emptyPoolFixture() {
  const base = await marketFixture();
  const { market, signers } = base;
  const { gridSigner, gridId } = await withGrid(market, signers, 0n);
  const actors = await actorsOn(market, signers, [
    { name: "wind", green: true, user: 2, meter: 10, depositWei: ETH },
    { name: "ev", green: true, user: 4, meter: 12, depositWei: ETH },
  ]);
  return { ...base, gridSigner, gridId, actors };
}

/**
 * A crowd for order-book tests: a grid and twelve authorized, funded prosumers with meters
 * (user i on signer 2+i, green for even i). Meter accounts are random addresses: these tests post
 * no readings.
 */
export async function crowdFixture() {
  const base = await marketFixture();
  const { market, signers } = base;
  const { gridSigner, gridId } = await withGrid(market, signers, ETH);
  const users: Actor[] = [];
  for (let i = 0; i < 12; i++) {
    const signer = signers[2 + i];
    const green = i % 2 === 0;
    await market.connect(signer).register(`user${i}`, green);
    const id = await market.idOf(signer.address);
    await market.authorize(id, true);
    const meter = ethers.Wallet.createRandom().address;
    const meterNumber = 300000000001n + BigInt(i);
    await market.connect(signer).deposit({ value: ETH });
    await bindMeter(market, signer, id, newMeter(meterNumber, meter, RATED_W));
    users.push({ name: `user${i}`, id, signer, meter: signer, meterNumber, green });
  }
  return { ...base, gridSigner, gridId, users };
}

/** A market without a grid: one authorized prosumer with a meter and funds. */
export async function noGridFixture() {
  const base = await marketFixture();
  const { market, signers } = base;
  const actors = await actorsOn(market, signers, [{ name: "solo", green: true, user: 2, meter: 10, depositWei: ETH }]);
  return { ...base, actors };
}

// ------------------------------------------------------------------ deployment

/** A market factory with the libraries deployed and linked (for constructor tests). */
export async function linkedFactory(signer: Signer) {
  return (await linkedMarketFactory(signer)).factory;
}

export { deployMarket, scheduleFor };
export type { Limits, MarketParams, Schedule };

// ------------------------------------------------------------------ state snapshots

/**
 * Everything a reverted call might have touched: wallets, meters, meter proposals and settlement
 * cursors of all participants, pool, ether, counters, the operator role.
 */
export async function snapshot(market: EnergyMarket) {
  const count = Number(await market.participantCount());
  const wallets = [];
  const meters = [];
  for (let id = 1; id <= count; id++) {
    const w = await market.walletOf(id);
    wallets.push([w.balance, w.reserved, w.locked, w.security, w.owed, w.due, w.withdrawable]);
    const [proposal] = await market.meterProposalOf(id);
    const s = await market.settlementOf(id);
    const m = await market.meterOf(id);
    meters.push([m.meterNumber, m.account, m.ratedPowerW, m.hasReading, m.lastInterval, m.importWh, m.exportWh, proposal, s.started, s.nextInterval]);
  }
  const [poolBalance, poolOwed] = await market.pool();
  return {
    count,
    gridId: await market.gridId(),
    operator: await market.operator(),
    pendingOperator: await market.pendingOperator(),
    ether: await ethers.provider.getBalance(await market.getAddress()),
    poolBalance,
    poolOwed,
    wallets,
    meters,
  };
}

/** The contract's ether equals the sum over all wallets (balance + reserved) and the pool. */
export async function expectConserved(market: EnergyMarket) {
  const count = Number(await market.participantCount());
  let sum = (await market.pool())[0];
  for (let id = 1; id <= count; id++) {
    const w = await market.walletOf(id);
    sum += w.balance + w.reserved;
  }
  expect(await ethers.provider.getBalance(await market.getAddress())).to.equal(sum);
}

// ------------------------------------------------------------------ skipped batch entries

/**
 * The `reason` bytes an EntrySkipped event carries for a custom error: the error as the call would
 * have reverted with it. Assert with
 * `expect(tx).to.emit(market, "EntrySkipped").withArgs(d, id, index, skipReason(market, "Name", [args]))`.
 */
export function skipReason(market: EnergyMarket, error: string, args: unknown[] = []): string {
  return market.interface.encodeErrorResult(error, args);
}

/** The EntrySkipped events of a mined transaction, each reason decoded to its custom error. */
export async function skipsOf(market: EnergyMarket, tx: Promise<{ wait: () => Promise<unknown> }> | { wait: () => Promise<unknown> }) {
  const receipt = (await (await tx).wait()) as { logs: { topics: readonly string[]; data: string }[] };
  return receipt.logs
    .map((l) => market.interface.parseLog(l))
    .filter((e) => e?.name === "EntrySkipped")
    .map((e) => {
      const reason = market.interface.parseError(e!.args.reason)!;
      return { interval: e!.args.interval, subject: e!.args.subject, index: e!.args.index, error: reason.name, args: reason.args.toArray() };
    });
}

// ------------------------------------------------------------------ bids and books

/** A sealed bid of `signer` for `d` with its commitment (not sent). */
export async function seal(market: EnergyMarket, signer: Signer, d: number, side: SideValue, energyWh: bigint, priceWeiPerKWh: bigint, salt = newSalt()) {
  const bid: SealedBid = { interval: d, side, energyWh, priceWeiPerKWh, salt };
  const { chainId } = await ethers.provider.getNetwork();
  const commitment = commitmentOf(chainId, await market.getAddress(), await signer.getAddress(), bid);
  return { bid, commitment };
}

/** Reveal a sealed bid with an explicit hint. */
export function revealWith(market: EnergyMarket, signer: Signer, bid: SealedBid, hint: bigint | number = 0) {
  return market.connect(signer).revealBid(bid.interval, bid.side, bid.energyWh, bid.priceWeiPerKWh, bid.salt, hint);
}

/** IDs of one book of `d` from its head along `next`. */
export async function bookOf(market: EnergyMarket, d: number, side: SideValue, green: boolean): Promise<bigint[]> {
  const ids: bigint[] = [];
  let cur = await market.bookHead(d, side, green);
  while (cur !== 0n) {
    ids.push(cur);
    cur = (await market.bidOf(d, cur)).next;
    if (ids.length > 1000) throw new Error("cycle in book");
  }
  return ids;
}

// ------------------------------------------------------------------ readings

/** Post `actor`'s registers at the end of `d` (moves time to the start of d+1 if needed). */
export async function postAt(market: EnergyMarket, actor: Actor, d: number, importWh: bigint, exportWh: bigint) {
  await toStart(market, d + 1);
  return market.connect(actor.meter).postReading(actor.meterNumber, d, importWh, exportWh);
}

export async function now() {
  return BigInt(await time.latest());
}

// ------------------------------------------------------------------ payee contract

const PAYEE_SOURCE = `// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;
interface IM { function register(string calldata, bool) external returns (uint32); function deposit() external payable; function withdraw(uint256) external; }
/// mode 0: receive() refuses ether; mode 1: receive() re-enters withdraw and attack() re-throws what it got.
contract Payee {
  IM public immutable m; uint8 public mode; bytes public lastRevert;
  constructor(IM m_) { m = m_; }
  function setMode(uint8 x) external { mode = x; }
  function register() external { m.register("payee", false); }
  function depositAll() external payable { m.deposit{value: msg.value}(); }
  function attack(uint256 amount) external {
    m.withdraw(amount);
    bytes memory r = lastRevert;
    if (r.length != 0) assembly { revert(add(r, 32), mload(r)) }
  }
  receive() external payable {
    if (mode == 0) revert("no ether");
    if (mode == 1) { try m.withdraw(msg.value) {} catch (bytes memory reason) { lastRevert = reason; } }
  }
}`;

let payeeArtifact: { abi: unknown[]; bytecode: string } | undefined;

/** Deploy the payee contract against `market`. */
export async function deployPayee(market: EnergyMarket, signer: Signer) {
  if (!payeeArtifact) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const solc = require("solc");
    const input = {
      language: "Solidity",
      sources: { "Payee.sol": { content: PAYEE_SOURCE } },
      settings: { evmVersion: "london", outputSelection: { "*": { Payee: ["abi", "evm.bytecode.object"] } } },
    };
    const out = JSON.parse(solc.compile(JSON.stringify(input)));
    const errors = (out.errors ?? []).filter((e: { severity: string }) => e.severity === "error");
    if (errors.length) throw new Error(JSON.stringify(errors));
    const c = out.contracts["Payee.sol"].Payee;
    payeeArtifact = { abi: c.abi, bytecode: "0x" + c.evm.bytecode.object };
  }
  const factory = new ContractFactory(payeeArtifact.abi as never, payeeArtifact.bytecode, signer);
  const payee = await factory.deploy(await market.getAddress());
  await payee.waitForDeployment();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return payee as BaseContract & Record<string, any>;
}
