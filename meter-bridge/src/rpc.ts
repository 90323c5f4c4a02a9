/**
 * The bridge's way to the chain: one or more JSON-RPC nodes of the same network. Every request
 * goes to the node in use (sending through one); when it does not answer (connection refused,
 * timeout, HTTP error) the request goes on to the next node, which then becomes the node in use
 * (reading through any), and the log says so. A node is asked its chain id before its first use:
 * a node of another chain is a wrong setting, reported to `onWrongChain`, and never used.
 */
import { FetchRequest, JsonRpcError, JsonRpcPayload, JsonRpcProvider, JsonRpcResult, Network } from "ethers";
import { Logger } from "./log";
import { SettingsError } from "./settings";

export interface NodePoolOptions {
  /** longest wait for one node's answer, ms */
  timeoutMs: number;
  /** called when a node answers with another chain id than the config's */
  onWrongChain: (error: SettingsError) => void;
}

type NodeState = "unchecked" | "ok" | "wrong-chain";

export class NodePool extends JsonRpcProvider {
  private inUse = 0;
  private announced = false;
  private readonly states: NodeState[];

  constructor(
    readonly urls: readonly string[],
    readonly chainId: number,
    private readonly log: Logger,
    private readonly options: NodePoolOptions,
  ) {
    if (urls.length === 0) throw new TypeError("at least one node URL is needed");
    // no caching: a block or receipt asked for again must come from the node again (reorganizations)
    super(urls[0], chainId, { staticNetwork: Network.from(chainId), cacheTimeout: -1 });
    this.states = urls.map(() => "unchecked");
  }

  /** The URL of the node requests go to first. */
  get nodeInUse(): string {
    return this.urls[this.inUse];
  }

  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    let lastError: unknown;
    for (let step = 0; step < this.urls.length; step++) {
      const index = (this.inUse + step) % this.urls.length;
      if (this.states[index] === "wrong-chain") continue;
      try {
        if (this.states[index] === "unchecked") await this.checkChainId(index);
        const result = await this.post(index, payload);
        this.use(index, lastError);
        return result;
      } catch (error) {
        lastError = error;
        if (this.urls.length > 1) this.log.debug("node not answering", { node: this.urls[index], error: (error as Error).message });
      }
    }
    throw lastError ?? new SettingsError(`no node of chain ${this.chainId} among ${this.urls.join(", ")}`);
  }

  private use(index: number, failure: unknown): void {
    if (index === this.inUse && this.announced) return;
    const previous = this.urls[this.inUse];
    this.inUse = index;
    this.announced = true;
    if (failure === undefined) this.log.info("using node", { node: this.urls[index] });
    else this.log.warn("using another node", { node: this.urls[index], notAnswering: previous, error: (failure as Error).message });
  }

  private async checkChainId(index: number): Promise<void> {
    const [reply] = (await this.post(index, { method: "eth_chainId", params: [], id: 0, jsonrpc: "2.0" })) as Array<JsonRpcResult | JsonRpcError>;
    if (!("result" in reply)) throw new Error(`eth_chainId failed: ${JSON.stringify(reply.error)}`);
    const actual = Number(BigInt(reply.result as string));
    if (actual === this.chainId) {
      this.states[index] = "ok";
      return;
    }
    this.states[index] = "wrong-chain";
    const error = new SettingsError(`chain id mismatch: the node at ${this.urls[index]} is on chain ${actual}, the config says chainId ${this.chainId}`);
    this.options.onWrongChain(error);
    throw error;
  }

  /** The node's answers; JSON-RPC errors among them are answers too (ethers turns them into errors). */
  private async post(index: number, payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    const request = new FetchRequest(this.urls[index]);
    request.timeout = this.options.timeoutMs;
    request.body = JSON.stringify(payload);
    request.setHeader("content-type", "application/json");
    const response = await request.send();
    response.assertOk();
    const body = response.bodyJson;
    return Array.isArray(body) ? body : [body];
  }
}
