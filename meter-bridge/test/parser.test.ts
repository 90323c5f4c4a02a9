import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_FRAME_LENGTH, fromHex, toHex } from "../src/codec";
import { Dlt645Parser, InvalidFrame } from "../src/parser";
import { VECTORS } from "./support/vectors";

/** Feeds chunks to a parser and collects the frames (as hex) and invalid events. */
function feed(chunks: Buffer[], options?: ConstructorParameters<typeof Dlt645Parser>[0]): { frames: string[]; invalid: InvalidFrame[]; parser: Dlt645Parser } {
  const parser = new Dlt645Parser(options);
  const frames: string[] = [];
  const invalid: InvalidFrame[] = [];
  parser.on("data", (frame: Buffer) => frames.push(toHex(frame)));
  parser.on("invalid", (event: InvalidFrame) => invalid.push(event));
  for (const chunk of chunks) parser.write(chunk);
  return { frames, invalid, parser };
}

const REPLY = VECTORS.replyForward123456_78;
const REPLY_7FE = VECTORS.readAddressReply7Fe;
const REPLY_7FE_FRAME = REPLY_7FE.replace(/^(FE )+/, "");

describe("Dlt645Parser", () => {
  it("emits a frame split at every possible point, without its FE bytes", () => {
    const bytes = fromHex(REPLY_7FE);
    for (let cut = 1; cut < bytes.length; cut++) {
      const { frames, invalid } = feed([bytes.subarray(0, cut), bytes.subarray(cut)]);
      assert.deepEqual(frames, [REPLY_7FE_FRAME], `split at ${cut}`);
      assert.deepEqual(invalid, []);
    }
  });

  it("emits a frame fed one byte at a time", () => {
    const { frames } = feed(Array.from(fromHex(REPLY_7FE), (byte) => Buffer.from([byte])));
    assert.deepEqual(frames, [REPLY_7FE_FRAME]);
  });

  it("finds frames behind garbage that contains 68, 16 and FE bytes", () => {
    const garbage = fromHex("00 68 12 16 FE 68 68 33 68 FF 16 FE FE");
    const { frames } = feed([Buffer.concat([garbage, fromHex(REPLY), garbage, fromHex(REPLY_7FE), garbage.subarray(0, 5)])]);
    assert.deepEqual(frames, [REPLY, REPLY_7FE_FRAME]);
  });

  it("finds frames behind garbage without 68 bytes and reports nothing", () => {
    const garbage = fromHex("00 12 16 FE 33 FF 16 FE FE");
    const { frames, invalid } = feed([garbage, fromHex(REPLY), garbage, fromHex(REPLY_7FE)]);
    assert.deepEqual(frames, [REPLY, REPLY_7FE_FRAME]);
    assert.deepEqual(invalid, []);
  });

  it("reports a reply left incomplete when the line goes quiet as truncated, and forgets it", () => {
    const cut = fromHex(REPLY).subarray(0, 15); // one byte short of its length: 19 bytes of 20
    const { frames, invalid, parser } = feed([fromHex("FE FE"), cut]);
    assert.deepEqual(frames, []);
    assert.equal(toHex(parser.endOfReply()!.bytes), toHex(cut));
    assert.deepEqual(invalid.map((event) => event.reason), ["truncated"]);
    assert.equal(parser.bufferedBytes, 0);
    assert.equal(parser.endOfReply(), undefined, "nothing held any more");
  });

  it("does not take held garbage or an echoed request for a cut-off reply", () => {
    assert.equal(feed([fromHex("00 68 12 90")]).parser.endOfReply(), undefined, "too short to be a frame header");
    assert.equal(feed([fromHex(VECTORS.readForward123456789012).subarray(0, 12)]).parser.endOfReply(), undefined, "the start of a request (an echo)");
  });

  it("reports a partial frame cut off by a complete one as truncated, then emits the complete one", () => {
    const partial = fromHex("68 12 90 78 56 34 12 68 91 40 33 33");
    const { frames, invalid } = feed([partial, fromHex(`FE FE ${REPLY}`)]);
    assert.deepEqual(frames, [REPLY]);
    assert.deepEqual(
      invalid.map((event) => [event.reason, toHex(event.bytes)]),
      [["truncated", `${toHex(partial)} FE FE`]],
    );
  });

  it("reports a short partial frame overrun by the next frame as bad length, then emits that frame", () => {
    const partial = fromHex(REPLY).subarray(0, 13);
    const { frames, invalid } = feed([partial, fromHex(`FE FE ${REPLY}`)]);
    assert.deepEqual(frames, [REPLY]);
    assert.deepEqual(
      invalid.map((event) => event.reason),
      ["bad-length"],
    );
  });

  it("reports a bad checksum and a bad length as events, and goes on", () => {
    const badSum = REPLY.replace(/CC 16$/, "CD 16");
    const badLength = "68 12 90 78 56 34 12 68 91 07 33 33 34 33 AB 89 67 45 CC 16";
    const { frames, invalid } = feed([fromHex(badSum), fromHex(badLength), fromHex(VECTORS.replyCombinedZero)]);
    assert.deepEqual(frames, [VECTORS.replyCombinedZero]);
    assert.deepEqual(
      invalid.map((event) => [event.reason, toHex(event.bytes)]),
      [
        ["bad-checksum", badSum],
        ["bad-length", badLength.slice(0, -3)],
      ],
    );
  });

  it("drops echoed requests by default and passes only requests when asked", () => {
    const stream = [fromHex(VECTORS.readForward123456789012), fromHex(REPLY), fromHex(VECTORS.readAddress)];
    assert.deepEqual(feed(stream).frames, [REPLY]);
    assert.deepEqual(feed(stream, { accept: "requests" }).frames, [VECTORS.readForward123456789012, VECTORS.readAddress.replace(/^(FE )+/, "")]);
    assert.equal(feed(stream, { accept: "all" }).frames.length, 3);
  });

  it("emits several frames that arrive in one chunk", () => {
    const { frames } = feed([fromHex(`${REPLY} ${VECTORS.replyForward1234_56} FE FE ${VECTORS.abnormalNoData}`)]);
    assert.deepEqual(frames, [REPLY, VECTORS.replyForward1234_56, VECTORS.abnormalNoData]);
  });

  it("keeps its buffer below one frame's length whatever arrives", () => {
    const parser = new Dlt645Parser();
    let largest = 0;
    for (let i = 0; i < 2000; i++) {
      // noise rich in 68 bytes that look like frame starts with a long length byte
      parser.write(fromHex("68 01 02 03 04 05 06 68 91 FF 00 11 68 FE"));
      largest = Math.max(largest, parser.bufferedBytes);
    }
    assert.ok(largest < MAX_FRAME_LENGTH, `buffered ${largest} bytes`);
    const frames: string[] = [];
    parser.on("data", (frame: Buffer) => frames.push(toHex(frame)));
    parser.write(fromHex(REPLY));
    assert.deepEqual(frames, [REPLY]);
  });

  it("throws TypeError for an unknown accept option", () => {
    assert.throws(() => new Dlt645Parser({ accept: "everything" as "all" }), TypeError);
  });
});
