/**
 * The bridge's view of the market contract: the part of its ABI the bridge uses, kept here
 * so the bridge needs no Hardhat or artifacts at run time. test/abi.test.ts checks every
 * entry against the compiled contract so the two cannot drift.
 */
export const MARKET_ABI = [
  "function postReading(uint64 meterNumber, uint32 interval, uint64 importWh, uint64 exportWh)",
  "function postReadings((uint64 meterNumber, uint32 interval, uint64 importWh, uint64 exportWh, bytes32 r, bytes32 vs)[] entries)",
  "function schedule() view returns (uint64 startTime, uint32 intervalSeconds, uint32 commitSeconds, uint32 revealSeconds, uint32 settleOffsetSeconds, uint32 readingGraceSeconds)",
  "function readingOf(uint32 participantId, uint32 interval) view returns (bool posted, uint64 importWh, uint64 exportWh)",
  "function participantOfMeter(address meterAccount) view returns (uint32)",
  "function maxBatch() pure returns (uint256)",
  "function domainSeparator() view returns (bytes32)",
  "event ReadingPosted(uint32 indexed participantId, uint32 indexed interval, uint64 importWh, uint64 exportWh)",
  "event EntrySkipped(uint32 indexed interval, uint256 indexed subject, uint256 index, bytes reason)",
  "error UnknownMeterAccount(address account)",
  "error WrongMeterNumber(uint64 meterNumber)",
  "error IntervalNotEnded(uint32 interval)",
  "error ReadingOutOfOrder(uint32 interval, uint32 nextInterval)",
  "error ReadingTooLate(uint32 interval, uint32 settledUntil)",
  "error RegisterDecreased(uint64 previousWh, uint64 postedWh)",
  "error ImplausibleReading(uint64 energyWh, uint64 maxWh)",
  "error ConflictingReading(uint32 participantId, uint32 interval)",
  "error SettlementBehind(uint32 id, uint32 unsettledInterval)",
  "error BatchTooLarge(uint256 length, uint256 max)",
] as const;

/** The EIP-712 type a meter signs its reading with (contracts/libraries/Signatures.sol, lib/signed.ts). */
export const READING_TYPES = {
  Reading: [
    { name: "meterNumber", type: "uint64" },
    { name: "interval", type: "uint32" },
    { name: "importWh", type: "uint64" },
    { name: "exportWh", type: "uint64" },
  ],
};

/** The market's EIP-712 domain. */
export function marketDomain(chainId: number, market: string) {
  return { name: "EnergyMarket", version: "1", chainId, verifyingContract: market };
}

/**
 * What the bridge does with a reading the market refuses (the custom error's name):
 * - `wait`: the chain's clock has not reached the interval's end yet (IntervalNotEnded); posted as soon as it has;
 * - `retry`: it may be accepted later: the participant's settlement is four intervals behind
 *   (SettlementBehind), or the meter's account or number does not match its binding on chain
 *   (UnknownMeterAccount, WrongMeterNumber: the operator may bind it, or the gateway's key be
 *   replaced); retried with backoff, nothing is lost meanwhile;
 * - `too-late`: its interval is settled already (ReadingTooLate): the next reading carries its energy;
 * - `rejected`: it can never be accepted (out of order, a register that went down, more energy than
 *   the meter's rating allows, another reading for the interval on chain).
 * Any other error (a node's) is retried.
 */
export type Refusal = "wait" | "retry" | "too-late" | "rejected";

const REFUSALS: Readonly<Record<string, Refusal>> = {
  IntervalNotEnded: "wait",
  SettlementBehind: "retry",
  UnknownMeterAccount: "retry",
  WrongMeterNumber: "retry",
  ReadingTooLate: "too-late",
  ReadingOutOfOrder: "rejected",
  RegisterDecreased: "rejected",
  ImplausibleReading: "rejected",
  ConflictingReading: "rejected",
};

/** The refusals the market's reading posts can give, by error name. */
export const READING_REFUSALS: ReadonlySet<string> = new Set(Object.keys(REFUSALS));

/** How the bridge treats refusal `reason` ("Name(args)" or "Name"). */
export function refusalKind(reason: string): Refusal {
  return REFUSALS[reason.split("(")[0]] ?? "retry";
}

/** A refusal that names a setting (the meter's key or number against its binding on chain), not the state of the market. */
export function isBindingRefusal(reason: string): boolean {
  const name = reason.split("(")[0];
  return name === "UnknownMeterAccount" || name === "WrongMeterNumber";
}
