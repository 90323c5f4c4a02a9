/**
 * Half-duplex polling of the meters on one RS-485 port: one request in flight, a response
 * timeout and an inter-byte timeout, retries, and dead meters that are skipped until their
 * retry time so they do not stall the rest of the bus. A corrupted reply (noise) shows the
 * meter is alive: it is retried and never makes the meter dead; only silence does.
 */
import { EventEmitter } from "node:events";
import type { Duplex } from "node:stream";
import {
  FUNCTION,
  Message,
  MeterTime,
  Value,
  decodeFrame,
  decodeValue,
  encodeBroadcastTime,
  encodeReadAddress,
  encodeReadWith,
  formatOf,
  interpretFrame,
  isMeterAddress,
  normalizeDi,
} from "./codec";
import { LineOptions, lineOptions, stripUndefined, transmitMs } from "./line";
import { Dlt645Parser, InvalidFrame } from "./parser";

export interface BusOptions {
  /** line settings, used for the time a request takes on the wire; default 2400 8E1 */
  line?: Partial<LineOptions>;
  /** longest wait for the first reply byte after the request has left (DL/T 645: reply within 500 ms); default 500 */
  responseTimeoutMs?: number;
  /** longest gap between the bytes of a reply (DL/T 645: 500 ms); default 500 */
  interByteTimeoutMs?: number;
  /** further attempts after a request gets no reply at all (silence); default 2 */
  retries?: number;
  /** further attempts after a corrupted reply (noise), not counted against `retries`; default 3 */
  noiseRetries?: number;
  /** a meter silent on all attempts is skipped for this long, then probed once; default 60000 */
  deadRetryMs?: number;
  /**
   * the latest time (ms) a meter marked dead at `now` is probed again, whatever `deadRetryMs`
   * says; the daemon passes the next interval boundary, so a dead meter never misses one
   */
  probeDeadBy?: (now: number) => number;
  /** FE wake-up bytes before each request; default 4 */
  preamble?: number;
  /** clock for the dead-meter bookkeeping; default Date.now */
  now?: () => number;
}

/** A port the bus can talk through: a serialport stream, or any duplex stream. */
export type BusPort = Duplex & { drain?(callback: (error?: Error | null) => void): void };

export type MeterErrorCode = "timeout" | "corrupt" | "abnormal" | "dead" | "closed";

/** A read that failed; `code` says how. */
export class MeterError extends Error {
  constructor(
    readonly code: MeterErrorCode,
    message: string,
    /** for "abnormal": the names of the error word's bits */
    readonly errors: string[] = [],
  ) {
    super(message);
    this.name = "MeterError";
  }
}

export interface Reading extends Value {
  address: string;
  di: string;
}

interface Settings {
  line: LineOptions;
  responseTimeoutMs: number;
  interByteTimeoutMs: number;
  retries: number;
  noiseRetries: number;
  deadRetryMs: number;
  probeDeadBy?: (now: number) => number;
  preamble: number;
  now: () => number;
}

interface Pending {
  match: (message: Message) => boolean;
  resolve: (message: Message) => void;
  reject: (error: MeterError) => void;
  deadline: number;
  timer?: NodeJS.Timeout;
  invalid?: InvalidFrame["reason"];
}

export function busSettings(options: BusOptions = {}): Settings {
  const settings = {
    responseTimeoutMs: 500,
    interByteTimeoutMs: 500,
    retries: 2,
    noiseRetries: 3,
    deadRetryMs: 60_000,
    preamble: 4,
    now: Date.now,
    ...stripUndefined(options),
    line: lineOptions(options.line),
  };
  for (const name of ["responseTimeoutMs", "interByteTimeoutMs", "retries", "noiseRetries", "deadRetryMs", "preamble"] as const) {
    const value = settings[name];
    if (!Number.isInteger(value) || value < 0) throw new TypeError(`${name} must be a non-negative integer, got ${value}`);
  }
  if (typeof settings.now !== "function") throw new TypeError("now must be a function returning milliseconds");
  if (settings.probeDeadBy !== undefined && typeof settings.probeDeadBy !== "function") throw new TypeError("probeDeadBy must be a function of the time returning milliseconds");
  return settings;
}

/**
 * Events: "invalid" (InvalidFrame) for a corrupt frame on the line, "stray" (Message) for a
 * valid frame nobody waits for, "dead" (address, until ms) when a meter is silent on every
 * attempt, "alive" (address) when a dead meter answers again (even with noise).
 */
