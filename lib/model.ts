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
}

export interface ModelRatios {
  shortRatioPpm: bigint; // W'
  longRatioPpm: bigint; // W''
  rewardRatioPpm: bigint; // M'
  penaltyRatioPpm: bigint; // M''
}

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
  const result: ModelClearing = { trades: [], tradedWh: 0n, tradedValue: 0n, filledWh: new Map() };
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
    out.trades.push({ stage, sellerId: seller.id, buyerId: buyer.id, energyWh: energy, priceWeiPerKWh: price, amountWei: costOf(energy, price) });
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

/** Formula 2: A = Σ Q·G / Σ Q, or the reference price for an interval without trades. */
export function averagePrice(c: Pick<ModelClearing, "tradedWh" | "tradedValue">, referencePriceWeiPerKWh: bigint): bigint {
  return c.tradedWh === 0n ? referencePriceWeiPerKWh : c.tradedValue / c.tradedWh;
}

export interface ModelSettlement {
  /** Positive: paid by the grid to the participant; negative: paid to the grid. */
  balancingWei: bigint;
  rewardWei: bigint;
  penaltyWei: bigint;
  /** reward - penalty: positive paid from the pool, negative paid into it. */
  incentiveWei: bigint;
}

/**
 * Formulas 1-5 on net positions (Wh, export positive): `cleared` c, `actual` a, `declared` b (null
 * when the participant did not bid: no reward or penalty).
 */
export function settleParticipant(
  declaredWh: bigint | null,
  clearedWh: bigint,
  actualWh: bigint,
  averagePriceWeiPerKWh: bigint,
  r: ModelRatios,
): ModelSettlement {
  const deviation = abs(actualWh - clearedWh);
  let balancingWei = 0n;
  if (actualWh < clearedWh) balancingWei = -valueOf(deviation, averagePriceWeiPerKWh, r.shortRatioPpm);
  if (actualWh > clearedWh) balancingWei = valueOf(deviation, averagePriceWeiPerKWh, r.longRatioPpm);
  if (declaredWh === null) return { balancingWei, rewardWei: 0n, penaltyWei: 0n, incentiveWei: 0n };
  const sameSign = (declaredWh > 0n && actualWh > 0n) || (declaredWh < 0n && actualWh < 0n);
  const consistent = sameSign ? min(abs(declaredWh), abs(actualWh)) : 0n;
  const rewardWei = valueOf(consistent, averagePriceWeiPerKWh, r.rewardRatioPpm);
  const penaltyWei = valueOf(abs(declaredWh - actualWh), averagePriceWeiPerKWh, r.penaltyRatioPpm);
  return { balancingWei, rewardWei, penaltyWei, incentiveWei: rewardWei - penaltyWei };
}

const min = (a: bigint, b: bigint) => (a < b ? a : b);
const abs = (a: bigint) => (a < 0n ? -a : a);
