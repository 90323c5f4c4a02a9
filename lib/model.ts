/**
 * Off-chain reference model of the mechanism (MECHANISM.md), written from the rules rather than from
 * the contract: the green-first double auction, the average price, balancing and reward/penalty.
 * Exact integer arithmetic in Wh, wei per kWh and wei, rounding down where the contract does.
 * Tests compare the contract against it; the simulator's report uses it to explain results.
 */
export type BidSide = "sell" | "buy";

export interface ModelBid {
  id: number; // participant ID: lower wins ties
  side: BidSide;
  green: boolean;
  energyWh: bigint;
  priceWeiPerKWh: bigint;
}

export interface ModelTrade {
  stage: "green" | "all";
  sellerId: number;
  buyerId: number;
  energyWh: bigint;
  priceWeiPerKWh: bigint;
  amountWei: bigint;
}

export interface ModelClearing {
  trades: ModelTrade[];
  tradedWh: bigint;
  /** Σ energy × price over trades. */
  tradedValue: bigint;
  /** Energy matched per participant ID. */
  filledWh: Map<number, bigint>;
  /** A seller's proceeds as the contract counts them: each trade's amount rounded up to the gwei. */
  proceedsWei: Map<number, bigint>;
}

export interface ModelRatios {
  shortRatioPpm: bigint; // W'
  longRatioPpm: bigint; // W''
  rewardRatioPpm: bigint; // M'
  penaltyRatioPpm: bigint; // M''
}

const GWEI = 10n ** 9n;

/** Money for `energyWh` at `priceWeiPerKWh`, rounded down. */
export const costOf = (energyWh: bigint, priceWeiPerKWh: bigint): bigint => (energyWh * priceWeiPerKWh) / 1000n;

/** Energy × price × ratio (ppm), rounded down. */
export const valueOf = (energyWh: bigint, priceWeiPerKWh: bigint, ratioPpm: bigint): bigint =>
  (energyWh * priceWeiPerKWh * ratioPpm) / 1_000_000_000n;

/** Sellers by ascending price, buyers by descending price, ties by lower participant ID. */
function byPriority(side: BidSide) {
  return (a: ModelBid, b: ModelBid): number => {
    if (a.priceWeiPerKWh !== b.priceWeiPerKWh) {
      const aFirst = side === "sell" ? a.priceWeiPerKWh < b.priceWeiPerKWh : a.priceWeiPerKWh > b.priceWeiPerKWh;
      return aFirst ? -1 : 1;
    }
    return a.id - b.id;
  };
}

/** Paper steps 2-5: green sellers against green buyers, then everyone with quantity left. */
export function clearBook(bids: ModelBid[]): ModelClearing {
  const remaining = new Map<number, bigint>(bids.map((b) => [b.id, b.energyWh]));
  const result: ModelClearing = { trades: [], tradedWh: 0n, tradedValue: 0n, filledWh: new Map(), proceedsWei: new Map() };
  const sellers = bids.filter((b) => b.side === "sell").sort(byPriority("sell"));
  const buyers = bids.filter((b) => b.side === "buy").sort(byPriority("buy"));
  match(sellers.filter((b) => b.green), buyers.filter((b) => b.green), "green", remaining, result);
  match(sellers, buyers, "all", remaining, result);
  return result;
}

function match(sellers: ModelBid[], buyers: ModelBid[], stage: "green" | "all", remaining: Map<number, bigint>, out: ModelClearing) {
  const open = (b: ModelBid) => remaining.get(b.id)! > 0n;
  let s = sellers.filter(open);
  let b = buyers.filter(open);
  while (s.length && b.length && s[0].priceWeiPerKWh <= b[0].priceWeiPerKWh) {
    const seller = s[0];
    const buyer = b[0];
    const energy = min(remaining.get(seller.id)!, remaining.get(buyer.id)!);
    const price = (seller.priceWeiPerKWh + buyer.priceWeiPerKWh) / 2n;
    const amountWei = costOf(energy, price);
    out.trades.push({ stage, sellerId: seller.id, buyerId: buyer.id, energyWh: energy, priceWeiPerKWh: price, amountWei });
    out.proceedsWei.set(seller.id, (out.proceedsWei.get(seller.id) ?? 0n) + ((amountWei + GWEI - 1n) / GWEI) * GWEI);
    out.tradedWh += energy;
    out.tradedValue += energy * price;
    for (const id of [seller.id, buyer.id]) {
      remaining.set(id, remaining.get(id)! - energy);
      out.filledWh.set(id, (out.filledWh.get(id) ?? 0n) + energy);
    }
    s = s.filter(open);
    b = b.filter(open);
  }
}

/** Formula 2: A = Σ Q·G / Σ Q (the mean trade price), or the reference price for an interval without trades. */
export function averagePrice(c: Pick<ModelClearing, "tradedWh" | "tradedValue">, referencePriceWeiPerKWh: bigint): bigint {
  return c.tradedWh === 0n ? referencePriceWeiPerKWh : c.tradedValue / c.tradedWh;
}

/** The operator's band for the balancing price. */
export interface ModelBand {
  referencePriceWeiPerKWh: bigint;
  floorPriceWeiPerKWh: bigint;
  capPriceWeiPerKWh: bigint;
  minVolumeWh: bigint;
}

/**
 * The price A that balancing and incentives use (MECHANISM.md, "The balancing price A is banded"):
 * the mean trade price clamped to [floor, cap], or the reference price below the minimum volume.
 */
