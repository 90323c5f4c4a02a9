/**
 * Plain-language messages for what can go wrong: the market's custom errors (the one table in
 * lib/errors.ts, with amounts in ETH as the portal shows them), unit parsing (lib/units), wallets
 * and the node.
 */
import { explainMarketError } from "../../lib/errors";
import { UnitError } from "../../lib/units";
import { clock, ether } from "./format";

/** An error whose message is already meant for the user. */
export class UserError extends Error {}

export function explain(e: unknown): string {
  if (e instanceof UserError || e instanceof UnitError) return e.message;
  const refused = explainMarketError(e, { ether: (wei) => `${ether(wei)} ETH`, time: clock });
  if (refused) return refused;
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
