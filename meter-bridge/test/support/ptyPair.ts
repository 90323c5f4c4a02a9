/**
 * A pseudo-terminal pair for end-to-end tests: socat where installed, else the python3
 * standard-library relay in scripts/pty-relay.py.
 */
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PACKAGE_ROOT } from "./paths";

export interface PtyPair {
  /** path of one end (give it to the bridge) */
  a: string;
  /** path of the other end (give it to the simulator) */
  b: string;
  tool: PtyTool;
  stop(): Promise<void>;
}

const RELAY = path.join(PACKAGE_ROOT, "scripts/pty-relay.py");

export type PtyTool = "socat" | "python";

export function hasSocat(): boolean {
  return spawnSync("socat", ["-V"], { stdio: "ignore" }).status === 0;
}

/** Starts a pair with `tool`; default socat when installed, else the python relay. */
export async function startPtyPair(tool: PtyTool = hasSocat() ? "socat" : "python"): Promise<PtyPair> {
  const dir = mkdtempSync(path.join(tmpdir(), "meter-bridge-pty-"));
  const a = path.join(dir, "bridge");
  const b = path.join(dir, "meters");
  const child =
    tool === "socat"
      ? spawn("socat", [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: "ignore" })
      : spawn("python3", [RELAY, a, b], { stdio: ["ignore", "pipe", "inherit"] });
  await waitFor(() => existsSync(a) && existsSync(b), 5000, `${tool} did not create the pty pair`);
  return { a, b, tool, stop: () => stopChild(child) };
}

async function waitFor(condition: () => boolean, timeoutMs: number, message: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(message);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}
