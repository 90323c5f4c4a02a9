/** An anvil node in its own process, whose state survives a stop and start. */
import { ChildProcess, spawn } from "node:child_process";
import { existsSync, renameSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { JsonRpcProvider } from "ethers";
import { REPO_ROOT } from "./paths";

const ANVIL = path.join(REPO_ROOT, "node_modules/.bin/anvil");
export const CHAIN_ID = 31337;
/** anvil's first dev account (well known; only for local test chains) */
export const DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/** anvil's second dev account: someone else than the operator (clearing and settlement are open to anyone) */
export const SECOND_DEV_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

/** ports this process chose already: several are often chosen before the first is listened on */
const handedOut = new Set<number>();

/**
 * A free TCP port below Linux's ephemeral range (32768-60999), where the tests' own outgoing
 * connections take their local ports: a node restarted on its port later (a failover test stops
 * one and starts another on a port chosen earlier) cannot find it held by one of them.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (!handedOut.has(port) && (await canListen(port))) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error("no free port found between 20000 and 32000");
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

export interface AnvilOptions {
  port: number;
  /** state file: loaded at start when present, written (whole, then renamed into place) at stop */
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
    // --load-state, not --state: anvil's own dump at exit can be cut short (a truncated file seen in CI)
    if (stateFile && existsSync(stateFile)) args.push("--load-state", stateFile);
    if (blockTime) args.push("--block-time", String(blockTime));
    const child = spawn(ANVIL, args, { stdio: ["ignore", "ignore", "pipe"] });
    this.child = child;
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    const provider = new JsonRpcProvider(this.url, chainId, { staticNetwork: true });
    try {
      for (const until = Date.now() + 15_000; ; ) {
        try {
          await provider.getBlockNumber();
          return;
        } catch (error) {
          const exited = child.exitCode !== null ? `; it exited with code ${child.exitCode}: ${stderr.trim() || "(nothing on stderr)"}` : "";
          if (exited || Date.now() > until) throw new Error(`anvil did not start on port ${port}: ${(error as Error).message}${exited}`);
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

  /**
   * Stops the node. With a state file, mining stops first, then the state is taken over RPC
   * (anvil_dumpState: gzipped JSON, the format --load-state reads) and written to a temporary
   * file renamed into place, so a later start never reads half a file; transactions still pending
   * are lost, as they are when a node goes down.
   */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    if (this.options.stateFile) await this.saveState(this.options.stateFile);
    await new Promise((resolve) => {
      child.once("exit", resolve);
      child.kill("SIGTERM");
    });
  }

  private async saveState(file: string): Promise<void> {
    const provider = new JsonRpcProvider(this.url, this.options.chainId ?? CHAIN_ID, { staticNetwork: true });
    try {
      await provider.send("evm_setIntervalMining", [0]);
      await provider.send("evm_setAutomine", [false]);
      const dump: string = await provider.send("anvil_dumpState", []);
      writeFileSync(`${file}.tmp`, gunzipSync(Buffer.from(dump.slice(2), "hex")));
      renameSync(`${file}.tmp`, file);
    } finally {
      provider.destroy();
    }
  }
}
