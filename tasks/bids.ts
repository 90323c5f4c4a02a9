/**
 * bid and bid:reveal: sealed bids.
 * - `bid` checks what the market would check at the commit and the reveal (registered, authorized,
 *   metered, no debt, the margin and the meter's security, a buyer's cost or a seller's collateral, the
 *   market's limits and the meter's rated energy), waits for the next commit window (saying when it
 *   opens, in local time), commits with the salt kept in a local file, waits for the reveal window and
 *   reveals. `--no-wait` commits only inside an open window and otherwise says when it opens.
 * - `bid:reveal` reveals the stored bids (waiting for their window); a bid whose window has passed
 *   unrevealed is reported forfeited, with the amount, and its file is kept.
 */
import { task, types } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { EnergyMarket } from "../typechain-types";
import type { SealedBid } from "../lib/market";
import type { Deployment } from "../lib/deployment";
import { localTime, windowsOf } from "../lib/clock";
import { whToKWh } from "../lib/units";
import { CliError, cliAction, ether, output, positiveEther, positiveKWh, required } from "./cli";
import { KeyArgs, asParticipant, transact, withKey } from "./context";

const DEFAULT_DIR = (network: string) => `.bids/${network}`;

interface BidArgs extends KeyArgs {
  side?: string;
  energy?: string;
  price?: string;
  saltDir?: string;
  noWait: boolean;
  noReveal: boolean;
  json: boolean;
}

withKey(task("bid", "Commit a sealed bid for the next interval (waiting for its commit window) and reveal it in the reveal window"))
  .addOptionalParam("side", "sell or buy (required)", undefined, types.string)
  .addOptionalParam("energy", "kWh, 1 Wh resolution (required)", undefined, types.string)
  .addOptionalParam("price", "ether per kWh (required)", undefined, types.string)
  .addOptionalParam("saltDir", "where sealed bids are kept until revealed", undefined, types.string)
  .addFlag("noWait", "commit only if a commit window is open now; otherwise say when the next one opens")
  .addFlag("noReveal", "commit only; reveal later with bid:reveal")
  .addFlag("json", "print JSON")
  .setAction(
    cliAction(async (a: BidArgs, hre) => {
      const { Side, commitmentOf, newSalt } = await import("../lib/market");
      const { SaltStore } = await import("../lib/saltstore");
      const side = required(a.side, "--side", "sell or buy");
      if (side !== "sell" && side !== "buy") throw new CliError(`--side: expected "sell" or "buy", got ${JSON.stringify(side)}`);
      const energyWh = positiveKWh(a.energy, "--energy");
      const priceWeiPerKWh = positiveEther(a.price, "--price", "ether per kWh");
      const { market, signer, deployment } = await asParticipant(hre, a);
      const bidder = await signer.getAddress();
      const address = await market.getAddress();
      const store = new SaltStore(a.saltDir ?? DEFAULT_DIR(hre.network.name));
      const { done: revealed, forfeited } = await revealPending(hre, market, deployment, store, bidder, false);
      forfeited.forEach(say); // an earlier bid's loss is told, and does not stop this one

      const { interval, waiting } = await commitWindow(hre, deployment, a.noWait);
      await checkBid(market, bidder, side, energyWh, priceWeiPerKWh, interval);
      if (waiting) say(waiting);
      await untilBlockTime(hre, windowsOf(deployment.schedule, interval).commitStart);
      const bid: SealedBid = { interval, side: side === "sell" ? Side.Sell : Side.Buy, energyWh, priceWeiPerKWh, salt: newSalt() };
      const commitment = commitmentOf((await hre.ethers.provider.getNetwork()).chainId, address, bidder, bid);
      await market.commitBid.staticCall(interval, commitment); // a refusal keeps no salt
      store.save(address, bidder, bid); // the salt before the commit: a commit without it is forfeited
      let commit;
      try {
        commit = await transact(market.commitBid, [interval, commitment]);
      } catch (e) {
        if (!(await market.bidOf(interval, await market.idOf(bidder))).committed) store.remove(bidder, interval);
        throw e;
      }
      const w = windowsOf(deployment.schedule, interval);
      const what = `a sealed ${side} of ${whToKWh(energyWh)} kWh at ${ether(priceWeiPerKWh)} per kWh for interval ${interval} (delivered ${localTime(w.start)}–${localTime(w.end)})`;
      if (!a.noReveal) say(`committed ${what}; revealing it at ${localTime(w.revealStart)}, in ${inWords(w.revealStart - (await chainTime(hre)))}: keep this running (or run \`bid:reveal\` before ${localTime(w.revealEnd)})`);
      const reveal = a.noReveal ? undefined : await revealWhenOpen(hre, market, deployment, store, bidder, bid);
      output(a.json, { interval, side, energyWh, priceWeiPerKWh, commit, reveal, revealedEarlier: revealed }, () =>
        [
          ...revealed.map((r) => `revealed the stored bid for interval ${r.interval} (tx ${r.tx})`),
          `committed ${what} (tx ${commit.tx}, ${commit.gas} gas); salt kept in ${store.path(bidder, interval)}`,
          reveal
            ? `revealed (tx ${reveal.tx})`
            : `reveal it with \`npx hardhat bid:reveal --network ${hre.network.name}\` between ${localTime(w.revealStart)} and ${localTime(w.revealEnd)} local time, or it is forfeited`,
        ].join("\n"),
      );
    }),
  );

