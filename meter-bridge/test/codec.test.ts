import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  DI,
  FrameError,
  decodeFrame,
  decodeValue,
  encodeAbnormalReply,
  encodeBroadcastTime,
  encodeRead,
  encodeReadAddress,
  encodeReadAddressReply,
  encodeReadFollowUp,
  encodeReadReply,
  encodeValue,
  fromHex,
  interpretFrame,
  kWhToWh,
  toHex,
  whToKWh,
} from "../src/codec";
import { VECTORS } from "./support/vectors";

/** Decodes a frame and interprets it as a read reply, returning its value. */
function replyValue(hex: string): { address: string; di: string; value: string; unit: string } {
  const message = interpretFrame(decodeFrame(fromHex(hex)));
  assert.equal(message.kind, "read-reply");
  return { address: message.address, di: message.di, ...decodeValue(message.di, message.value) };
}

function assertFrameError(hex: string, reason: FrameError["reason"], text: RegExp): void {
  assert.throws(
    () => decodeFrame(fromHex(hex)),
    (error: unknown) => error instanceof FrameError && error.reason === reason && text.test(error.message),
  );
}

describe("codec: public vectors (shared/dlt645-vectors.md)", () => {
  it("encodes the read of forward active energy of meter 123456789012", () => {
    assert.equal(toHex(encodeRead("123456789012", DI.FORWARD_ACTIVE_ENERGY, { preamble: 0 })), VECTORS.readForward123456789012);
  });

  it("decodes both replies of meter 123456789012 to exact kWh", () => {
    assert.deepEqual(replyValue(VECTORS.replyForward123456_78), { address: "123456789012", di: "00010000", value: "123456.78", unit: "kWh" });
    assert.deepEqual(replyValue(VECTORS.replyForward1234_56), { address: "123456789012", di: "00010000", value: "1234.56", unit: "kWh" });
  });

  it("decodes the abnormal reply's error word 0x02 to no-requested-data", () => {
    const message = interpretFrame(decodeFrame(fromHex(VECTORS.abnormalNoData)));
    assert.deepEqual(message, { kind: "abnormal-reply", address: "123456789012", function: 0x11, errorWord: 2, errors: ["no-requested-data"] });
  });

  it("encodes the read-address request with four FE bytes", () => {
    assert.equal(toHex(encodeReadAddress()), VECTORS.readAddress);
  });

  it("decodes the read-address reply preceded by seven FE bytes", () => {
    const frame = decodeFrame(fromHex(VECTORS.readAddressReply7Fe));
    assert.deepEqual(interpretFrame(frame), { kind: "read-address-reply", address: "123456789012" });
    assert.deepEqual(frame.control, { direction: "meter", abnormal: false, followUp: false, function: 0x13 });
  });

  it("encodes the wildcard read of forward energy", () => {
    assert.equal(toHex(encodeRead("AAAAAAAAAAAA", DI.FORWARD_ACTIVE_ENERGY)), VECTORS.wildcardReadForward);
  });

  it("encodes the read follow-up frame of DI 03300001, sequence 1", () => {
    assert.equal(toHex(encodeReadFollowUp("123456789012", "03300001", 1, { preamble: 0 })), VECTORS.readFollowUp);
    assert.deepEqual(interpretFrame(decodeFrame(fromHex(VECTORS.readFollowUp))), {
      kind: "read-follow-up",
      address: "123456789012",
      di: "03300001",
      sequence: 1,
    });
  });

  it("decodes and re-encodes the frames of meter 000000000001", () => {
    assert.equal(toHex(encodeReadAddressReply("000000000001")), VECTORS.readAddressReply000000000001);
    assert.equal(toHex(encodeRead("000000000001", DI.FORWARD_ACTIVE_ENERGY, { preamble: 0 })), VECTORS.readForward000000000001);
    assert.deepEqual(replyValue(VECTORS.replyForward112280_26), { address: "000000000001", di: "00010000", value: "112280.26", unit: "kWh" });
  });

  it("reads combined active energy 0.00 kWh of meter 652022122003", () => {
    assert.equal(toHex(encodeRead("652022122003", DI.COMBINED_ACTIVE_ENERGY, { preamble: 0 })), VECTORS.readCombined652022122003);
    assert.deepEqual(replyValue(VECTORS.replyCombinedZero), { address: "652022122003", di: "00000000", value: "0.00", unit: "kWh" });
  });

  it("re-encodes every public reply byte for byte", () => {
    for (const hex of [VECTORS.replyForward123456_78, VECTORS.replyForward1234_56, VECTORS.replyForward112280_26, VECTORS.replyCombinedZero]) {
      const { address, di, value } = replyValue(hex);
      assert.equal(toHex(encodeReadReply(address, di, encodeValue(di, value))), hex);
    }
    assert.equal(toHex(encodeAbnormalReply("123456789012", 0x11, ["no-requested-data"])), VECTORS.abnormalNoData);
  });
});

