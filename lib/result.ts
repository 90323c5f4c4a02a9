/**
 * The shape of `<dir>/result.json`, written by `npx hardhat simulate` and read by the report.
 *
 * Every amount is an exact decimal string: energy in kWh (1 Wh resolution, so at most three
 * decimals), money in ether converted from wei (at most 18 decimals).
 * Signs: energy positive = exported by the participant; money positive = received by the
 * participant, except `penaltyEther`, which is a positive amount paid.
 */

/** An exact decimal number written as a string, e.g. "-1.02" or "0.000707826". */
export type Decimal = string;

/** Matching stage of a trade: the green-first stage or the stage open to everyone. */
export type TradeStage = "green" | "all";

/** The market parameters the run used: the scenario's `market` block with defaults filled in. */
export interface MarketParameters {
  intervalSeconds: number;
  commitSeconds: number;
  revealSeconds: number;
  /** W': the participant pays the grid D * A * W' when short. */
  balancingShortRatio: Decimal;
  /** W'': the grid pays the participant D * A * W'' when long. */
  balancingLongRatio: Decimal;
  /** M': reward ratio on consistent energy. */
  rewardRatio: Decimal;
  /** M'': penalty ratio on deviating energy. */
  penaltyRatio: Decimal;
  marginEther: Decimal;
  /** Average price of an interval without trades. */
  referencePriceEtherPerKWh: Decimal;
  /** Initial funding of the incentive pool. */
  incentivePoolEther: Decimal;
  /** Display-only exchange rate (the paper uses 626.2). */
  cnyPerEther: Decimal;
}

/** A participant of the run, in registration order. */
export interface ParticipantInfo {
  name: string;
  green: boolean;
  grid: boolean;
}

export interface Trade {
  stage: TradeStage;
  seller: string;
  buyer: string;
  energyKWh: Decimal;
  priceEtherPerKWh: Decimal;
  /** energyKWh * priceEtherPerKWh, paid by the buyer to the seller. */
  amountEther: Decimal;
}

/** A bid the market accepted (revealed), as the participant declared it. */
export interface Bid {
  participant: string;
  side: "sell" | "buy";
  energyKWh: Decimal;
  priceEtherPerKWh: Decimal;
}

export interface RejectedBid {
  participant: string;
  reason: string;
}

/** One participant's outcome in one interval. A participant that did not bid has
 *  `declaredKWh`, `rewardEther` and `penaltyEther` equal to "0". */
export interface ParticipantIntervalResult {
  /** b: +energy of a sell bid, -energy of a buy bid. */
  declaredKWh: Decimal;
  /** c: energy sold minus energy bought. */
  clearedKWh: Decimal;
  /** a: metered export minus import. */
  actualKWh: Decimal;
  /** Received from (+) or paid to (-) the grid for the deviation |a - c|. */
  balancingEther: Decimal;
  /** Paid from the incentive pool to the participant. */
  rewardEther: Decimal;
  /** Paid by the participant into the incentive pool (positive amount). */
  penaltyEther: Decimal;
  /** Net incentive: rewardEther - penaltyEther. */
  incentiveEther: Decimal;
}

export interface IntervalResult {
  /** Wall-clock label of the delivery interval, e.g. "14:00". */
  label: string;
  /** A = sum(Q * G) / sum(Q) over the trades, or the reference price without trades. */
  averagePriceEtherPerKWh: Decimal;
  /** Trades in the order they were matched. */
  trades: Trade[];
  /** The revealed bids, in the scenario's order (older results have none). */
  bids?: Bid[];
  rejectedBids: RejectedBid[];
  participants: Record<string, ParticipantIntervalResult>;
}

/** Gas figures of the run, free-form: numbers, possibly grouped in nested objects. */
export interface GasFigures {
  [key: string]: number | GasFigures;
}

export interface SimulationResult {
  market: MarketParameters;
  participants: ParticipantInfo[];
  intervals: IntervalResult[];
  /** Final in-contract wallet balance of each participant, in ether. */
  wallets: Record<string, Decimal>;
  incentivePoolEther: Decimal;
  /** What each participant still owes (could not be paid from its wallet), in ether. */
  owed: Record<string, Decimal>;
  gas: GasFigures;
}
