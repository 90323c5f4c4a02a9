/** An anvil node in its own process, whose state survives a stop and start (--state). */
import { ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";
import { JsonRpcProvider } from "ethers";
import { REPO_ROOT } from "./paths";

const ANVIL = path.join(REPO_ROOT, "node_modules/.bin/anvil");
export const CHAIN_ID = 31337;
/** anvil's first dev account (well known; only for local test chains) */
export const DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/** anvil's second dev account: someone else than the operator (clearing and settlement are open to anyone) */
export const SECOND_DEV_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

export interface AnvilOptions {
  port: number;
  /** state file: loaded at start when present, written at stop */
  stateFile?: string;
  /** seconds per block; automine when absent */
  blockTime?: number;
  /** the chain's rules; london (the target Geth chains) when absent */
  hardfork?: "london" | "berlin";
  /** chain id; CHAIN_ID when absent */
  chainId?: number;
}

export class Anvil {
  private child: ChildProcess | undefined;
  constructor(readonly options: AnvilOptions) {}

  get url(): string {
    return `http://127.0.0.1:${this.options.port}`;
  }

  async start(): Promise<void> {
    const { port, stateFile, blockTime } = this.options;
    const chainId = this.options.chainId ?? CHAIN_ID;
    const args = ["--port", String(port), "--hardfork", this.options.hardfork ?? "london", "--chain-id", String(chainId), "--silent"];
    if (stateFile) args.push("--state", stateFile);
    if (blockTime) args.push("--block-time", String(blockTime));
    this.child = spawn(ANVIL, args, { stdio: "ignore" });
    const provider = new JsonRpcProvider(this.url, chainId, { staticNetwork: true });
    try {
      for (const until = Date.now() + 15_000; ; ) {
        try {
          await provider.getBlockNumber();
          return;
        } catch (error) {
          if (Date.now() > until) throw new Error(`anvil did not start on port ${port}: ${(error as Error).message}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    } finally {
      provider.destroy();
    }
  }

  /**
   * Mines a block every `seconds` from now on instead of one per transaction (as --block-time does,
   * also after a restart): a test deploys in automine mode, quickly, then runs on timed blocks.
   */
  async mineEvery(seconds: number): Promise<void> {
    const provider = new JsonRpcProvider(this.url, this.options.chainId ?? CHAIN_ID, { staticNetwork: true });
    try {
      await provider.send("evm_setIntervalMining", [seconds]);
      if (await provider.send("anvil_getAutomine", [])) throw new Error("anvil still mines each transaction");
    } finally {
      provider.destroy();
    }
    this.options.blockTime = seconds;
  }

  /** Stops the node with SIGTERM, so it writes its state file. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise((resolve) => {
      child.once("exit", resolve);
      child.kill("SIGTERM");
    });
  }
}
