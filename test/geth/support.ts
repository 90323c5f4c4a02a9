/**
 * What the tests on real Geth share: a chain from scripts/geth/chain.ts in a temporary directory
 * (stopped and removed afterwards), its `--network privnet` settings as environment, and Hardhat
 * tasks run as the operator would run them.
 */
import { ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Chain, ChainOptions, REPO_ROOT, startChain, stopChain } from "../../scripts/geth/chain";

export { REPO_ROOT };
const run = promisify(execFile);
export const HARDHAT = path.join(REPO_ROOT, "node_modules/hardhat/internal/cli/cli.js");
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fresh chain in a temporary directory; `stop()` stops its nodes and removes the directory. */
export async function testChain(o: Omit<ChainOptions, "dir">): Promise<{ chain: Chain; dir: string; env: NodeJS.ProcessEnv; stop: () => Promise<void> }> {
  const dir = mkdtempSync(path.join(tmpdir(), `geth-${o.engine}-`));
  const chain = await startChain({ ...o, dir: path.join(dir, "chain"), log: () => undefined });
  const env = { ...process.env, ...chain.settings, MARKET_DEPLOYMENT: path.join(dir, "deployment.json") };
  return {
    chain,
    dir,
    env,
    stop: async () => {
      await stopChain(chain.dir).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `npx hardhat ARGS` with `env`; resolves with stdout and stderr, rejects with both on failure. */
export async function hardhat(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 600_000): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run(process.execPath, [HARDHAT, ...args], { cwd: REPO_ROOT, env, timeout: timeoutMs, maxBuffer: 64 << 20 });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`hardhat ${args.join(" ")} failed: ${err.stderr || err.stdout || err.message}`);
  }
}

/** A long-running process in its own process group (kill -9 reaches what it started). */
export function daemon(cmd: string, args: string[], env: NodeJS.ProcessEnv, onLine: (line: string) => void): ChildProcess {
  const child = spawn(cmd, args, { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  for (const stream of [child.stdout!, child.stderr!]) {
    let rest = "";
    stream.on("data", (d: Buffer) => {
      const lines = (rest + d.toString("utf8")).split("\n");
      rest = lines.pop()!;
      lines.forEach(onLine);
    });
  }
  return child;
}

export async function killGroup(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  try {
    process.kill(-child.pid!, signal);
  } catch {
    child.kill(signal);
  }
  await exited;
}
