/** The bridge daemon as a child process (`meter-bridge run`), its JSON logs collected to a file. */
import { ChildProcess, spawn } from "node:child_process";
import { appendFileSync, readFileSync, existsSync } from "node:fs";
import { CLI } from "./paths";

export interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

export class BridgeProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> = Promise.resolve(null);

  constructor(
    readonly configFile: string,
    readonly logFile: string,
  ) {}

  start(): void {
    const child = spawn(process.execPath, [CLI, "run", "--config", this.configFile], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (chunk: Buffer) => appendFileSync(this.logFile, chunk));
    child.stderr!.on("data", (chunk: Buffer) => appendFileSync(this.logFile, chunk));
    this.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    this.child = child;
  }

  /** kill -9: no chance to clean up. */
  async kill(): Promise<void> {
    this.child?.kill("SIGKILL");
    await this.exited;
    this.child = undefined;
  }

  /** SIGTERM; resolves with the exit code. */
  async stop(): Promise<number | null> {
    this.child?.kill("SIGTERM");
    const code = await this.exited;
    this.child = undefined;
    return code;
  }

  logs(): LogLine[] {
    if (!existsSync(this.logFile)) return [];
    return readFileSync(this.logFile, "utf8")
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as LogLine);
  }
}
