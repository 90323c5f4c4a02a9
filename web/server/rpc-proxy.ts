/**
 * The portal's /rpc: a public JSON-RPC endpoint in front of the chain's node(s). It serves an
 * allowlist (the reads the page and a browser wallet pointed at /rpc make, and raw transactions
 * signed in the browser); anything else, such as `clique_propose` on a sealer, `txpool_*`,
 * `admin_*`, `personal_*` or `eth_sendTransaction`, is refused by name and never reaches the node.
 * A body is at most `maxBodyBytes`, a batch at most `maxBatch` calls, and each client (by address)
 * at most `callsPerMinute` calls a minute (a request costs one, a batch one per call). A batch
 * holding one refused call is refused whole: nothing of it is sent. Refusals are JSON-RPC errors:
 * HTTP 200 for a method off the list (as a node answers an unknown method), 400 for a malformed
 * body or an over-long batch, 413 for an oversized body, 429 over the rate.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { RateLimiter, readBody } from "../../lib/relay-http";
import { RelayRefused } from "../../lib/relay";
import type { NodeList } from "../../lib/rpc";

/**
 * What /rpc serves, and who needs it: the page (web/src through ethers' JsonRpcProvider, which adds
 * the fee and receipt reads of a transaction) and an injected wallet given /rpc as the chain's URL
 * (session.ts `wallet_addEthereumChain`), which also asks for net_version, code, fee history and
 * transactions by hash.
 */
export const SERVED_METHODS: ReadonlySet<string> = new Set([
  "eth_chainId", // the page checks the node's chain at boot; wallets
  "net_version", // wallets
  "eth_blockNumber", // the page follows new blocks (store.ts), waits for receipts
  "eth_getBlockByNumber", // block time for the phase clock; the base fee for a transaction's fees
  "eth_call", // every market read, and each action checked first (staticCall)
  "eth_getLogs", // registry, history, order books, results, the day's energy
  "eth_getBalance", // the account's ether outside the market
  "eth_getTransactionCount", // the nonce of a transaction signed in the page
  "eth_estimateGas", // its gas
  "eth_gasPrice", // its fees (ethers' getFeeData: gas price, priority fee, latest block)
  "eth_maxPriorityFeePerGas",
  "eth_feeHistory", // wallets' fee estimates
  "eth_getCode", // wallets check whether `to` is a contract
  "eth_sendRawTransaction", // a transaction signed in the browser (never by the node)
  "eth_getTransactionReceipt", // waiting for it
  "eth_getTransactionByHash", // wallets and ethers look a sent transaction up
]);

export interface RpcLimits {
  /** Largest request body in bytes (default 128 KiB: a batch of 100 market reads is about 30 KiB). */
  maxBodyBytes?: number;
  /** Most calls in one JSON-RPC batch (default 100, the page's own batch size). */
  maxBatch?: number;
  /** Calls one client may make a minute, a batch counting each of its calls (default 3,000). */
  callsPerMinute?: number;
}

interface Call {
  jsonrpc?: unknown;
  id?: unknown;
  method?: unknown;
}

/** A JSON-RPC error answer (with `id`, or null when the request had none we could read). */
const rpcError = (id: unknown, code: number, message: string) => ({ jsonrpc: "2.0", id: id ?? null, error: { code, message } });

/** JSON-RPC error codes: EIP-1474 and the JSON-RPC 2.0 spec. */
const PARSE_ERROR = -32700;
const INVALID_REQUEST = -32600;
const METHOD_NOT_FOUND = -32601;
const LIMIT_EXCEEDED = -32005;
const SERVER_ERROR = -32000;

function sendRpc(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

/** A refusal: the HTTP status, and the JSON-RPC error body to answer with. */
class Refused extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(JSON.stringify(body));
  }
}

/** The calls of a JSON-RPC body (one call or a batch), or a refusal naming what is wrong. */
export function parseCalls(text: string, maxBatch: number): { calls: Call[]; batch: boolean } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Refused(400, rpcError(null, PARSE_ERROR, "the body is not valid JSON"));
  }
  const batch = Array.isArray(body);
  const calls = (batch ? body : [body]) as unknown[];
  if (batch && calls.length === 0) throw new Refused(400, rpcError(null, INVALID_REQUEST, "an empty batch"));
  if (calls.length > maxBatch) throw new Refused(400, rpcError(null, INVALID_REQUEST, `a batch of ${calls.length} calls; the portal takes at most ${maxBatch} in one request`));
  for (const c of calls) {
    if (typeof c !== "object" || c === null || Array.isArray(c) || typeof (c as Call).method !== "string") {
      throw new Refused(400, rpcError((c as Call)?.id, INVALID_REQUEST, "each call must be a JSON object with a string `method`"));
    }
  }
  return { calls: calls as Call[], batch };
}

/** A batch with a method off the list is refused whole: each call gets an error naming the refused method(s). */
function refuseOffList(calls: Call[], batch: boolean): void {
  const off = calls.filter((c) => !SERVED_METHODS.has(c.method as string));
  if (off.length === 0) return;
  const named = [...new Set(off.map((c) => c.method as string))].join(", ");
  const answers = calls.map((c) =>
    SERVED_METHODS.has(c.method as string)
      ? rpcError(c.id, METHOD_NOT_FOUND, `not sent: the same batch asks for ${named}, which the portal does not serve`)
      : rpcError(c.id, METHOD_NOT_FOUND, `${c.method as string} is not served by the portal (it serves chain reads and eth_sendRawTransaction only)`),
  );
  throw new Refused(200, batch ? answers : answers[0]);
}

/** The /rpc handler over `nodes`; `log` hears each refusal and node failure in one line. */
export function rpcProxy(nodes: NodeList, limits: RpcLimits = {}, log: (line: string) => void = () => undefined) {
  const maxBody = limits.maxBodyBytes ?? 128 * 1024;
  const maxBatch = limits.maxBatch ?? 100;
  const limiter = new RateLimiter(limits.callsPerMinute ?? 3000);
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const client = req.socket.remoteAddress ?? "unknown";
    const tooMany = (id: unknown) => new Refused(429, rpcError(id, LIMIT_EXCEEDED, "too many calls from this client: try again in a minute"));
    try {
      // every request costs a call, read or not; a batch's further calls once it is read
      if (!limiter.take(client)) throw tooMany(null);
      let text: string;
      try {
        text = await readBody(req, maxBody);
      } catch (e) {
        if (RelayRefused.is(e)) throw new Refused(413, rpcError(null, INVALID_REQUEST, e.message));
        throw e;
      }
      const { calls, batch } = parseCalls(text, maxBatch);
      refuseOffList(calls, batch);
      if (calls.length > 1 && !limiter.take(client, calls.length - 1)) throw tooMany(null);
      sendRpc(res, 200, await nodes.post(text));
    } catch (e) {
      if (e instanceof Refused) {
        const first = [(e.body as unknown[]) ?? []].flat()[0] as { error?: { message?: string } };
        log(`portal: /rpc refused a request from ${client}: ${first?.error?.message}`);
        return sendRpc(res, e.status, e.body);
      }
      sendRpc(res, 502, rpcError(null, SERVER_ERROR, `node unreachable: ${(e as Error).message}`));
    }
  };
}
