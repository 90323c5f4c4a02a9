/**
 * A real, separate JSON-RPC node for integration tests: anvil from npm, on a free loopback port.
 */
import { ChildProcess, spawn } from "node:child_process";
import { freePort } from "../../lib/ports";
import path from "node:path";
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

/** An anvil process; `args` add mining, hardfork and state options. */
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

  async start(): Promise<void> {
    this.child = spawn(anvilBinary(), ["--port", String(this.port), "--chain-id", String(ANVIL_CHAIN_ID), "--silent", ...this.args], { stdio: "ignore" });
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

  /** SIGTERM: anvil writes its --state file on the way out. */
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