export class MeterBus extends EventEmitter {
  readonly settings: Settings;
  private readonly parser = new Dlt645Parser();
  private queue: Promise<unknown> = Promise.resolve();
  private pending: Pending | undefined;
  private closed = false;
  /** meter address -> time from which a dead meter is probed again */
  private readonly deadUntil = new Map<string, number>();

  constructor(
    private readonly port: BusPort,
    options: BusOptions = {},
  ) {
    super();
    this.settings = busSettings(options);
    port.on("data", () => this.extendDeadline(this.settings.interByteTimeoutMs));
    port.pipe(this.parser);
    this.parser.on("data", (frame: Buffer) => this.onFrame(frame));
    this.parser.on("invalid", (invalid: InvalidFrame) => {
      if (this.pending) this.pending.invalid = invalid.reason;
      this.emit("invalid", invalid);
    });
    port.on("close", () => this.close());
  }

  /** Addresses currently marked dead. */
  deadMeters(): string[] {
    return [...this.deadUntil.keys()];
  }

  /**
   * Reads one data identifier of one meter.
   * @throws MeterError: "dead" without using the bus while the meter is marked dead,
   *   "timeout"/"corrupt" after all attempts, "abnormal" when the meter refuses, "closed"
   */
  read(address: string, di: string): Promise<Reading> {
    const id = normalizeDi(di);
    formatOf(id);
    return this.readRaw(address, id).then((value) => ({ address, di: id, ...decodeValue(id, value) }));
  }

  /**
   * Reads the data of one identifier, optionally with request parameters (e.g. the time of a
   * load record), and returns the value bytes after the identifier, undecoded.
   * @throws MeterError as `read` does
   */
  readRaw(address: string, di: string, params: Uint8Array = Buffer.alloc(0)): Promise<Buffer> {
    if (!isMeterAddress(address)) throw new TypeError(`a meter address is 12 decimal digits, got "${address}"`);
    const id = normalizeDi(di);
    return this.exclusive(async () => {
      const request = encodeReadWith(address, id, params, { preamble: this.settings.preamble });
      const reply = await this.withRetries(address, request, (message): message is ReadAnswer => answersRead(message, address, id));
      if (reply.kind === "abnormal-reply") {
        throw new MeterError("abnormal", `meter ${address} refused ${id}: ${reply.errors.join(", ")}`, reply.errors);
      }
      return reply.value;
    });
  }

  /** Reads the address of the only meter on the bus (read address, 13). */
  readAddress(): Promise<string> {
    return this.exclusive(async () => {
      const request = encodeReadAddress({ preamble: this.settings.preamble });
      const reply = await this.attempt(request, (message): message is AddressAnswer => message.kind === "read-address-reply");
      return reply.address;
    });
  }

  /**
   * Broadcasts the time to every meter (08); meters do not reply. Given a function, the time is
   * taken from it when the line is free (after the requests queued before), so it is not stale.
   */
  broadcastTime(time: MeterTime | (() => MeterTime)): Promise<void> {
    return this.exclusive(() => this.send(encodeBroadcastTime(typeof time === "function" ? time() : time, { preamble: this.settings.preamble })));
  }

  /** Stops the bus: the request in flight and all later ones fail with "closed". */
  close(): void {
    this.closed = true;
    this.port.unpipe(this.parser);
    this.settle(undefined, new MeterError("closed", "the port is closed"));
  }

  /** When meter `address` is marked dead, or undefined. */
  deadUntilOf(address: string): number | undefined {
    return this.deadUntil.get(address);
  }

