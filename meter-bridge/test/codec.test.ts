import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  DI,
  FrameError,
  decodeLoadRecord,
  decodeLoadRecordRequest,
  encodeLoadRecord,
  encodeLoadRecordRequest,
  encodeReadWith,
  hourlyFreezeDi,
  loadRecordClass,
  loadRecordEnergy,
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
    assert.throws(() => decodeValue("02800001", fromHex("00 00 00")), { name: "FrameError", reason: "unknown-di", message: "no format known for data identifier 02800001" });
    assert.throws(() => decodeValue("05040000", fromHex("00")), { name: "FrameError", reason: "unknown-di" }, "hourly freezes are numbered from 01");
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

/**
 * Replies of meter 000000000001 built by hand from the standard's rules (DI sent DI0 first, +0x33,
 * BCD lowest byte first, sign in the top bit, checksum): one per identifier a gateway user reads.
 */
const IDENTIFIER_VECTORS: Array<[string, string, string, string, string]> = [
  ["grid frequency", "68 01 00 00 00 00 00 68 91 06 35 33 B3 35 34 83 6F 16", DI.FREQUENCY, "50.01", "Hz"],
  ["power factor", "68 01 00 00 00 00 00 68 91 06 33 33 39 35 BA 3C 32 16", DI.POWER_FACTOR, "0.987", ""],
  ["power factor, reverse flow", "68 01 00 00 00 00 00 68 91 06 33 33 39 35 33 B8 27 16", DI.POWER_FACTOR, "-0.500", ""],
  ["phase B active power, exporting", "68 01 00 00 00 00 00 68 91 07 33 35 36 35 78 56 B4 BE 16", DI.ACTIVE_POWER_B, "-1.2345", "kW"],
  ["date (YYMMDDWW, 6 = Saturday)", "68 01 00 00 00 00 00 68 91 08 34 34 33 37 39 3C 36 57 3E 16", DI.DATE, "2024-03-09", ""],
  ["time (hhmmss)", "68 01 00 00 00 00 00 68 91 07 35 34 33 37 8C 38 47 47 16", DI.TIME, "14:05:59", ""],
  ["newest hourly freeze: its time (YYMMDDhhmm)", "68 01 00 00 00 00 00 68 91 09 34 33 37 38 33 47 3C 36 57 84 16", "05040001", "2024-03-09T14:00", ""],
  ["newest hourly freeze: forward active energy", "68 01 00 00 00 00 00 68 91 08 34 34 37 38 89 67 45 33 A9 16", "05040101", "1234.56", "kWh"],
  ["third newest hourly freeze: reverse active energy", "68 01 00 00 00 00 00 68 91 08 36 35 37 38 BC 3A 33 33 A0 16", "05040203", "7.89", "kWh"],
];

describe("codec: identifiers a gateway user expects (vectors by hand)", () => {
  for (const [what, hex, di, value, unit] of IDENTIFIER_VECTORS) {
    it(`${di} ${what}: ${value} ${unit}`, () => {
      assert.deepEqual(replyValue(hex), { address: "000000000001", di, value, unit });
      assert.equal(toHex(encodeReadReply("000000000001", di, encodeValue(di, value))), hex);
    });
  }

  it("numbers the hourly freezes 1..254, newest first", () => {
    assert.deepEqual([hourlyFreezeDi("time", 1), hourlyFreezeDi("forward", 1), hourlyFreezeDi("reverse", 254)], ["05040001", "05040101", "050402FE"]);
    assert.throws(() => hourlyFreezeDi("time", 0), TypeError);
    assert.throws(() => hourlyFreezeDi("time", 255), TypeError);
  });

  it("per-phase active power and power factors of all three phases", () => {
    assert.deepEqual([DI.ACTIVE_POWER_A, DI.ACTIVE_POWER_B, DI.ACTIVE_POWER_C], ["02030100", "02030200", "02030300"]);
    assert.deepEqual(decodeValue(DI.ACTIVE_POWER_C, fromHex("00 50 12")), { value: "12.5000", unit: "kW" });
    assert.deepEqual(decodeValue(DI.POWER_FACTOR_A, fromHex("00 10")), { value: "1.000", unit: "" });
  });

  it("refuses impossible calendar values", () => {
    assert.throws(() => decodeValue(DI.DATE, fromHex("06 30 02 24")), { name: "FrameError", reason: "bad-time" }, "30 February");
    assert.throws(() => decodeValue(DI.TIME, fromHex("00 60 12")), { name: "FrameError", reason: "bad-time" });
    assert.throws(() => decodeValue(DI.DATE, fromHex("07 09 03 24")), { name: "FrameError", reason: "bad-time" }, "weekday 7");
    assert.throws(() => encodeValue(DI.DATE, "2024-02-30"), TypeError);
    assert.throws(() => encodeValue(DI.TIME, "24:00:00"), TypeError);
  });
});

