/**
 * One port of the gateway: opened at start (and again whenever it was lost), polled one meter at
 * a time. At each boundary it reads every meter still without a reading for the interval that
 * ended; a boundary it could not read in time (the gateway was down, the port was gone, the
 * meter was silent) is taken from the meter's own records while the market still waits for it;
 * and it keeps the meters' clocks in step.
 */
import type { SerialPort } from "serialport";
import { MeterBus, MeterError } from "./bus";
import { MarketTiming, boundaryMs, lastBoundary } from "./clock";
import { DI, kWhToWh, toHex } from "./codec";
import { PortConfig } from "./config";
import { Journal } from "./journal";
import { closeSerialPort, openSerialPort } from "./line";
import { Logger } from "./log";
import { BROADCAST_CORRECTION_LIMIT_SECONDS, TimeSyncSettings, broadcastTime, dailySyncDue, inMidnightGuard, localDay, readClockOffset } from "./meterClock";
import { InvalidFrame } from "./parser";
import { readRecordAt } from "./recovery";
import { SettingsError } from "./settings";

export interface ReaderOptions {
  /** how late after a boundary a live read may still start, ms */
  maxReadDelayMs: number;
  timeSync: TimeSyncSettings;
  /** host clock; default Date.now */
  now?: () => number;
}

export class PortReader {
  private port: SerialPort | undefined;
  private bus: MeterBus | undefined;
  private readonly now: () => number;
  /** a broadcast time is owed since start (postponed when the start fell near midnight) */
  private startSyncPending: boolean;
  private lastSyncDay: string | undefined;
  /** per meter, the newest interval already reported as lost for good */
  private readonly reportedLost = new Map<string, number>();
  /** why the port could not be opened, last time it was tried */
  private openError: string | undefined;
  /** the clock keeping in progress */
  private clockKeeping: Promise<void> | undefined;
  /** a read round is in progress */
  private inRound = false;

  constructor(
    private readonly config: PortConfig,
    private readonly timing: MarketTiming,
    private readonly journal: Journal,
    private readonly log: Logger,
    private readonly journaled: (meter: string) => void,
    private readonly options: ReaderOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.startSyncPending = options.timeSync.enabled;
  }

  get path(): string {
    return this.config.path;
  }

  /** Whether a read round is in progress (its readings are still being journaled). */
  get reading(): boolean {
    return this.inRound;
  }

  /**
   * Opens the port at start. A port that cannot be opened is a loud error; with `require` it
   * stops the bridge (SettingsError), otherwise its meters are read as soon as it appears. (The
   * start's time broadcast waits for the first round: a boundary read comes first.)
   */
  async start(require: boolean): Promise<void> {
    await this.openBus(require ? "required" : "start");
  }

  /** Reads, for boundary `k`, the interval that ended there, and any earlier one still owed. */
  async round(k: number): Promise<void> {
    this.inRound = true;
    try {
      await this.readRound(k);
    } finally {
      this.inRound = false;
    }
  }

  private async readRound(k: number): Promise<void> {
    const interval = k - 1;
    const owed = this.config.meters.map(({ address }) => ({ address, intervals: this.owed(address, interval) })).filter((meter) => meter.intervals.length > 0);
    if (owed.length === 0) return;
    const bus = await this.openBus("round");
    if (!bus) {
      this.log.error("readings missed: port unavailable", { port: this.config.path, interval, meters: owed.map((meter) => meter.address), error: this.openError });
      return;
    }
    // meters owing only this boundary first, while a live read is still in time; then the ones with
    // gaps, each oldest first (the market takes a meter's readings in interval order)
    const ordered = [...owed.filter((meter) => meter.intervals.length === 1), ...owed.filter((meter) => meter.intervals.length > 1)];
    for (const meter of ordered) {
      for (const owedInterval of meter.intervals) await this.readBoundary(bus, meter.address, owedInterval, owedInterval === interval);
    }
  }

