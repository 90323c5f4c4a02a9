/**
 * The market's custom errors in words: one table, error name -> a sentence built from its
 * arguments, with amounts in ether and kWh, phases by name and interval times in local time where
 * the schedule is known. Every task, the simulator and the portal explain a refusal through it, so a
 * new custom error is one entry here (test/errors.test.ts fails while an error of the ABI has none).
 */
import type { ScheduleTimes } from "./deployment";
import { localTime, windowsOf } from "./clock";
import { decodeRevert } from "./market";
import { weiToEther, whToKWh } from "./units";

/** A decoded custom error of the market. */
export interface Revert {
  name: string;
  args: readonly unknown[];
}

/** What the words may use besides the error's arguments. */
export interface ExplainContext {
  /** An amount of wei in words (default: the exact ether, "0.0005 ether"). */
  ether?: (wei: bigint) => string;
  /** A unix time in words (default: local HH:MM:SS). */
  time?: (unixSeconds: number) => string;
  /** The market's schedule, for the times of an interval's windows. */
  schedule?: ScheduleTimes;
  /** A participant's name, when known ("wind"). */
  name?: (id: number) => string | undefined;
}

/** How each phase of a delivery interval reads in a sentence ("interval 7 is <phase>"). */
export const PHASE_WORDS = [
  "not open for bids yet",
  "taking sealed bids",
  "revealing its bids",
  "waiting to be cleared",
  "cleared and waiting for delivery",
  "open for settlement",
] as const;

/** A meter number as its 12-digit DL/T 645 address. */
export const meterNumber = (n: unknown): string => String(n).padStart(12, "0");

type Words = (a: Args, c: Required<Omit<ExplainContext, "schedule">> & Pick<ExplainContext, "schedule">) => string;

/** The arguments of an error, read as numbers, amounts or text. */
class Args {
  constructor(private readonly values: readonly unknown[]) {}
  big(i: number): bigint {
    return BigInt(String(this.values[i]));
  }
  num(i: number): number {
    return Number(this.big(i));
  }
  text(i: number): string {
    return String(this.values[i]);
  }
}

const who = (id: number, c: { name: (id: number) => string | undefined }) => {
  const name = c.name(id);
  return name ? `${name} (#${id})` : `participant #${id}`;
};

/** "(sealed bids 10:00:00–10:02:00, reveals until 10:03:00, local time)" when the schedule is known. */
function windows(d: number, c: { schedule?: ScheduleTimes; time: (t: number) => string }): string {
  if (!c.schedule) return "";
  const w = windowsOf(c.schedule, d);
  return ` (its sealed bids are taken ${c.time(w.commitStart)}–${c.time(w.revealStart)} and revealed until ${c.time(w.revealEnd)}, local time)`;
}

