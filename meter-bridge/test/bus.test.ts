/** The bus against serialport's mock binding: echoes, timeouts, retries, dead meters. */
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { SerialPortMock } from "serialport";
import { DI, encodeAbnormalReply, encodeRead, encodeReadReply, encodeValue, fromHex, toHex } from "../src/codec";
import { MeterBus, MeterError } from "../src/bus";

const METER = "123456789012";

interface MockPort {
  port: SerialPortMock;
  /** requests written so far, as hex */
  writes: string[];
  /** answers each request written with `reply(request)` (undefined: silence) */
  answer(reply: (request: Buffer) => Buffer | undefined): void;
}

let portCount = 0;

async function openMock(echo: boolean): Promise<MockPort> {
  const path = `/dev/mock-${++portCount}`;
  SerialPortMock.binding.createPort(path, { echo, record: true });
  const port = new SerialPortMock({ path, baudRate: 9600 });
  await new Promise<void>((resolve, reject) => port.on("open", resolve).on("error", reject));
  const writes: string[] = [];
  let responder: (request: Buffer) => Buffer | undefined = () => undefined;
  const binding = port.port!;
  const write = binding.write.bind(binding);
  binding.write = async (buffer: Buffer) => {
    await write(buffer);
    writes.push(toHex(buffer));
    const reply = responder(buffer);
    if (reply) setTimeout(() => binding.emitData(reply), 5);
  };
  return { port, writes, answer: (reply) => (responder = reply) };
}

function reply(kWh: string): Buffer {
  return encodeReadReply(METER, DI.FORWARD_ACTIVE_ENERGY, encodeValue(DI.FORWARD_ACTIVE_ENERGY, kWh), { preamble: 2 });
}

const FAST = { line: { baudRate: 9600 }, responseTimeoutMs: 60, interByteTimeoutMs: 30 };