withKey(task("bid:reveal", "Reveal the account's stored sealed bids (waits for their reveal window)"))
  .addOptionalParam("saltDir", "where sealed bids are kept until revealed", undefined, types.string)
  .addFlag("json", "print JSON")
  .setAction(
    cliAction(async (a: KeyArgs & { saltDir?: string; json: boolean }, hre) => {
      const { SaltStore } = await import("../lib/saltstore");
      const { market, signer, deployment } = await asParticipant(hre, a);
      const store = new SaltStore(a.saltDir ?? DEFAULT_DIR(hre.network.name));
      const { done, forfeited } = await revealPending(hre, market, deployment, store, await signer.getAddress(), true);
      if (done.length || !forfeited.length) output(a.json, done, () => (done.length ? done.map((r) => `revealed interval ${r.interval} (tx ${r.tx})`).join("\n") : "no stored bid to reveal"));
      if (forfeited.length) throw new CliError(forfeited.join("; "));
    }),
  );

/**
 * The interval to commit for: the next one if its commit window is open (with a few seconds to
 * spare), else the one after it. With `noWait`, a closed window is an error saying when it opens.
 */
async function commitWindow(hre: HardhatRuntimeEnvironment, deployment: Deployment, noWait: boolean): Promise<{ interval: number; waiting?: string }> {
  const { intervalAt } = await import("../lib/clock");
  const s = deployment.schedule;
  const now = await chainTime(hre);
  const spare = Math.min(3, Math.floor(s.commitSeconds / 4));
  const next = intervalAt(s, now) + 1;
  const open = windowsOf(s, next);
  if (now >= open.commitStart && now < open.revealStart - spare) return { interval: next };
  const later = now < open.commitStart ? next : next + 1;
  const opens = windowsOf(s, later).commitStart;
  if (noWait) {
    throw new CliError(
      `sealed bids for interval ${next} were taken ${localTime(open.commitStart)}–${localTime(open.revealStart)} local time; the next window, for interval ${later}, opens at ${localTime(opens)} (in ${inWords(opens - now)}): run without --no-wait to wait for it`,
    );
  }
  return { interval: later, waiting: `sealed bids for interval ${later} open at ${localTime(opens)} local time, in ${inWords(opens - now)}: waiting (Ctrl-C stops; nothing is sent before then)` };
}

/**
 * What the market checks at the commit and the reveal, checked before committing: a bid refused at the
 * reveal is forfeited. A prosumer keeps the margin and its meter's security; beyond them a buy needs its
 * cost and a sale its collateral (its energy at the cap price with W' and M''), and a bid is at most the
 * meter's rated energy in one interval.
 */