  /**
   * Reads the clocks and broadcasts the time when the start's or the day's broadcast is due. Its
   * requests share the line with the rounds' (one at a time), so a boundary read waits for one
   * request at most, never for the whole round of clocks.
   */
  keepClocksIfDue(): Promise<void> {
    const now = this.now();
    const due = this.options.timeSync.enabled && !inMidnightGuard(now) && (this.startSyncPending || dailySyncDue(this.options.timeSync, now, this.lastSyncDay));
    if (!due || !this.bus || this.clockKeeping) return this.clockKeeping ?? Promise.resolve();
    const bus = this.bus;
    this.clockKeeping = this.keepClocks(bus, this.startSyncPending ? "start" : "daily")
      .catch((error: unknown) => {
        if (!(error instanceof MeterError && error.code === "closed")) throw error;
      })
      .finally(() => (this.clockKeeping = undefined));
    return this.clockKeeping;
  }

  async close(): Promise<void> {
    this.bus?.close();
    await this.clockKeeping;
    this.port?.removeAllListeners("close"); // a close we asked for is no warning
    if (this.port) await closeSerialPort(this.port);
  }

  /**
   * Intervals up to `interval` meter `address` still owes, oldest first: after its newest journaled
   * reading, those whose reading the market still waits for, and `interval` itself. A meter with no
   * reading yet owes only `interval`. The ones the market no longer waits for are reported once.
   */
  private owed(address: string, interval: number): number[] {
    const last = this.journal.lastInterval(address);
    if (last !== undefined && last >= interval) return [];
    if (last === undefined) return [interval];
    const waited = Math.min(interval, Math.max(last + 1, this.oldestWaitedFor()));
    if (waited > last + 1) this.reportLost(address, last + 1, "the market no longer waits for it (its grace period has passed)", waited - 1);
    return Array.from({ length: interval - waited + 1 }, (_, i) => waited + i);
  }

  /** The oldest interval whose reading the market still waits for: it settles one without a reading only after its grace period. */
  private oldestWaitedFor(): number {
    const { settleOffsetSeconds, readingGraceSeconds, intervalSeconds } = this.timing;
    const waitSeconds = settleOffsetSeconds !== undefined && readingGraceSeconds !== undefined ? settleOffsetSeconds + readingGraceSeconds : intervalSeconds;
    return lastBoundary(this.timing, this.now() - waitSeconds * 1000);
  }

  /**
   * Takes meter `address`'s reading for `interval`: read live when `current` and still in time,
   * else from the meter's records of the boundary.
   */
  private async readBoundary(bus: MeterBus, address: string, interval: number, current: boolean): Promise<void> {
    const boundary = boundaryMs(this.timing, interval + 1);
    const lateMs = this.now() - boundary;
    try {
      if (current && lateMs <= this.options.maxReadDelayMs) {
        const importWh = kWhToWh((await bus.read(address, DI.FORWARD_ACTIVE_ENERGY)).value);
        const exportWh = kWhToWh((await bus.read(address, DI.REVERSE_ACTIVE_ENERGY)).value);
        this.journalReading(address, interval, importWh, exportWh, {});
        return;
      }
      const lookup = await readRecordAt(bus, address, boundary);
      if ("none" in lookup) {
        const why = current ? `too late to read at the boundary (${Math.round(lateMs / 1000)} s after it)` : "the boundary was not read in time";
        this.reportLost(address, interval, `${why} and the meter has no record for it: ${lookup.none}`);
        return;
      }
      const { importWh, exportWh, source, recordTime } = lookup.found;
      this.log.info("reading recovered from the meter's record", { meter: address, interval, source, recordTime, importWh, exportWh });
      this.journalReading(address, interval, importWh, exportWh, { source });
    } catch (error) {
      if (!(error instanceof MeterError)) throw error;
      this.log.warn("reading missed", { port: this.config.path, meter: address, interval, code: error.code, error: error.message });
    }
  }

  private journalReading(meter: string, interval: number, importWh: bigint, exportWh: bigint, extra: { source?: "load-record" | "hourly-freeze" }): void {
    if (!this.journal.addReading({ meter, interval, importWh: importWh.toString(), exportWh: exportWh.toString(), readAt: new Date(this.now()).toISOString(), ...extra })) return;
    this.log.info("reading journaled", { meter, interval, importWh, exportWh, ...extra });
    this.journaled(meter);
  }

  /** Logs once that meter `meter`'s reading of `interval` (through `through`) is lost for good. */
  private reportLost(meter: string, interval: number, reason: string, through = interval): void {
    if ((this.reportedLost.get(meter) ?? -1) >= interval) return;
    this.reportedLost.set(meter, through);
    this.log.warn("reading missed", { port: this.config.path, meter, interval, ...(through > interval ? { through } : {}), reason });
  }