describe("MeterBus (mock port)", () => {
  afterEach(() => SerialPortMock.binding.reset());

  it("sends the request with four FE bytes and decodes the reply, ignoring the adapter's echo", async () => {
    const mock = await openMock(true);
    mock.answer(() => reply("123456.78"));
    const bus = new MeterBus(mock.port, FAST);
    const reading = await bus.read(METER, "00010000");
    assert.deepEqual(reading, { address: METER, di: "00010000", value: "123456.78", unit: "kWh" });
    assert.deepEqual(mock.writes, [toHex(encodeRead(METER, DI.FORWARD_ACTIVE_ENERGY))]);
    assert.equal(mock.writes[0].slice(0, 12), "FE FE FE FE ");
  });

  it("retries after a timeout and succeeds on the next attempt", async () => {
    const mock = await openMock(false);
    let calls = 0;
    mock.answer(() => (++calls === 2 ? reply("1.00") : undefined));
    const bus = new MeterBus(mock.port, { ...FAST, retries: 2 });
    assert.equal((await bus.read(METER, DI.FORWARD_ACTIVE_ENERGY)).value, "1.00");
    assert.equal(mock.writes.length, 2);
    assert.deepEqual(bus.deadMeters(), []);
  });

  it("retries corrupted replies beyond `retries` (noise: the meter is alive), names the corruption, and never marks the meter dead", async () => {
    const mock = await openMock(false);
    const corrupt = fromHex(toHex(reply("1.00")).replace(/.. 16$/, "00 16"));
    mock.answer(() => corrupt);
    const bus = new MeterBus(mock.port, { ...FAST, retries: 1, noiseRetries: 3 });
    const dead: string[] = [];
    bus.on("dead", (address: string) => dead.push(address));
    await assert.rejects(bus.read(METER, DI.FORWARD_ACTIVE_ENERGY), (error: MeterError) => {
      assert.equal(error.code, "corrupt");
      assert.match(error.message, /^meter 123456789012: 4 corrupted replies \(last: corrupt reply \(bad-checksum\)\), 0 without reply after 4 attempts$/);
      return true;
    });
    assert.equal(mock.writes.length, 4, "1 attempt + 3 noise retries");
    assert.deepEqual([dead, bus.deadMeters()], [[], []]);
  });

  it("takes a reply cut short by the line (bad length) as noise and retries it, even with no retries for silence", async () => {
    const mock = await openMock(false);
    let calls = 0;
    const cut = reply("5.00").subarray(0, -3); // checksum, end byte and one data byte lost
    mock.answer(() => (++calls <= 2 ? cut : reply("5.00")));
    const bus = new MeterBus(mock.port, { ...FAST, retries: 0 });
    const invalid: string[] = [];
    bus.on("invalid", (event: { reason: string }) => invalid.push(event.reason));
    assert.equal((await bus.read(METER, DI.FORWARD_ACTIVE_ENERGY)).value, "5.00");
    assert.equal(mock.writes.length, 3);
    assert.deepEqual(invalid, ["truncated", "truncated"]);
    assert.deepEqual(bus.deadMeters(), []);
  });

  it("counts only silence towards dead: noise then silence leaves the meter alive", async () => {
    const mock = await openMock(false);
    let calls = 0;
    const corrupt = fromHex(toHex(reply("1.00")).replace(/.. 16$/, "00 16"));
    mock.answer(() => (++calls === 1 ? corrupt : undefined));
    const bus = new MeterBus(mock.port, { ...FAST, retries: 1 });
    await assert.rejects(bus.read(METER, DI.FORWARD_ACTIVE_ENERGY), { code: "corrupt", message: /1 corrupted reply .*, 2 without reply after 3 attempts/ });
    assert.deepEqual(bus.deadMeters(), []);
  });

  it("marks a silent meter dead no longer than until probeDeadBy (the next boundary)", async () => {
    const mock = await openMock(false);
    let now = 1_000_000;
    const nextBoundary = (at: number) => Math.ceil((at + 1) / 10_000) * 10_000; // boundaries every 10 s
    const bus = new MeterBus(mock.port, { ...FAST, retries: 0, deadRetryMs: 60_000, probeDeadBy: nextBoundary, now: () => now });
    const deadUntil: number[] = [];
    bus.on("dead", (_address: string, until: number) => deadUntil.push(until));
    now = 1_003_000;
    await assert.rejects(bus.read(METER, DI.FORWARD_ACTIVE_ENERGY), { code: "timeout" });
    assert.deepEqual(deadUntil, [1_010_000], "dead until the next boundary, not for deadRetryMs");
    assert.equal(bus.deadUntilOf(METER), 1_010_000);
    now = 1_009_999;
    await assert.rejects(bus.read(METER, DI.FORWARD_ACTIVE_ENERGY), { code: "dead" });
    now = 1_010_000;
    mock.answer(() => reply("2.00"));
    assert.equal((await bus.read(METER, DI.FORWARD_ACTIVE_ENERGY)).value, "2.00", "probed at the boundary");
    assert.equal(mock.writes.length, 2);
  });

  it("marks a silent meter dead after its retries, skips it without using the line, and probes it once later", async () => {
    const mock = await openMock(false);
    let now = 1_000_000;
    const bus = new MeterBus(mock.port, { ...FAST, retries: 2, deadRetryMs: 10_000, now: () => now });
    const dead: string[] = [];
    bus.on("dead", (address: string) => dead.push(address));
    await assert.rejects(bus.read(METER, DI.FORWARD_ACTIVE_ENERGY), { name: "MeterError", code: "timeout" });
    assert.equal(mock.writes.length, 3);
    assert.deepEqual(dead, [METER]);

    await assert.rejects(bus.read(METER, DI.FORWARD_ACTIVE_ENERGY), { code: "dead" });
    assert.equal(mock.writes.length, 3, "a dead meter costs no bus time");

    now += 10_000;
    await assert.rejects(bus.read(METER, DI.FORWARD_ACTIVE_ENERGY), { code: "timeout" });
    assert.equal(mock.writes.length, 4, "one probe, no retries");

    now += 10_000;
    mock.answer(() => reply("2.00"));
    const alive: string[] = [];
    bus.on("alive", (address: string) => alive.push(address));
    assert.equal((await bus.read(METER, DI.FORWARD_ACTIVE_ENERGY)).value, "2.00");
    assert.deepEqual([alive, bus.deadMeters()], [[METER], []]);
  });

  it("reports an abnormal reply with the error names and keeps the meter alive", async () => {
    const mock = await openMock(false);
    mock.answer(() => encodeAbnormalReply(METER, 0x11, ["no-requested-data"]));
    const bus = new MeterBus(mock.port, FAST);
    await assert.rejects(bus.read(METER, DI.REVERSE_ACTIVE_ENERGY), (error: MeterError) => {
      assert.equal(error.code, "abnormal");
      assert.deepEqual(error.errors, ["no-requested-data"]);
      assert.match(error.message, /meter 123456789012 refused 00020000: no-requested-data/);
      return true;
    });
    assert.equal(mock.writes.length, 1, "an abnormal reply is an answer, not retried");
    assert.deepEqual(bus.deadMeters(), []);
  });

  it("ignores a reply from another meter or for another identifier", async () => {
    const mock = await openMock(false);
    const other = encodeReadReply("000000000001", DI.FORWARD_ACTIVE_ENERGY, encodeValue(DI.FORWARD_ACTIVE_ENERGY, "9.99"));
    const otherDi = encodeReadReply(METER, DI.REVERSE_ACTIVE_ENERGY, encodeValue(DI.REVERSE_ACTIVE_ENERGY, "8.88"));
    mock.answer(() => Buffer.concat([other, otherDi, reply("3.00")]));
    const bus = new MeterBus(mock.port, FAST);
    const stray: string[] = [];
    bus.on("stray", (message: { address: string }) => stray.push(message.address));
    assert.equal((await bus.read(METER, DI.FORWARD_ACTIVE_ENERGY)).value, "3.00");
    assert.deepEqual(stray, ["000000000001", METER]);
  });

  it("fails the request in flight and later ones when the port closes", async () => {
    const mock = await openMock(false);
    const bus = new MeterBus(mock.port, { ...FAST, responseTimeoutMs: 5000 });
    const inFlight = bus.read(METER, DI.FORWARD_ACTIVE_ENERGY);
    setTimeout(() => mock.port.close(), 20);
    await assert.rejects(inFlight, { code: "closed" });
    await assert.rejects(bus.read(METER, DI.FORWARD_ACTIVE_ENERGY), { code: "closed" });
  });

  it("rejects bad options and arguments with TypeError", async () => {
    const mock = await openMock(false);
    assert.throws(() => new MeterBus(mock.port, { retries: -1 }), TypeError);
    assert.throws(() => new MeterBus(mock.port, { line: { parity: "mark" as "odd" } }), TypeError);
    assert.throws(() => new MeterBus(mock.port, { line: { baudRate: 0 } }), TypeError);
    const bus = new MeterBus(mock.port, FAST);
    assert.throws(() => bus.read("AAAAAAAAAAAA", DI.FORWARD_ACTIVE_ENERGY), TypeError);
    assert.throws(() => bus.read(METER, "0001"), TypeError);
    assert.throws(() => bus.read(METER, "02800001"), { name: "FrameError", reason: "unknown-di" });
  });
});
