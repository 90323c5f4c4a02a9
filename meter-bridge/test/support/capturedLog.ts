/** A logger for tests: keeps its lines, and lets a test wait for the next matching one. */
import { Fields, Level, Logger } from "../../src/log";

export interface Line extends Fields {
  level: Level;
  msg: string;
}

/** A logger that keeps its lines and lets the test wait, in step with the poster, for the next matching one. */
export class CapturedLog implements Logger {
  readonly lines: Line[] = [];

  constructor(private readonly timeoutMs = 5000) {}

  private waiters: Array<{ match: (line: Line) => boolean; resolve: (line: Line) => void }> = [];
  debug = (msg: string, fields?: Fields) => this.write("debug", msg, fields);
  info = (msg: string, fields?: Fields) => this.write("info", msg, fields);
  warn = (msg: string, fields?: Fields) => this.write("warn", msg, fields);
  error = (msg: string, fields?: Fields) => this.write("error", msg, fields);

  private write(level: Level, msg: string, fields: Fields = {}): void {
    const line: Line = { level, msg, ...fields };
    this.lines.push(line);
    if (process.env.METER_BRIDGE_TEST_LOG) process.stderr.write(`${JSON.stringify(line, (_key, value: unknown) => (typeof value === "bigint" ? String(value) : value))}\n`); // to follow a test as it runs
    for (const waiter of [...this.waiters]) {
      if (!waiter.match(line)) continue;
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve(line);
    }
  }

  /** The next line (from now on) that matches. */
  next(match: (line: Line) => boolean, what: string): Promise<Line> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter.match !== match);
        reject(new Error(`timed out waiting for the log line: ${what}; the code logged ${JSON.stringify(this.lines)}`));
      }, this.timeoutMs);
      this.waiters.push({ match, resolve: (line) => (clearTimeout(timer), resolve(line)) });
    });
  }

  /** Lines with message `msg`. */
  find(msg: string): Line[] {
    return this.lines.filter((line) => line.msg === msg);
  }
}