describe("codec: load records (06 CC 00 01, vectors by hand)", () => {
  const REQUEST = "68 01 00 00 00 00 00 68 11 0A 34 33 37 39 34 48 47 3C 36 57 4F 16";
  const REPLY = "68 01 00 00 00 00 00 68 91 22 34 33 37 39 D3 D3 4C 48 47 3C 36 57 DD DD DD 89 67 45 33 BC 3A 33 33 33 33 33 33 33 33 33 33 DD B9 18 46 16";
  const TIME = { year: 2024, month: 3, day: 9, hour: 14, minute: 15, second: 0 };

  it("asks meter 000000000001 for its class 4 record of 2024-03-09 14:15 (one block)", () => {
    assert.equal(toHex(encodeReadWith("000000000001", DI.LOAD_RECORD_CLASS4_AT, encodeLoadRecordRequest(TIME), { preamble: 0 })), REQUEST);
    const message = interpretFrame(decodeFrame(fromHex(REQUEST)));
    assert.ok(message.kind === "read" && message.params);
    assert.deepEqual(decodeLoadRecordRequest(message.params), { blocks: 1, time: TIME });
  });

  it("reads forward 1234.56 kWh and reverse 7.89 kWh from the reply (A0 A0, length 25, time, AA AA AA, class 4, AA, checksum 86, E5)", () => {
    const message = interpretFrame(decodeFrame(fromHex(REPLY)));
    assert.ok(message.kind === "read-reply");
    assert.equal(message.di, "06040001");
    assert.equal(toHex(message.value.subarray(0, 3)), "A0 A0 19");
    const record = decodeLoadRecord(message.value, loadRecordClass(message.di));
    assert.deepEqual(record.time, TIME);
    assert.deepEqual(loadRecordEnergy(record), { forwardKWh: "1234.56", reverseKWh: "7.89" });
    assert.equal(toHex(encodeLoadRecord(record, 4)), toHex(message.value));
  });

  it("accepts the class alone without the separators of the classes before it (length 22, checksum 85)", () => {
    const record = decodeLoadRecord(fromHex("A0 A0 16 15 14 09 03 24 56 34 12 00 89 07 00 00 00 00 00 00 00 00 00 00 AA 85 E5"), 4);
    assert.deepEqual(loadRecordEnergy(record), { forwardKWh: "1234.56", reverseKWh: "7.89" });
  });

  it("reads the class 4 block of a record of all six classes, and a record without class 4 has no energy", () => {
    const classes = [Buffer.alloc(17, 0x11), undefined, undefined, fromHex("56 34 12 00 89 07 00 00 00 00 00 00 00 00 00 00"), undefined, Buffer.alloc(6)];
    const all = encodeLoadRecord({ time: TIME, classes });
    assert.equal(all.filter((byte) => byte === 0xaa).length, 6, "six separators");
    assert.deepEqual(loadRecordEnergy(decodeLoadRecord(all, 0)), { forwardKWh: "1234.56", reverseKWh: "7.89" });
    assert.equal(loadRecordEnergy(decodeLoadRecord(encodeLoadRecord({ time: TIME, classes: [Buffer.alloc(17), undefined, undefined, undefined, undefined, undefined] }), 0)), undefined);
  });

  it("refuses a record marked wrong, cut short, with a bad checksum or end code", () => {
    const good = fromHex("A0 A0 16 15 14 09 03 24 56 34 12 00 89 07 00 00 00 00 00 00 00 00 00 00 AA 85 E5");
    const variant = (index: number, byte: number) => Buffer.from(good.map((b, i) => (i === index ? byte : b)));
    assert.throws(() => decodeLoadRecord(variant(0, 0xe0).map((b, i) => (i === 1 ? 0xe0 : b)), 4), { reason: "bad-record", message: /marks this load record as wrong/ });
    assert.throws(() => decodeLoadRecord(good.subarray(0, -1), 4), { reason: "bad-record", message: /length 22 does not match/ });
    assert.throws(() => decodeLoadRecord(variant(25, 0x86), 4), { reason: "bad-record", message: /checksum/ });
    assert.throws(() => decodeLoadRecord(variant(26, 0x16), 4), { reason: "bad-record", message: /E5/ });
    assert.deepEqual([loadRecordClass("06040001"), loadRecordClass("06000001"), loadRecordClass("00010000")], [4, 0, undefined]);
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
