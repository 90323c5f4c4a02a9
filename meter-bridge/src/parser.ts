/**
 * A serialport-style parser that finds DL/T 645 frames in a byte stream and emits each as
 * one Buffer (from the first 68 through the end byte 16, wake-up bytes removed). Decoding is
 * left to the codec.
 *
 * Handles any number of FE bytes, garbage and partial frames before a frame, and frames
 * split across chunks. A frame whose checksum or length is wrong is reported with an
 * "invalid" event and skipped, never thrown. The buffer is bounded by the framing itself:
 * it never holds more than one frame's worth (MAX_FRAME_LENGTH) of bytes.
 */
import { Transform, TransformCallback, TransformOptions } from "node:stream";
import { START, scanFrame } from "./codec/frame";

/** Which frames to pass on, by the direction bit of their control byte. */
export type AcceptedFrames = "replies" | "requests" | "all";

export interface Dlt645ParserOptions extends TransformOptions {
  /**
   * "replies" (default) passes frames from meters and drops requests, such as the echo of
   * our own request on adapters that echo; "requests" passes only frames from a master
   * (for a meter simulator); "all" passes both.
   */
  accept?: AcceptedFrames;
}

/** Payload of the "invalid" event. */
export interface InvalidFrame {
  /** bad-checksum / bad-length: a complete frame that is wrong; truncated: a frame cut off by a later frame or by silence */
  reason: "bad-checksum" | "bad-length" | "truncated";
  bytes: Buffer;
}

const ACCEPTED: readonly AcceptedFrames[] = ["replies", "requests", "all"];

export class Dlt645Parser extends Transform {
  readonly accept: AcceptedFrames;
  private buffer = Buffer.alloc(0);

  constructor({ accept = "replies", ...transformOptions }: Dlt645ParserOptions = {}) {
    super(transformOptions);
    if (!ACCEPTED.includes(accept)) throw new TypeError(`"accept" must be one of ${ACCEPTED.join(", ")}, got ${String(accept)}`);
    this.accept = accept;
  }

  /** Bytes held while waiting for the rest of a frame (at most MAX_FRAME_LENGTH - 1). */
  get bufferedBytes(): number {
    return this.buffer.length;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    this.extractFrames();
    callback();
  }

  /**
   * The line has gone quiet: a frame still incomplete will not be completed. When the held
   * bytes begin a frame of the accepted direction (68, address, 68, control), they are reported
   * as "truncated" and returned; either way they are forgotten.
   */
  endOfReply(): InvalidFrame | undefined {
    const held = this.buffer;
    this.buffer = Buffer.alloc(0);
    const header = held.length >= 9 && held[0] === START && held[7] === START;
    const fromMeter = header && (held[8] & 0x80) !== 0;
    if (!header || (this.accept !== "all" && (this.accept === "replies") !== fromMeter)) return undefined;
    const event: InvalidFrame = { reason: "truncated", bytes: Buffer.from(held) };
    this.emit("invalid", event);
    return event;
  }

  override _flush(callback: TransformCallback): void {
    this.buffer = Buffer.alloc(0);
    callback();
  }

  private extractFrames(): void {
    let from = 0;
    for (;;) {
      const start = this.buffer.indexOf(START, from);
      if (start < 0) {
        this.buffer = Buffer.alloc(0);
        return;
      }
      const scan = scanFrame(this.buffer, start);
      if (scan.kind === "not-a-frame") {
        from = start + 1;
      } else if (scan.kind === "invalid") {
        this.reportInvalid(scan.reason, start, start + scan.length);
        from = start + 1;
      } else if (scan.kind === "frame") {
        this.deliver(this.buffer.subarray(start, start + scan.length));
        this.buffer = this.buffer.subarray(start + scan.length);
        from = 0;
      } else {
        const later = findCompleteFrame(this.buffer, start + 1);
        if (later === undefined) {
          this.buffer = Buffer.from(this.buffer.subarray(start));
          return;
        }
        this.reportInvalid("truncated", start, later);
        from = later;
      }
    }
  }

  private deliver(frame: Buffer): void {
    const fromMeter = (frame[8] & 0x80) !== 0;
    if (this.accept === "all" || (this.accept === "replies") === fromMeter) this.push(Buffer.from(frame));
  }

  private reportInvalid(reason: InvalidFrame["reason"], from: number, to: number): void {
    const event: InvalidFrame = { reason, bytes: Buffer.from(this.buffer.subarray(from, to)) };
    this.emit("invalid", event);
  }
}

/** Start of the first complete, valid frame at or after `from`, if any. */
function findCompleteFrame(bytes: Buffer, from: number): number | undefined {
  for (let start = bytes.indexOf(START, from); start >= 0; start = bytes.indexOf(START, start + 1)) {
    if (scanFrame(bytes, start).kind === "frame") return start;
  }
  return undefined;
}

