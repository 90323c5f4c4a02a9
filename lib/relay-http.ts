/**
 * The relayer's HTTP face, for the portal's server and cycle:run:
 *   POST /relay/{commit,reveal,reading,registration,acceptance,withdrawal}  a JSON message → 202 and its receipt
 *   GET  /relay/receipt/<id>                                                → 200 and the receipt, 404 if unknown
 * Bodies are JSON objects of at most `maxBodyBytes`; each client (by address) may submit `ratePerMinute`
 * messages a minute. Every refusal is a 4xx with `{ "error": "<one line>" }` and changes nothing.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { RELAY_KINDS, RelayKind, RelayRefused, Relayer } from "./relay";

export interface RelayHttpOptions {
  /** Largest request body (default 16 KiB: a message is a few hundred bytes). */
  maxBodyBytes?: number;
  /** Messages one client may submit per minute (default 120). */
  ratePerMinute?: number;
}

/** A token bucket per client: `perMinute` tokens a minute, at most `perMinute` at once (the portal's /rpc limits calls with it too). */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly perMinute: number) {}

  /** Take `cost` tokens for `client`; false (and none taken) when it has fewer left. */
  take(client: string, cost = 1, now = Date.now()): boolean {
    const b = this.buckets.get(client) ?? { tokens: this.perMinute, at: now };
    b.tokens = Math.min(this.perMinute, b.tokens + ((now - b.at) / 60_000) * this.perMinute);
    b.at = now;
    this.buckets.set(client, b);
    if (this.buckets.size > 10_000) this.forgetFull(now);
    if (b.tokens < cost) return false;
    b.tokens -= cost;
    return true;
  }

  private forgetFull(now: number) {
    for (const [k, b] of this.buckets) if (b.tokens + ((now - b.at) / 60_000) * this.perMinute >= this.perMinute) this.buckets.delete(k);
  }
}

/** Read a request body of at most `limit` bytes; a longer one is refused with 413 without reading the rest. */
export async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) throw new RelayRefused(413, `the body is ${declared} bytes; at most ${limit} are taken`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new RelayRefused(413, `the body is over ${limit} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export function sendJson(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify(body, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
}

/**
 * A request handler for /relay/...: returns false for other paths (the caller serves them).
 */
export function relayHandler(relayer: Relayer, o: RelayHttpOptions = {}) {
  const maxBody = o.maxBodyBytes ?? 16 * 1024;
  const limiter = new RateLimiter(o.ratePerMinute ?? 120);
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? "/", "http://relay");
    const m = /\/relay\/(?:receipt\/([\w-]+)|(\w+))$/.exec(url.pathname);
    if (!m) return false;
    try {
      if (m[1] !== undefined) {
        if (req.method !== "GET") throw new RelayRefused(400, "receipts are read with GET");
        const receipt = relayer.receipt(m[1]);
        if (!receipt) return void sendJson(res, 404, { error: `no receipt ${m[1]}` }), true;
        return void sendJson(res, 200, receipt), true;
      }
      if (req.method !== "POST") throw new RelayRefused(400, "messages are submitted with POST");
      const kind = m[2] as RelayKind;
      if (!RELAY_KINDS.includes(kind)) throw new RelayRefused(400, `unknown message kind ${JSON.stringify(kind)}: expected one of ${RELAY_KINDS.join(", ")}`);
      if (!String(req.headers["content-type"] ?? "").startsWith("application/json")) throw new RelayRefused(400, "the body must be JSON (content-type: application/json)");
      if (!limiter.take(req.socket.remoteAddress ?? "unknown")) throw new RelayRefused(429, "too many messages from this client: try again in a minute");
      const text = await readBody(req, maxBody);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new RelayRefused(400, "the body is not valid JSON");
      }
      if (typeof body !== "object" || body === null || Array.isArray(body)) throw new RelayRefused(400, "the body must be one JSON object (one message)");
      sendJson(res, 202, await relayer.submit(kind, body));
    } catch (e) {
      if (RelayRefused.is(e)) sendJson(res, e.status, { error: e.message });
      else sendJson(res, 502, { error: `the relayer could not check the message: ${String((e as Error).message ?? e).split("\n")[0]}` });
    }
    return true;
  };
}