describe("codec: data formats", () => {
  const cases: Array<[string, string, string, string]> = [
    [DI.VOLTAGE_A, "230.5", "05 23", "V"],
    [DI.VOLTAGE_C, "0.0", "00 00", "V"],
    [DI.CURRENT_B, "12.345", "45 23 01", "A"],
    [DI.CURRENT_B, "-12.345", "45 23 81", "A"],
    [DI.TOTAL_ACTIVE_POWER, "-3.2109", "09 21 83", "kW"],
    [DI.TOTAL_ACTIVE_POWER, "79.9999", "99 99 79", "kW"],
    [DI.COMBINED_ACTIVE_ENERGY, "-12.34", "34 12 00 80", "kWh"],
    [DI.REVERSE_ACTIVE_ENERGY, "999999.99", "99 99 99 99", "kWh"],
    [DI.METER_ADDRESS, "000000000001", "01 00 00 00 00 00", ""],
    [DI.METER_NUMBER, "652022122003", "03 20 12 22 20 65", ""],
  ];
  for (const [di, value, hex, unit] of cases) {
    it(`${di} ${value} ${unit} <-> ${hex}`, () => {
      assert.equal(toHex(encodeValue(di, value)), hex);
      assert.deepEqual(decodeValue(di, fromHex(hex)), { value, unit });
    });
  }

  it("normalises leading zeros and negative zero", () => {
    assert.deepEqual(decodeValue(DI.FORWARD_ACTIVE_ENERGY, fromHex("05 00 00 00")), { value: "0.05", unit: "kWh" });
    assert.deepEqual(decodeValue(DI.CURRENT_A, fromHex("00 00 80")), { value: "0.000", unit: "A" });
    assert.equal(toHex(encodeValue(DI.VOLTAGE_A, "0230")), "00 23");
    assert.equal(toHex(encodeValue(DI.FORWARD_ACTIVE_ENERGY, "7")), "00 07 00 00");
  });

  it("rejects values that do not fit their format", () => {
    assert.throws(() => encodeValue(DI.VOLTAGE_A, "1000.0"), TypeError);
    assert.throws(() => encodeValue(DI.VOLTAGE_A, "230.55"), /1 decimals/);
    assert.throws(() => encodeValue(DI.FORWARD_ACTIVE_ENERGY, "-1.00"), /unsigned/);
    assert.throws(() => encodeValue(DI.TOTAL_ACTIVE_POWER, "80.0000"), /does not fit/);
    assert.throws(() => encodeValue(DI.VOLTAGE_A, "1e3"), /not a decimal/);
  });

  it("reports a wrong data length, a non-BCD digit and an unknown identifier", () => {
    assert.throws(() => decodeValue(DI.FORWARD_ACTIVE_ENERGY, fromHex("00 00 00")), { name: "FrameError", reason: "bad-data-length" });
    assert.throws(() => decodeValue(DI.FORWARD_ACTIVE_ENERGY, fromHex("0A 00 00 00")), { name: "FrameError", reason: "bad-bcd" });
    assert.throws(() => decodeValue("04000101", fromHex("00")), { name: "FrameError", reason: "unknown-di" });
    assert.throws(() => decodeValue("0001000", fromHex("00")), TypeError);
  });

  it("converts kWh and Wh exactly", () => {
    assert.equal(kWhToWh("123456.78"), 123456780n);
    assert.equal(kWhToWh("0.00"), 0n);
    assert.equal(kWhToWh("999999.99"), 999999990n);
    assert.equal(whToKWh(123456780n), "123456.78");
    assert.equal(whToKWh(0n), "0.00");
    assert.equal(whToKWh(50n), "0.05");
    assert.throws(() => kWhToWh("-1.00"), TypeError);
    assert.throws(() => whToKWh(5n), TypeError);
  });
});