async function checkBid(market: EnergyMarket, bidder: string, side: string, energyWh: bigint, priceWeiPerKWh: bigint, interval: number) {
  const { costOf, ratedEnergyOf, saleCollateralOf, securityOf } = await import("../lib/model");
  const id = await market.idOf(bidder);
  if (id === 0n) throw new CliError(`account ${bidder} is not registered in the market: register it first (\`npx hardhat register\`)`);
  const [p, w, meter, params, [, intervalSeconds]] = await Promise.all([market.participant(id), market.walletOf(id), market.meterOf(id), market.paramsAt(interval), market.schedule()]);
  const who = `participant ${id} (${p.name})`;
  if (!p.authorized) throw new CliError(`${who} is not authorized to trade yet: the operator authorizes it (\`npx hardhat authorize --participant ${id}\`)`);
  if (!p.grid && meter.meterNumber === 0n) {
    throw new CliError(`${who} has no meter bound yet: the operator proposes one (\`npx hardhat meter:propose\`) and ${who} accepts it (\`npx hardhat meter:accept\`)`);
  }
  if (w.owed > 0n) throw new CliError(`${who} owes ${ether(w.owed)} from earlier settlements: deposit to pay it before bidding`);
  if (energyWh > params.maxEnergyWh) throw new CliError(`--energy: the market takes at most ${whToKWh(params.maxEnergyWh)} kWh per bid, not ${whToKWh(energyWh)}`);
  const ratedWh = p.grid ? 0n : ratedEnergyOf(meter.ratedPowerW, intervalSeconds);
  if (!p.grid && energyWh > ratedWh) {
    throw new CliError(`--energy: the meter of ${who} is rated ${whToKWh(meter.ratedPowerW)} kW, at most ${whToKWh(ratedWh)} kWh in one interval, not ${whToKWh(energyWh)}`);
  }
  if (priceWeiPerKWh > params.maxPriceWeiPerKWh) throw new CliError(`--price: the market's highest price is ${ether(params.maxPriceWeiPerKWh)} per kWh, not ${ether(priceWeiPerKWh)}`);
  const free = w.balance > w.locked ? w.balance - w.locked : 0n; // locked: earlier sales until they are settled
  if (p.grid) {
    if (free < params.forfeitWei) throw new CliError(`a bid of the grid needs ${ether(params.forfeitWei)} free in its market wallet (the forfeit if it is not revealed), which has ${ether(free)}: deposit first`);
    if (side === "buy" && costOf(energyWh, priceWeiPerKWh) > free) {
      throw new CliError(`buying ${whToKWh(energyWh)} kWh at ${ether(priceWeiPerKWh)} per kWh can cost ${ether(costOf(energyWh, priceWeiPerKWh))}, but the market wallet of ${who} has ${ether(free)} free: deposit more or bid less`);
    }
    return;
  }
  const security = securityOf(ratedWh, params);
  const kept = params.marginWei + security;
  const beyond = free > kept ? free - kept : 0n;
  const wallet = `beyond the ${ether(params.marginWei)} margin and the meter's ${ether(security)} security, the market wallet of ${who} has ${ether(beyond)} free`;
  if (free < kept) throw new CliError(`bidding keeps the ${ether(params.marginWei)} margin and the meter's ${ether(security)} security in the market wallet of ${who}, which has ${ether(free)} free: deposit first`);
  if (side === "buy") {
    const cost = costOf(energyWh, priceWeiPerKWh);
    if (cost > beyond) throw new CliError(`buying ${whToKWh(energyWh)} kWh at ${ether(priceWeiPerKWh)} per kWh can cost ${ether(cost)}; ${wallet}: deposit more or bid less`);
  } else {
    const collateral = saleCollateralOf(energyWh, params);
    if (collateral > beyond) {
      throw new CliError(`selling ${whToKWh(energyWh)} kWh locks ${ether(collateral)} of collateral until it is settled (its energy at the cap price, in case it is not delivered); ${wallet}: deposit more or sell less`);
    }
  }
}

/** What a commit never revealed forfeits at settlement: max(forfeit, one interval of the meter's rated energy at the cap price with M''). */
async function forfeitOf(market: EnergyMarket, id: bigint, interval: number): Promise<bigint> {
  const model = await import("../lib/model");
  const [p, params, { ratedPowerW }, [, intervalSeconds]] = await Promise.all([market.participant(id), market.paramsAt(interval), market.meterOf(id), market.schedule()]);
  return p.grid ? params.forfeitWei : model.forfeitOf(model.ratedEnergyOf(ratedPowerW, intervalSeconds), params);
}

type Store = import("../lib/saltstore").SaltStore;
type Revealed = { interval: number; tx: string; gas: number };