export const MARKET_ERRORS: Record<string, Words> = {
  NotOperator: (a) => `Only the market's operator can do this; ${a.text(0)} is not the operator.`,
  NotProposedOperator: (a) => `Only the account proposed as the next operator can take the role over; ${a.text(0)} is not it.`,
  NotRegistered: (a) => `Account ${a.text(0)} is not registered in the market: register it first.`,
  AlreadyRegistered: (a) => `Account ${a.text(0)} is already registered.`,
  UnknownParticipant: (a) => `There is no participant #${a.num(0)}.`,
  NotAuthorized: (a, c) => `${cap(who(a.num(0), c))} is not authorized to trade yet: the operator has to authorize it first.`,
  InvalidName: () => "A name must be 1 to 64 bytes long.",
  GridAlreadyRegistered: (a) => `The public grid is already registered (participant #${a.num(0)}).`,
  GridNotRegistered: () => "The operator has not registered the public grid yet.",
  NotForGrid: (a) => `This is not possible for the public grid (participant #${a.num(0)}).`,
  ZeroValue: () => "An address, meter number or rated power of zero is not allowed.",
  NoMeterBound: (a, c) => `${cap(who(a.num(0), c))} has no meter bound: the operator proposes one and the prosumer accepts it.`,
  InvalidMeterNumber: (a) => `${a.text(0)} is not a meter number: a meter number is its 12-digit DL/T 645 address, not all zeros.`,
  RatedPowerTooHigh: (a) => `A rated power of ${whToKWh(a.big(0))} kW is above the market's limit of ${whToKWh(a.big(1))} kW per meter.`,
  MeterInUse: (a, c) =>
    `This meter number or meter account already serves ${who(a.num(0), c)}: a meter serves one participant, so the operator releases it there first, once everything it measured is settled.`,
  NoSuchProposal: (a, c) => `No such meter proposal waits for ${who(a.num(0), c)}: the operator proposes a meter first, or has proposed another one since.`,
  NotSettledYet: (a, c) => `${cap(who(a.num(0), c))} still has bids or readings to settle from interval ${a.num(1)} on: its meter is released once they are settled.`,
  UnknownMeterAccount: (a) => `Account ${a.text(0)} is not the account of any bound meter.`,
  WrongMeterNumber: (a) => `Meter ${meterNumber(a.text(0))} is not the meter bound to this meter account.`,
  IntervalNotEnded: (a, c) =>
    `Interval ${a.num(0)} has not ended yet${c.schedule ? ` (it ends at ${c.time(windowsOf(c.schedule, a.num(0)).end)} local time)` : ""}: a meter posts its registers after the interval's end.`,
  ReadingOutOfOrder: (a) =>
    `Readings go in interval order from the interval the meter was bound in, and this meter can post from interval ${a.num(1)} on: interval ${a.num(0)} can no longer be posted.`,
  ReadingTooLate: (a) =>
    `Interval ${a.num(0)} is already settled for this meter's participant (interval ${a.num(1)} is the next to settle): post the next interval's registers, which carry this energy.`,
  RegisterDecreased: (a) => `A register cannot go down: it was ${whToKWh(a.big(0))} kWh and the reading says ${whToKWh(a.big(1))} kWh.`,
  ImplausibleReading: (a) =>
    `The reading rises by ${whToKWh(a.big(0))} kWh, more than the meter's rated power can deliver since its last reading (at most ${whToKWh(a.big(1))} kWh): check the meter, or propose it again with a higher rated power.`,
  ConflictingReading: (a, c) => `A different reading of ${who(a.num(0), c)} for interval ${a.num(1)} was already posted.`,
  SettlementBehind: (a, c) =>
    `Interval ${a.num(1)} of ${who(a.num(0), c)} is not settled yet: the market keeps four intervals of bids and readings per participant, so that one is settled first.`,
  ZeroAmount: () => "The amount must be more than zero.",
  InsufficientFunds: (a, c) => `Not enough free funds in the market wallet of ${who(a.num(0), c)}: this needs ${c.ether(a.big(1))}, ${c.ether(a.big(2))} is free.`,
  TransferFailed: () => "Sending the ether to the account failed.",
  Reentrancy: () => "A reentrant call was refused.",
  HasDebt: (a, c) => `${cap(who(a.num(0), c))} owes ${c.ether(a.big(1))} from earlier settlements: deposit to pay it before bidding.`,
  WrongInterval: (a) => `Bids are taken only for the next interval (${a.num(1)}), not interval ${a.num(0)}.`,
  WrongPhase: (a, c) => `Interval ${a.num(0)} is ${PHASE_WORDS[a.num(1)] ?? `in phase ${a.num(1)}`}${windows(a.num(0), c)}: this is not possible now.`,
  NoCommitment: (a, c) => `There is no sealed bid of ${who(a.num(1), c)} for interval ${a.num(0)} to reveal.`,
  BadReveal: (a) => `The revealed bid does not match the sealed one for interval ${a.num(0)} (the salt or the bid changed).`,
  AlreadyRevealed: (a, c) => `The bid of ${who(a.num(1), c)} for interval ${a.num(0)} is already revealed.`,
  NotReplacing: (a, c) =>
    `The relayed commit of ${who(a.num(1), c)} for interval ${a.num(0)} names another sealed bid to replace than the one the market holds: a replayed or stale message changes nothing.`,
  ZeroQuantity: () => "The energy must be more than zero.",
  QuantityTooLarge: (a) =>
    `${whToKWh(a.big(0))} kWh is more than the largest bid allowed, ${whToKWh(a.big(1))} kWh (the market's maximum, or the meter's rated energy in one interval).`,
  ZeroPrice: () => "The price must be more than zero.",
  PriceTooHigh: (a, c) => `${cap(c.ether(a.big(0)))} per kWh is above the market's highest price of ${c.ether(a.big(1))} per kWh.`,
  AlreadySettled: (a, c) => `${cap(who(a.num(1), c))} is already settled for interval ${a.num(0)}.`,
  SettleOutOfOrder: (a) => `Participants are settled interval after interval: interval ${a.num(1)} comes before interval ${a.num(0)}.`,
  NothingToSettle: (a, c) => `${cap(who(a.num(0), c))} has nothing to settle (no meter and no bid).`,
  ReadingPending: (a, c) =>
    `The meter reading of ${who(a.num(1), c)} for interval ${a.num(0)} is not in yet${c.schedule ? `, and the market waits for it until ${c.time(windowsOf(c.schedule, a.num(0)).graceEnd)} local time` : " and the grace period has not passed"}.`,
  ZeroSteps: () => "The number of steps must be at least 1.",
  InvalidParams: () => "The market parameters are out of range.",
  InvalidSchedule: () => "The schedule is out of range.",
  ParamsNotInFuture: (a) => `Parameters can change only from interval ${a.num(1)} on (its trading has not begun), not from interval ${a.num(0)}.`,
  NothingOwed: (a, c) => `${cap(who(a.num(0), c))} owes ${a.num(1) === 0 ? "the incentive pool" : who(a.num(1), c)} nothing.`,
  TooManyParticipants: () => "The market is full: participant IDs end at 16,777,215.",
  WrongSigner: (a, c) => `The message for ${who(a.num(0), c)} was signed by ${a.text(1)}, not by its account (or for another chain, market or content).`,
  BatchTooLarge: (a) => `A batch of ${a.num(0)} entries is more than the market takes in one call (${a.num(1)}).`,
  WrongNonce: (a, c) => `The signed withdrawal of ${who(a.num(0), c)} carries nonce ${a.num(1)}, but its next one is ${a.num(2)}: a replay, or out of order.`,
};

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** A decoded revert in words; an error without an entry is named with its raw arguments. */
export function explainRevert(revert: Revert, context: ExplainContext = {}): string {
  const c = {
    ether: context.ether ?? ((wei: bigint) => `${weiToEther(wei)} ether`),
    time: context.time ?? localTime,
    name: context.name ?? (() => undefined),
    schedule: context.schedule,
  };
  const words = MARKET_ERRORS[revert.name];
  if (words) {
    try {
      return words(new Args(revert.args), c);
    } catch {
      // arguments of an unexpected shape: fall through to the raw form
    }
  }
  return `The market refused: ${revert.name}(${revert.args.map(String).join(", ")}).`;
}

/** The market's refusal behind `e` in words, or undefined when `e` is not a contract revert. */
export function explainMarketError(e: unknown, context: ExplainContext = {}): string | undefined {
  const revert = decodeRevert(e);
  return revert && explainRevert(revert, context);
}