export function balancingPrice(c: Pick<ModelClearing, "tradedWh" | "tradedValue">, band: ModelBand): bigint {
  if (c.tradedWh === 0n || c.tradedWh < band.minVolumeWh) return band.referencePriceWeiPerKWh;
  const mean = c.tradedValue / c.tradedWh;
  return mean < band.floorPriceWeiPerKWh ? band.floorPriceWeiPerKWh : mean > band.capPriceWeiPerKWh ? band.capPriceWeiPerKWh : mean;
}

export interface ModelSettlement {
  /** Positive: paid by the grid to the participant; negative: paid to the grid. */
  balancingWei: bigint;
  rewardWei: bigint;
  penaltyWei: bigint;
  /** reward - penalty: positive paid from the pool, negative paid into it. */
  incentiveWei: bigint;
}

/** A participant's revealed bid after clearing, net positions in Wh (export/sell positive). */
export interface ModelPosition {
  /** +energy for a sell bid, -energy for a buy bid. */
  declaredWh: bigint;
  /** +sold, -bought. */
  clearedWh: bigint;
  /** The bid's price. */
  priceWeiPerKWh: bigint;
  /** A seller's proceeds (ModelClearing.proceedsWei), 0 for a buyer. */
  proceedsWei: bigint;
}

/** A participant's position in a cleared book, or null when it did not bid. */
export function positionOf(c: ModelClearing, bid: ModelBid | undefined): ModelPosition | null {
  if (!bid) return null;
  const filled = c.filledWh.get(bid.id) ?? 0n;
  const sell = bid.side === "sell";
  return {
    declaredWh: sell ? bid.energyWh : -bid.energyWh,
    clearedWh: sell ? filled : -filled,
    priceWeiPerKWh: bid.priceWeiPerKWh,
    proceedsWei: sell ? (c.proceedsWei.get(bid.id) ?? 0n) : 0n,
  };
}

/**
 * What the undelivered part of a sale earned above its value at A (the unwind premium): its share of
 * the proceeds rounded up, less its energy at A rounded down, never negative.
 */
export function unwindPremium(p: ModelPosition | null, shortWh: bigint, A: bigint): bigint {
  if (!p || p.declaredWh < 0n || p.clearedWh <= 0n) return 0n;
  const sold = p.clearedWh;
  const undelivered = min(shortWh, sold);
  const earned = (p.proceedsWei * undelivered + sold - 1n) / sold;
  const atPrice = costOf(undelivered, A);
  return earned > atPrice ? earned - atPrice : 0n;
}

/**
 * Formulas 1-5 with the integrity rules (MECHANISM.md): `position` null when the participant did not
 * bid (no reward or penalty, cleared 0). A short seller also pays the unwind premium; the reward counts
 * the declared energy only for a bid priced to trade at A, otherwise the cleared energy.
 */
export function settleParticipant(position: ModelPosition | null, actualWh: bigint, A: bigint, r: ModelRatios): ModelSettlement {
  const clearedWh = position?.clearedWh ?? 0n;
  const deviation = abs(actualWh - clearedWh);
  let balancingWei = 0n;
  if (actualWh < clearedWh) balancingWei = -(valueOf(deviation, A, r.shortRatioPpm) + unwindPremium(position, deviation, A));
  if (actualWh > clearedWh) balancingWei = valueOf(deviation, A, r.longRatioPpm);
  if (position === null) return { balancingWei, rewardWei: 0n, penaltyWei: 0n, incentiveWei: 0n };
  const buy = position.declaredWh < 0n;
  const marketable = buy ? position.priceWeiPerKWh >= A : position.priceWeiPerKWh <= A;
  const b = marketable ? position.declaredWh : position.clearedWh;
  const sameSign = (b > 0n && actualWh > 0n) || (b < 0n && actualWh < 0n);
  const consistent = sameSign ? min(abs(b), abs(actualWh)) : 0n;
  const rewardWei = valueOf(consistent, A, r.rewardRatioPpm);
  const penaltyWei = valueOf(abs(position.declaredWh - actualWh), A, r.penaltyRatioPpm);
  return { balancingWei, rewardWei, penaltyWei, incentiveWei: rewardWei - penaltyWei };
}

/** The energy a meter of `ratedPowerW` can measure in one interval, Wh (R; Params.ratedEnergyWh). */
export const ratedEnergyOf = (ratedPowerW: bigint, intervalSeconds: bigint | number): bigint => (ratedPowerW * BigInt(intervalSeconds)) / 3600n;

/** The security a bound meter keeps: 2 × R × cap × (W' + M''), R the rated energy per interval. */
export function securityOf(ratedEnergyWh: bigint, p: { capPriceWeiPerKWh: bigint; shortRatioPpm: bigint; penaltyRatioPpm: bigint }): bigint {
  return 2n * valueOf(ratedEnergyWh, p.capPriceWeiPerKWh, p.shortRatioPpm + p.penaltyRatioPpm);
}

/** A sell bid's collateral: E × cap × (W' + M''). */
export function saleCollateralOf(energyWh: bigint, p: { capPriceWeiPerKWh: bigint; shortRatioPpm: bigint; penaltyRatioPpm: bigint }): bigint {
  return valueOf(energyWh, p.capPriceWeiPerKWh, p.shortRatioPpm + p.penaltyRatioPpm);
}

/** The forfeit of a commit never revealed: max(forfeitWei, R × cap × (1 + M'')). */
export function forfeitOf(ratedEnergyWh: bigint, p: { forfeitWei: bigint; capPriceWeiPerKWh: bigint; penaltyRatioPpm: bigint }): bigint {
  const byRating = valueOf(ratedEnergyWh, p.capPriceWeiPerKWh, 1_000_000n + p.penaltyRatioPpm);
  return byRating > p.forfeitWei ? byRating : p.forfeitWei;
}

const min = (a: bigint, b: bigint) => (a < b ? a : b);
const abs = (a: bigint) => (a < 0n ? -a : a);
