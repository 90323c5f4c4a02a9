/** Why a byte sequence is not a valid DL/T 645 frame or message. */
export type FrameErrorReason =
  | "no-frame" // no 68 ... 68 header where one was expected
  | "truncated" // the bytes end before the frame does
  | "bad-length" // the end byte is not where the length byte says, or bytes follow it
  | "bad-checksum"
  | "bad-bcd" // a nibble above 9 where a BCD digit is expected
  | "bad-time" // a calendar field out of range (month 13, minute 60, ...)
  | "bad-record" // a load record whose start code, length, checksum or end code is wrong
  | "bad-data-length" // the data field is too short or too long for its message or identifier
  | "unknown-di"; // no format is known for the data identifier

/** A malformed frame or message; `reason` says which rule it breaks. */
export class FrameError extends Error {
  constructor(
    readonly reason: FrameErrorReason,
    message: string,
  ) {
    super(message);
    this.name = "FrameError";
  }
}
