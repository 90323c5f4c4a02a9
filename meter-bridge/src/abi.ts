/**
 * The bridge's view of the market contract: the part of its ABI the bridge uses, kept here
 * so the bridge needs no Hardhat or artifacts at run time. test/abi.test.ts checks every
 * entry against the compiled contract so the two cannot drift.
 */
export const MARKET_ABI = [
  "function postReading(uint64 meterNumber, uint32 interval, uint64 importWh, uint64 exportWh)",
  "function schedule() view returns (uint64 startTime, uint32 intervalSeconds, uint32 commitSeconds, uint32 revealSeconds, uint32 settleOffsetSeconds, uint32 readingGraceSeconds)",
  "function readingOf(uint32 participantId, uint32 interval) view returns (bool posted, uint64 importWh, uint64 exportWh)",
  "function participantOfMeter(address meterAccount) view returns (uint32)",
  "event ReadingPosted(uint32 indexed participantId, uint32 indexed interval, uint64 importWh, uint64 exportWh)",
  "error UnknownMeterAccount(address account)",
  "error WrongMeterNumber(uint64 meterNumber)",
  "error IntervalNotEnded(uint32 interval)",
  "error ReadingOutOfOrder(uint32 interval, uint32 lastInterval)",
  "error RegisterDecreased(uint64 previousWh, uint64 postedWh)",
  "error ImplausibleReading(uint64 energyWh, uint64 maxWh)",
  "error ConflictingReading(uint32 participantId, uint32 interval)",
] as const;

/** Reverts after which a reading can never be accepted: it is journaled as rejected. */
export const PERMANENT_REVERTS: ReadonlySet<string> = new Set(["ReadingOutOfOrder", "RegisterDecreased", "ImplausibleReading", "ConflictingReading"]);
