/**
 * Several nodes of one chain behind one JSON-RPC endpoint: every call goes to the node in use
 * (sending and reading through one node keeps a transaction and its receipt on the same node);
 * when that node does not answer, the next one that does becomes the node in use, and the switch
 * is logged. The tasks (through Hardhat's provider), the cycle daemon and the portal's /rpc proxy
 * all go through this, so each keeps working while at least one node answers.
 *
 * A node that answers with a JSON-RPC error answered: the error is passed on (a revert is not a
 * reason to switch). Only no answer at all (refused, reset, timed out, HTTP 5xx) is.
 */
import { EventEmitter } from "node:events";
import { JsonRpcApiProvider, JsonRpcPayload, JsonRpcResult, Network } from "ethers";

export interface NodeListOptions {
  /** Per-call timeout before trying the next node (default 10 s). */
  timeoutMs?: number;
  /** Told which node is in use: at the first call and at every switch. */
  log?: (e: { event: "node-in-use" | "node-switch" | "nodes-unreachable"; node: string; from?: string; error?: string }) => void;
}

/** Parse "url1,url2 url3" (commas or spaces) into a list, refusing anything but http(s) URLs. */
export function parseRpcUrls(text: string): string[] {
  const urls = text.split(/[\s,]+/).filter(Boolean);
  if (urls.length === 0) throw new Error("no RPC URL given");
  for (const u of urls) if (!/^https?:\/\/[^\s]+$/.test(u)) throw new Error(`not an http(s) RPC URL: ${JSON.stringify(u)}`);
  return urls;
}

/** The privnet nodes from the environment: PRIVNET_RPC_URLS, else PRIVNET_RPC_URL, else node 1 of the old start scripts. */
export function privnetRpcUrls(env: Record<string, string | undefined> = process.env): string[] {
  return parseRpcUrls(env.PRIVNET_RPC_URLS || env.PRIVNET_RPC_URL || "http://127.0.0.1:8545");
}

/** An error that lib/sender.ts isUnreachable() takes for "no node answers": retried with backoff. */
export class NodesUnreachable extends Error {
  readonly code = "NETWORK_ERROR";
  constructor(detail: string) {
    super(`no node answers (fetch failed): ${detail}`);
  }
}

export class NodeList {
  private current = 0;
  private announced = false;
  private readonly timeoutMs: number;

  constructor(
    readonly urls: string[],
    private readonly o: NodeListOptions = {},
  ) {
    if (urls.length === 0) throw new Error("NodeList needs at least one RPC URL");
    this.timeoutMs = o.timeoutMs ?? 10_000;
  }

  /** The URL of the node in use. */
  get inUse(): string {
    return this.urls[this.current];
  }

  /** POST a JSON-RPC body (one call or a batch) and return the parsed answer of the first node that answers. */
  async post(body: string): Promise<unknown> {
    const errors: string[] = [];
    for (let k = 0; k < this.urls.length; k++) {
      const i = (this.current + k) % this.urls.length;
      try {
        const res = await fetch(this.urls[i], { method: "POST", headers: { "content-type": "application/json" }, body, signal: AbortSignal.timeout(this.timeoutMs) });
        if (res.status >= 500) throw new Error(`HTTP ${res.status}`);
        const answer = await res.json();
        this.use(i, errors.at(-1));
        return answer;
      } catch (e) {
        errors.push(`${this.urls[i]}: ${causeOf(e)}`);
      }
    }
    this.o.log?.({ event: "nodes-unreachable", node: this.inUse, error: errors.join("; ") });
    throw new NodesUnreachable(errors.join("; "));
  }

  /** One call; a JSON-RPC error is thrown with its code, message and data. */
  async request<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    const answer = (await this.post(JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }))) as { result?: T; error?: { code: number; message: string; data?: unknown } };
    if (answer.error) throw Object.assign(new Error(answer.error.message), { code: answer.error.code, data: answer.error.data, error: answer.error });
    return answer.result as T;
  }

  private use(i: number, error: string | undefined): void {
    if (i === this.current && this.announced) return;
    const from = this.announced ? this.urls[this.current] : undefined;
    this.current = i;
    this.announced = true;
    this.o.log?.(from ? { event: "node-switch", node: this.urls[i], from, error } : { event: "node-in-use", node: this.urls[i] });
  }
}

/** An ethers provider over a NodeList (no response cache: a receipt polled before mining is not served stale). */
export class FailoverProvider extends JsonRpcApiProvider {
  constructor(
    readonly nodes: NodeList,
    chainId: number | bigint,
  ) {
    super(Network.from(chainId), { staticNetwork: Network.from(chainId), cacheTimeout: -1, batchMaxCount: 1 });
  }

  async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    const answer = await this.nodes.post(JSON.stringify(payload));
    return [answer].flat() as JsonRpcResult[];
  }
}

/**
 * Hardhat's EIP-1193 provider for a network with several URLs: calls that need the node's own
 * accounts stay with Hardhat's provider (there are none on privnet: keys sign locally), every
 * other call goes through the node list.
 */
export class FailoverEip1193 extends EventEmitter {
  private static readonly LOCAL = /^(eth_accounts|eth_requestAccounts|eth_sendTransaction|eth_sign|eth_signTransaction|eth_signTypedData.*|personal_sign)$/;

  constructor(
    private readonly inner: { request(a: { method: string; params?: unknown[] | object }): Promise<unknown> },
    private readonly nodes: NodeList,
  ) {
    super();
  }

  request(a: { method: string; params?: unknown[] | object }): Promise<unknown> {
    if (FailoverEip1193.LOCAL.test(a.method)) return this.inner.request(a);
    return this.nodes.request(a.method, (a.params as unknown[]) ?? []);
  }

}

function causeOf(e: unknown): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err?.name === "TimeoutError") return "timed out";
  return err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(e);
}
