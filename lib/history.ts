/**
 * The market's history from its events: trades, settlements (balancing and reward/penalty) and
 * forfeits, filtered by interval and/or participant, with names and human units.
 */
import { EnergyMarket } from "../typechain-types";
import { weiToEther, whToKWh } from "./units";

const STAGE: Record<number, "green" | "all"> = { 1: "green", 2: "all" };

export interface HistoryFilter {
  interval?: number;
  participant?: bigint;
}

export async function readHistory(market: EnergyMarket, fromBlock: number, f: HistoryFilter) {
  const names = new Map<bigint, string>();
  for (const l of await market.queryFilter(market.filters.ParticipantRegistered(), fromBlock)) names.set(l.args.id, l.args.name);
  const name = (id: bigint) => names.get(id) ?? `#${id}`;
  const inInterval = (d: bigint) => f.interval === undefined || Number(d) === f.interval;
  const involves = (...ids: bigint[]) => f.participant === undefined || ids.includes(f.participant);
  const trades = (await market.queryFilter(market.filters.TradeMatched(f.interval), fromBlock))
    .filter((l) => inInterval(l.args.interval) && involves(l.args.sellerId, l.args.buyerId))
    .map((l) => ({
      interval: Number(l.args.interval),
      stage: STAGE[Number(l.args.stage)],
      seller: name(l.args.sellerId),
      buyer: name(l.args.buyerId),
      energyKWh: whToKWh(l.args.energyWh),
      priceEtherPerKWh: weiToEther(l.args.priceWeiPerKWh),
      amountEther: weiToEther(l.args.amountWei),
      tx: l.transactionHash,
    }));
  const settlements = (await market.queryFilter(market.filters.ParticipantSettled(f.interval, f.participant), fromBlock))
    .filter((l) => inInterval(l.args.interval))
    .map((l) => ({
      interval: Number(l.args.interval),
      participant: name(l.args.id),
      declaredKWh: whToKWh(l.args.declaredWh),
      clearedKWh: whToKWh(l.args.clearedWh),
      actualKWh: whToKWh(l.args.actualWh),
      balancingEther: weiToEther(l.args.balancingWei),
      rewardEther: weiToEther(l.args.rewardWei),
      penaltyEther: weiToEther(l.args.rewardWei - l.args.incentiveWei), // the event carries reward and net
      incentiveEther: weiToEther(l.args.incentiveWei),
      readingMissing: l.args.readingMissing,
      tx: l.transactionHash,
    }));
  const forfeits = (await market.queryFilter(market.filters.BidForfeited(f.interval, f.participant), fromBlock)).map((l) => ({
    interval: Number(l.args.interval),
    participant: name(l.args.id),
    amountEther: weiToEther(l.args.amount),
    tx: l.transactionHash,
  }));
  return { trades, settlements, forfeits };
}
