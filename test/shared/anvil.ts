/**
 * A real, separate JSON-RPC node for integration tests: anvil from npm, on a free loopback port.
 */
import { ChildProcess, spawn } from "node:child_process";
import { existsSync, renameSync, writeFileSync } from "node:fs";
import { freePort } from "../../lib/ports";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { JsonRpcProvider, Network } from "ethers";

export const ANVIL_CHAIN_ID = 31337;

/** The anvil binary itself (not the npm wrapper), so a signal reaches the node. */
export function anvilBinary(): string {
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  try {
    return require.resolve(`@foundry-rs/anvil-${process.platform}-${arch}/bin/anvil`);
  } catch {
    return path.resolve("node_modules/.bin/anvil");
  }
}

export { freePort };

export const rpcProvider = (url: string) => new JsonRpcProvider(url, Network.from(ANVIL_CHAIN_ID), { staticNetwork: true });
export const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * An anvil process; `args` add mining, hardfork and state options. `--state <file>` keeps the chain
 * across a stop and start, written by this class rather than by anvil's own dump at exit, which
 * can be cut short (a half-written state file was seen in CI): see `stop`.
 */
export class Anvil {
  private child?: ChildProcess;
  readonly url: string;
  constructor(
    readonly port: number,
    private readonly args: string[],
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  static async start(args: string[], port?: number): Promise<Anvil> {
    const a = new Anvil(port ?? (await freePort()), args);
    await a.start();
    return a;
  }

  /** the file of `--state <file>` in the arguments, if any */
  private get stateFile(): string | undefined {
    const at = this.args.indexOf("--state");
    return at < 0 ? undefined : this.args[at + 1];
  }

  async start(): Promise<void> {
    const state = this.stateFile;
    const args = state === undefined ? this.args : this.args.filter((arg, i, all) => arg !== "--state" && all[i - 1] !== "--state");
    if (state !== undefined && existsSync(state)) args.push("--load-state", state);
    this.child = spawn(anvilBinary(), ["--port", String(this.port), "--chain-id", String(ANVIL_CHAIN_ID), "--silent", ...args], { stdio: "ignore" });
    const probe = rpcProvider(this.url);
    try {
      for (const until = Date.now() + 15_000; ; await delay(100)) {
        try {
          await probe.getBlockNumber();
          return;
        } catch (e) {
          if (Date.now() > until) throw e;
        }
      }
    } finally {
      probe.destroy();
    }
  }

  /**
   * SIGTERM. With `--state`, mining stops first, then the chain is taken over RPC (anvil_dumpState:
   * gzipped JSON, what --load-state reads) and written whole to a temporary file renamed into place;
   * pending transactions are not part of it, as when a node goes down.
   */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const state = this.stateFile;
    if (state !== undefined) await this.saveState(state);
    await new Promise((resolve) => {
      child.once("exit", resolve);
      child.kill("SIGTERM");
    });
  }

  private async saveState(file: string): Promise<void> {
    const provider = rpcProvider(this.url);
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
