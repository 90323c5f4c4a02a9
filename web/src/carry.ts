/**
 * The page signs, the platform carries. With a relayer in the portal (config.json says so), an
 * action is a message signed here with the session's key (lib/signed.ts; a reveal needs none) and
 * handed to /relay/<kind>, whose receipt is followed: queued, sent (transaction hash), then
 * included (block) or skipped (the market's reason in words). When the relayer does not answer,
 * refuses the message, or its batch skipped or failed it, the page falls back to the prosumer's own
 * transaction, if the account holds ether, and says so. Before falling back it reads the chain: an
 * effect already there is never sent twice. A message the relayer took but has not carried within
 * `RECEIPT_WAIT_MS` is not sent again either (the relayer may still carry it).
 * Without a relayer every action is the prosumer's own transaction, as before.
 */
import type { ContractTransactionResponse } from "ethers";
import type { RelayKind, RelayReceipt } from "../../lib/relay";
import { marketDomain } from "../../lib/signed";
import type { EnergyMarket } from "../../typechain-types";
import type { MarketClient } from "./chain";
import { UserError, explain } from "./errors";
import { send, sending, session } from "./session";

/** Where an action stands, as the page shows it. */
export interface Carriage {
  /** Who sent the transaction: the platform's relayer, or the prosumer's own account. */
  via: "relayer" | "direct";
  status: "queued" | "sent" | "included";
  hash?: string;
  block?: number;
  /** Why the relayer did not carry it, when the page fell back to a direct transaction. */
  fallback?: string;
}

/** How long the page follows a receipt the relayer gave before it stops waiting (a few batches). */
export const RECEIPT_WAIT_MS = 60_000;

/** The relayer took the message but has not carried it yet: nothing is sent from the account meanwhile. */
export class StillWithRelayer extends UserError {}

export interface Action {
  /** What is happening, for the header ("registering"). */
  label: string;
  kind: RelayKind;
  /** The message for the relayer: signed with the session's key (`domain` is the market's EIP-712 domain). */
  message: (domain: ReturnType<typeof marketDomain>) => Promise<object>;
  /** The same effect as the prosumer's own transaction. */
  direct: (m: EnergyMarket) => Promise<ContractTransactionResponse>;
  /** Whether the effect is on chain already (read before any fallback). */
  done: () => Promise<boolean>;
  /** Told each step, to show the receipt as it moves. */
  onUpdate?: (c: Carriage) => void;
}

const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Carry `action` through the relayer if there is one, else (or when it cannot) as a direct transaction. */
export async function carry(client: MarketClient, action: Action): Promise<Carriage> {
  const update = action.onUpdate ?? (() => undefined);
  if (!client.config.relayer) return direct(client, action, undefined);
  const s = session.value;
  if (!s) throw new UserError("Sign in first.");
  // signing is the prosumer's step: a rejected or failed signature sends nothing anywhere
  const message = await action.message(marketDomain(client.config.chainId, client.config.market));
  sending.value = `${action.label} (through the relayer)`;
  let outcome: Carriage | string;
  try {
    outcome = await relay(action, message, update);
  } finally {
    sending.value = null;
  }
  if (typeof outcome !== "string") return outcome;
  if (await action.done()) return { via: "relayer", status: "included" };
  return direct(client, action, outcome);
}

/** Submit and follow the receipt: the carriage once included, else why the relayer did not carry it (in words). */
async function relay(action: Action, message: object, update: (c: Carriage) => void): Promise<Carriage | string> {
  let res: Response;
  try {
    res = await fetch(`relay/${action.kind}`, { method: "POST", headers: { "content-type": "application/json" }, body: json(message) });
  } catch {
    return "the platform's relayer did not answer";
  }
  const body = (await res.json().catch(() => ({}))) as RelayReceipt & { error?: string };
  if (res.status === 404) return "the portal's relayer is not running";
  if (res.status >= 500) return `the platform's relayer could not take it (${body.error ?? `HTTP ${res.status}`})`;
  if (res.status !== 202) return `the platform's relayer refused it: ${body.error ?? `HTTP ${res.status}`}`;
  let receipt = body;
  update({ via: "relayer", status: "queued" });
  for (const end = Date.now() + RECEIPT_WAIT_MS; Date.now() < end; await sleep(500)) {
    try {
      const r = await fetch(`relay/receipt/${encodeURIComponent(receipt.id)}`, { cache: "no-store" });
      if (r.status === 404) return "the platform's relayer lost its receipt (it restarted)";
      if (r.ok) receipt = (await r.json()) as RelayReceipt;
    } catch {
      continue; // the relayer is away for a moment: its receipt is asked again
    }
    if (receipt.status === "included") {
      const carried: Carriage = { via: "relayer", status: "included", hash: receipt.hash, block: receipt.block };
      update(carried);
      return carried;
    }
    if (receipt.status === "skipped") return `the market skipped it in the relayer's batch: ${receipt.reason}`;
    if (receipt.status === "failed") return `the relayer's batch failed: ${receipt.reason}`;
    if (receipt.status === "sent") update({ via: "relayer", status: "sent", hash: receipt.hash });
  }
  if (await action.done()) return { via: "relayer", status: "included", hash: receipt.hash, block: receipt.block };
  throw new StillWithRelayer(
    `The platform's relayer took it (receipt ${receipt.id}) but has not carried it within ${RECEIPT_WAIT_MS / 1000} seconds. Nothing was sent from your account, so it cannot happen twice; look again in a moment.`,
  );
}

/** The prosumer's own transaction; `why` says why the relayer did not carry it (undefined: no relayer). */
async function direct(client: MarketClient, action: Action, why: string | undefined): Promise<Carriage> {
  const s = session.value;
  if (!s) throw new UserError("Sign in first.");
  const because = why && `${why.charAt(0).toUpperCase()}${why.slice(1)}`;
  if (because && (await client.provider.getBalance(s.address)) === 0n) {
    throw new UserError(`${because}. Your account holds no ether to send it itself, so nothing was sent.`);
  }
  try {
    return await sendOwn(client, action.label, action.direct, action.onUpdate, because && `${because}: sent from your own account instead.`);
  } catch (e) {
    if (!because) throw e;
    throw new UserError(`${because}. Sending it from your own account failed too: ${explain(e)}`);
  }
}

/** The account's own transaction (session.ts `send`), its receipt told to `update` as it moves. */
export async function sendOwn(
  client: MarketClient,
  label: string,
  call: (m: EnergyMarket) => Promise<ContractTransactionResponse>,
  update: (c: Carriage) => void = () => undefined,
  fallback?: string,
): Promise<Carriage> {
  const receipt = await send(client, label, call, (hash) => update({ via: "direct", status: "sent", hash, fallback }));
  const c: Carriage = { via: "direct", status: "included", hash: receipt.hash, block: receipt.blockNumber, fallback };
  update(c);
  return c;
}