describe("codec: frames", () => {
  it("encodes and decodes the control byte fields", () => {
    const frame = decodeFrame(fromHex(VECTORS.abnormalNoData));
    assert.deepEqual(frame.control, { direction: "meter", abnormal: true, followUp: false, function: 0x11 });
    const followUp = decodeFrame(encodeReadReply("000000000001", DI.VOLTAGE_A, encodeValue(DI.VOLTAGE_A, "230.0"), { followUp: true }));
    assert.deepEqual(followUp.control, { direction: "meter", abnormal: false, followUp: true, function: 0x11 });
    assert.equal(toHex(followUp.data), "00 01 01 02 00 23");
  });

  it("round-trips a follow-up reply with its sequence number", () => {
    const bytes = encodeReadReply("000000000007", "03300001", fromHex("12 34"), { sequence: 3, preamble: 2 });
    assert.equal(bytes[0], 0xfe);
    assert.deepEqual(interpretFrame(decodeFrame(bytes)), {
      kind: "read-reply",
      address: "000000000007",
      di: "03300001",
      value: fromHex("12 34"),
      followUp: false,
      sequence: 3,
    });
  });

  it("encodes broadcast time sync to 999999999999 and reads it back", () => {
    const time = { year: 2024, month: 3, day: 9, hour: 14, minute: 5, second: 59 };
    const bytes = encodeBroadcastTime(time, { preamble: 0 });
    // 59 05 14 09 03 24 each + 0x33
    assert.equal(toHex(bytes), "68 99 99 99 99 99 99 68 08 06 8C 38 47 3C 36 57 48 16");
    assert.deepEqual(interpretFrame(decodeFrame(bytes)), { kind: "broadcast-time", time });
    assert.throws(() => encodeBroadcastTime({ ...time, month: 13 }), TypeError);
  });

  it("names every bit of an error word", () => {
    const message = interpretFrame(decodeFrame(encodeAbnormalReply("000000000001", 0x11, ["other-error", "unauthorized", "too-many-tariffs"])));
    assert.equal(message.kind, "abnormal-reply");
    assert.deepEqual(message.errors, ["other-error", "unauthorized", "too-many-tariffs"]);
    const all = interpretFrame(decodeFrame(fromHex("68 01 00 00 00 00 00 68 D1 01 32 D5 16")));
    assert.equal(all.kind === "abnormal-reply" && all.errors.at(-1), "bit-7");
  });

  it("says what is wrong with a malformed frame", () => {
    assertFrameError("68 12 90 78 56 34 12 68 91 08 33 33 34 33 AB 89 67 45 CD 16", "bad-checksum", /frame says CD, bytes sum to CC/);
    assertFrameError("68 12 90 78 56 34 12 68 91 09 33 33 34 33 AB 89 67 45 CC 16 00", "bad-length", /length byte says 9/);
    assertFrameError("68 12 90 78 56 34 12 68 91 08 33 33 34 33 AB 89", "truncated", /16 bytes where the length byte implies 20/);
    assertFrameError("68 12 90 78 56 34 12 68 91 08 33 33 34 33 AB 89 67 45 CC 16 16", "bad-length", /1 bytes after the end byte/);
    assertFrameError("FE FE 12 90 78", "no-frame", /no frame header/);
    assertFrameError("68 12 90", "truncated", /at least 12/);
  });

  it("rejects bad addresses, identifiers and function codes with TypeError", () => {
    assert.throws(() => encodeRead("12345678901", DI.FORWARD_ACTIVE_ENERGY), TypeError);
    assert.throws(() => encodeRead("12345678901B", DI.FORWARD_ACTIVE_ENERGY), TypeError);
    assert.throws(() => encodeRead("123456789012", "0001000G"), TypeError);
    assert.throws(() => encodeRead("123456789012", DI.FORWARD_ACTIVE_ENERGY, { preamble: -1 }), TypeError);
    assert.throws(() => fromHex("6"), TypeError);
  });
});