  /**
   * Sends a request until it gets its reply: up to 1 + `retries` attempts that meet silence, and
   * up to `noiseRetries` more that meet a corrupted reply. Only a meter silent on every attempt is
   * marked dead; a dead meter gets one probe.
   */
  private async withRetries<M extends Message>(address: string, request: Buffer, match: (message: Message) => message is M): Promise<M> {
    const retryAt = this.deadUntil.get(address);
    if (retryAt !== undefined && this.settings.now() < retryAt) {
      throw new MeterError("dead", `meter ${address} is marked dead until ${new Date(retryAt).toISOString()}`);
    }
    const silentAttempts = retryAt === undefined ? 1 + this.settings.retries : 1;
    let [silent, corrupt] = [0, 0];
    for (;;) {
      try {
        const reply = await this.attempt(request, match);
        this.markAlive(address);
        return reply;
      } catch (error) {
        if (!(error instanceof MeterError) || (error.code !== "timeout" && error.code !== "corrupt")) throw error;
        if (error.code === "corrupt") corrupt++;
        else silent++;
        if (corrupt > 0) this.markAlive(address); // noise came back: the meter is there
        if (silent < silentAttempts && corrupt <= this.settings.noiseRetries) continue;
        const attempts = silent + corrupt;
        const summary = corrupt > 0 ? `${corrupt} corrupted ${corrupt > 1 ? "replies" : "reply"} (last: ${error.message}), ${silent} without reply` : "no reply";
        if (corrupt === 0) this.markDead(address);
        throw new MeterError(corrupt > 0 ? "corrupt" : "timeout", `meter ${address}: ${summary} after ${attempts} attempt${attempts > 1 ? "s" : ""}`);
      }
    }
  }

  private markDead(address: string): void {
    const now = this.settings.now();
    const until = Math.min(now + this.settings.deadRetryMs, this.settings.probeDeadBy?.(now) ?? Infinity);
    this.deadUntil.set(address, Math.max(now, until));
    this.emit("dead", address, this.deadUntil.get(address));
  }

  private markAlive(address: string): void {
    if (this.deadUntil.delete(address)) this.emit("alive", address);
  }

  /** One request and its reply. */
  private attempt<M extends Message>(request: Buffer, match: (message: Message) => message is M): Promise<M> {
    return new Promise<M>((resolve, reject) => {
      if (this.closed) return reject(new MeterError("closed", "the port is closed"));
      this.pending = { match, resolve: (message) => resolve(message as M), reject, deadline: 0 };
      this.send(request).then(
        () => this.extendDeadline(this.settings.responseTimeoutMs + transmitMs(request.length, this.settings.line)),
        (error: Error) => this.settle(undefined, new MeterError("closed", `cannot write to the port: ${error.message}`)),
      );
    });
  }

  /** Writes bytes and waits until the port has sent them (tcdrain on a serial port). */
  private send(bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new MeterError("closed", "the port is closed"));
      this.port.write(bytes, (error) => {
        if (error) return reject(error);
        if (this.port.drain) this.port.drain((drainError) => (drainError ? reject(drainError) : resolve()));
        else resolve();
      });
    });
  }

  /** Moves the pending request's deadline to at least `ms` from now. */
  private extendDeadline(ms: number): void {
    const pending = this.pending;
    if (!pending) return;
    const deadline = this.settings.now() + ms;
    if (deadline <= pending.deadline) return;
    pending.deadline = deadline;
    clearTimeout(pending.timer);
    pending.timer = setTimeout(() => {
      this.parser.endOfReply(); // a reply cut off by silence is reported as "invalid" here
      const corrupt = pending.invalid !== undefined;
      const message = corrupt ? `corrupt reply (${pending.invalid})` : "no reply";
      this.settle(undefined, new MeterError(corrupt ? "corrupt" : "timeout", message));
    }, ms);
  }

  private onFrame(bytes: Buffer): void {
    let message: Message;
    try {
      message = interpretFrame(decodeFrame(bytes));
    } catch {
      if (this.pending) this.pending.invalid = "bad-length";
      this.emit("invalid", { reason: "bad-length", bytes } satisfies InvalidFrame);
      return;
    }
    if (this.pending?.match(message)) this.settle(message);
    else this.emit("stray", message);
  }

  private settle(message?: Message, error?: MeterError): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    clearTimeout(pending.timer);
    if (message) pending.resolve(message);
    else pending.reject(error!);
  }

  /** Runs operations one at a time: the bus is half-duplex. */
  private exclusive<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.queue.then(operation);
    this.queue = result.catch(() => undefined);
    return result;
  }
}

type ReadAnswer = Extract<Message, { kind: "read-reply" | "abnormal-reply" }>;
type AddressAnswer = Extract<Message, { kind: "read-address-reply" }>;

/** Whether a message answers a read of `di` from meter `address`. */
function answersRead(message: Message, address: string, di: string): boolean {
  if (message.kind === "read-reply") return message.address === address && message.di === di;
  return message.kind === "abnormal-reply" && message.address === address && message.function === FUNCTION.READ;
}
