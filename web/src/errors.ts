/**
 * Plain-language messages for what can go wrong: the market's custom errors (decoded by
 * lib/market decodeRevert), unit parsing (lib/units), wallets and the node.
 */
import { decodeRevert, PHASES } from "../../lib/market";
import { UnitError } from "../../lib/units";
import { ether } from "./format";

/** An error whose message is already meant for the user. */
export class UserError extends Error {}

const eth = (v: unknown) => `${ether(BigInt(v as bigint))} ETH`;

const MARKET: Record<string, (a: unknown[]) => string> = {
  NotOperator: () => "Only the operator's account can do this.",
  NotRegistered: () => "This account is not registered in the market yet.",
  AlreadyRegistered: () => "This account is already registered.",
  UnknownParticipant: (a) => `There is no participant #${a[0]}.`,
  NotAuthorized: (a) => `Participant #${a[0]} is not authorized to trade yet: the operator has to authorize it first.`,
  InvalidName: () => "A name must be 1 to 64 bytes long.",
  GridAlreadyRegistered: () => "The public grid is already registered.",
  GridNotRegistered: () => "The operator has not registered the public grid yet.",
  NotForGrid: () => "This is not possible for the public grid.",
  ZeroValue: () => "An address or meter number of zero is not allowed.",
  NoMeterBound: (a) => `Participant #${a[0]} has no meter bound.`,
  ZeroAmount: () => "The amount must be more than zero.",
  InsufficientFunds: (a) => `Not enough free funds in the market wallet: this needs ${eth(a[1])}, ${eth(a[2])} is available.`,
  TransferFailed: () => "Sending the ether to your account failed.",
  HasDebt: (a) => `You owe ${eth(a[1])} from earlier settlements; deposit to pay it before bidding.`,
  WrongInterval: (a) => `Bids are taken only for the next interval (${a[1]}), not interval ${a[0]}.`,
  WrongPhase: (a) => `Interval ${a[0]} is in its ${PHASES[Number(a[1])]?.toLowerCase() ?? "other"} phase: this is not possible now.`,
  NoCommitment: (a) => `There is no sealed bid of participant #${a[1]} for interval ${a[0]} to reveal.`,
  BadReveal: (a) => `The revealed bid does not match the sealed one for interval ${a[0]} (the salt or the bid changed).`,
  AlreadyRevealed: (a) => `The bid for interval ${a[0]} is already revealed.`,
  ZeroQuantity: () => "The energy must be more than zero.",
  QuantityTooLarge: (a) => `At most ${Number(a[1]) / 1000} kWh per bid.`,
  ZeroPrice: () => "The price must be more than zero.",
  PriceTooHigh: (a) => `The price is above the market's maximum of ${eth(a[1])} per kWh.`,
  UnknownMeterAccount: () => "That account is not a bound meter.",
  InvalidParams: () => "Parameters out of range.",
};

export function explain(e: unknown): string {
  if (e instanceof UserError || e instanceof UnitError) return e.message;
  const revert = decodeRevert(e);
  if (revert) return MARKET[revert.name]?.(revert.args) ?? `The market refused: ${revert.name}(${revert.args.join(", ")}).`;
  const err = e as { code?: string; shortMessage?: string; message?: string; info?: { error?: { message?: string } } };
  switch (err?.code) {
    case "ACTION_REJECTED":
      return "You rejected the request in your wallet; nothing was sent.";
    case "INSUFFICIENT_FUNDS":
      return "Your account does not hold enough ether for this transaction and its gas.";
    case "NETWORK_ERROR":
    case "TIMEOUT":
    case "SERVER_ERROR":
      return `The node did not answer (${err.shortMessage ?? err.message}). Try again in a moment.`;
  }
  const inner = err?.info?.error?.message ?? err?.shortMessage ?? err?.message ?? String(e);
  if (/insufficient funds/i.test(inner)) return "Your account does not hold enough ether for this transaction and its gas.";
  return inner;
}