  /** Reads the meters' clocks, broadcasts the time, and reads again the clocks that were off. */
  private async keepClocks(bus: MeterBus, reason: "start" | "daily"): Promise<void> {
    const before = new Map<string, number>();
    for (const { address } of this.config.meters) {
      const offsetMs = await this.clockOffset(bus, address, "meter clock");
      if (offsetMs !== undefined) before.set(address, offsetMs);
    }
    const sent = await broadcastTime(bus, this.now);
    this.startSyncPending = false;
    this.lastSyncDay = localDay(sent);
    this.log.info("time broadcast", { port: this.config.path, reason, sent: new Date(sent).toISOString() });
    for (const [address, offsetMs] of before) {
      if (Math.abs(offsetMs) <= 1000) continue;
      const after = await this.clockOffset(bus, address, "meter clock after the broadcast");
      if (after === undefined) continue;
      const seconds = Math.round(after / 100) / 10;
      if (Math.abs(seconds) > BROADCAST_CORRECTION_LIMIT_SECONDS) {
        this.log.error("meter clock off by more than a broadcast time may correct: set it on site", { port: this.config.path, meter: address, offsetSeconds: seconds, limitSeconds: BROADCAST_CORRECTION_LIMIT_SECONDS });
      } else if (Math.abs(seconds) > this.options.timeSync.warnSeconds) {
        this.log.warn("meter clock off", { port: this.config.path, meter: address, offsetSeconds: seconds, warnSeconds: this.options.timeSync.warnSeconds });
      }
    }
  }

  /** A meter's clock offset, logged; undefined when it cannot be read. */
  private async clockOffset(bus: MeterBus, address: string, msg: string): Promise<number | undefined> {
    try {
      const offsetMs = await readClockOffset(bus, address, this.now);
      const offsetSeconds = Math.round(offsetMs / 100) / 10;
      const level = Math.abs(offsetSeconds) > this.options.timeSync.warnSeconds ? "warn" : "info";
      this.log[level](msg, { port: this.config.path, meter: address, offsetSeconds });
      return offsetMs;
    } catch (error) {
      if (!(error instanceof MeterError) || error.code === "closed") throw error;
      this.log.warn("cannot read the meter's clock", { port: this.config.path, meter: address, code: error.code, error: error.message });
      return undefined;
    }
  }

  /** The bus of the port, opening the port when needed; undefined (after a loud error) when it cannot be opened. */
  private async openBus(when: "required" | "start" | "round"): Promise<MeterBus | undefined> {
    if (this.bus && this.port?.isOpen) return this.bus;
    const meters = this.config.meters.map((meter) => meter.address);
    try {
      const port = await openSerialPort(this.config.path, this.config.line);
      port.on("error", (error) => this.log.error("port error", { port: this.config.path, error: error.message }));
      port.on("close", () => this.log.warn("port closed", { port: this.config.path }));
      const probeDeadBy = (now: number) => boundaryMs(this.timing, lastBoundary(this.timing, now) + 1);
      const bus = new MeterBus(port, { ...this.config.bus, line: this.config.line, probeDeadBy });
      bus.on("invalid", (invalid: InvalidFrame) => this.log.warn("corrupt frame on the line", { port: this.config.path, reason: invalid.reason, bytes: toHex(invalid.bytes) }));
      bus.on("dead", (meter: string, until: number) => this.log.warn("meter not answering, marked dead", { port: this.config.path, meter, probedAgainAt: new Date(until).toISOString() }));
      bus.on("alive", (meter: string) => this.log.info("meter answers again", { port: this.config.path, meter }));
      [this.port, this.bus] = [port, bus];
      this.log.info("port open", { port: this.config.path, ...this.config.line, meters });
      return bus;
    } catch (error) {
      this.openError = (error as Error).message;
      if (when === "required") throw new SettingsError(`${this.openError} (the port of meters ${meters.join(", ")}; "requirePorts" is set)`);
      if (when === "start") this.log.error("port unavailable at start: its meters are not read until it appears", { port: this.config.path, meters, error: this.openError, hint: 'set "requirePorts": true to stop instead' });
      return undefined;
    }
  }
}