/**
 * Reveal stored bids whose window is open (with `wait`, also those whose window is still to come).
 * Revealed ones and commits that never reached the chain are dropped; a bid past its window
 * unrevealed is forfeited: its file is kept, marked, and the loss is returned in words.
 */
async function revealPending(hre: HardhatRuntimeEnvironment, market: EnergyMarket, deployment: Deployment, store: Store, bidder: string, wait: boolean) {
  const address = await market.getAddress();
  const id = await market.idOf(bidder);
  const done: Revealed[] = [];
  const forfeited: string[] = [];
  for (const bid of store.pending(address, bidder)) {
    const w = windowsOf(deployment.schedule, bid.interval);
    const now = await chainTime(hre);
    const state = id === 0n ? undefined : await market.bidOf(bid.interval, id);
    if (state?.revealed) {
      store.remove(bidder, bid.interval);
      continue;
    }
    if (now >= w.revealEnd || (!state?.committed && now >= w.revealStart)) {
      const lost = state?.committed ? await forfeitOf(market, id, bid.interval) : await forfeitedOnChain(market, deployment, bid.interval, id);
      if (lost === undefined) {
        store.remove(bidder, bid.interval); // the commit never reached the chain: nothing committed, nothing lost
        continue;
      }
      store.markForfeited(address, bidder, bid.interval, lost);
      forfeited.push(
        `the sealed bid for interval ${bid.interval} was not revealed in its window (${localTime(w.revealStart)}–${localTime(w.revealEnd)} local time): it is forfeited, ${ether(lost)} goes from the wallet to the incentive pool; its salt stays in ${store.path(bidder, bid.interval)}`,
      );
      continue;
    }
    if (now < w.revealStart && !wait) continue;
    done.push({ interval: bid.interval, ...(await revealWhenOpen(hre, market, deployment, store, bidder, bid)) });
  }
  return { done, forfeited };
}

/** The forfeit the market took at settlement for a commit never revealed, if it did. */
async function forfeitedOnChain(market: EnergyMarket, deployment: Deployment, interval: number, id: bigint): Promise<bigint | undefined> {
  if (id === 0n) return undefined;
  const [log] = await market.queryFilter(market.filters.BidForfeited(interval, id), deployment.deployedAt.block);
  return log?.args.amount;
}

async function revealWhenOpen(hre: HardhatRuntimeEnvironment, market: EnergyMarket, deployment: Deployment, store: Store, bidder: string, bid: SealedBid) {
  const w = windowsOf(deployment.schedule, bid.interval);
  await untilBlockTime(hre, w.revealStart);
  if ((await chainTime(hre)) >= w.revealEnd) {
    const lost = await forfeitOf(market, await market.idOf(bidder), bid.interval);
    store.markForfeited(await market.getAddress(), bidder, bid.interval, lost);
    throw new CliError(
      `the reveal window of interval ${bid.interval} (${localTime(w.revealStart)}–${localTime(w.revealEnd)} local time) passed before the bid could be revealed: it is forfeited, ${ether(lost)} goes to the incentive pool; its salt stays in ${store.path(bidder, bid.interval)}`,
    );
  }
  const id = await market.idOf(bidder);
  const p = await market.participant(id);
  const hint = await market.revealHint(bid.interval, id, bid.side, p.green, bid.priceWeiPerKWh);
  const r = await transact(market.revealBid, [bid.interval, bid.side, bid.energyWh, bid.priceWeiPerKWh, bid.salt, hint]);
  store.remove(bidder, bid.interval);
  return r;
}

const say = (line: string) => process.stderr.write(`${line}\n`);

async function chainTime(hre: HardhatRuntimeEnvironment): Promise<number> {
  return (await hre.ethers.provider.getBlock("latest"))!.timestamp;
}

/** On the in-process network move time forward; on a real node wait for its blocks to reach `t`. */
async function untilBlockTime(hre: HardhatRuntimeEnvironment, t: number) {
  const { InProcessClock, RealTimeClock } = await import("../lib/chain");
  const clock = hre.network.name === "hardhat" ? new InProcessClock(hre.network.provider) : new RealTimeClock(hre.network.provider);
  await clock.until(BigInt(t));
}

/** "2 min 5 s", "40 s", "1 h 3 min". */
export function inWords(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h} h ${m} min` : `${m} min ${s % 60} s`;
}
