/** The bus and the simulator talking over a real pseudo-terminal pair. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { SerialPort } from "serialport";
import { DI, Message } from "../src/codec";
import { MeterBus, MeterError, Reading } from "../src/bus";
import { DEFAULT_LINE, closeSerialPort, openSerialPort, transmitMs } from "../src/line";
import { InvalidFrame } from "../src/parser";
import { MeterSimulator, SimulatedMeter, SimulatorOptions } from "../src/simulator";
import { PtyPair, PtyTool, hasSocat, startPtyPair } from "./support/ptyPair";

const METERS: SimulatedMeter[] = [
  { address: "000000000001", importWh: 112_280_260, exportWh: 0 },
  { address: "000000000002", importWh: 5_000, exportWh: 1_230, voltage: "229.7" },
  { address: "123456789012", importWh: 123_456_780, exportWh: 10, unsupported: [DI.REVERSE_ACTIVE_ENERGY] },
];
const DEAD = "000000000099";

interface Rig {
  pty: PtyPair;
  bridgePort: SerialPort;
  meterPort: SerialPort;
  simulator: MeterSimulator;
  bus: MeterBus;
  stop(): Promise<void>;
}

async function startRig(meters: SimulatedMeter[], simulatorOptions: SimulatorOptions = {}, tool?: PtyTool): Promise<Rig> {
  const pty = await startPtyPair(tool);
  const bridgePort = await openSerialPort(pty.a, DEFAULT_LINE);
  const meterPort = await openSerialPort(pty.b, DEFAULT_LINE);
  const simulator = new MeterSimulator(meterPort, meters, simulatorOptions);
  const bus = new MeterBus(bridgePort, { responseTimeoutMs: 300, interByteTimeoutMs: 100, retries: 1, deadRetryMs: 1_500 });
  return {
    pty,
    bridgePort,
    meterPort,
    simulator,
    bus,
    async stop() {
      simulator.stop();
      await closeSerialPort(bridgePort);
      await closeSerialPort(meterPort);
      await pty.stop();
    },
  };
}

/** Reads, or returns the MeterError code. */
async function readOrCode(bus: MeterBus, address: string, di: string): Promise<Reading | string> {
  try {
    return await bus.read(address, di);
  } catch (error) {
    if (error instanceof MeterError) return error.code;
    throw error;
  }
}

for (const tool of (hasSocat() ? ["socat", "python"] : ["python"]) as PtyTool[]) {
  describe(`bus over a pty pair (${tool})`, () => {
    let rig: Rig;
    before(async () => (rig = await startRig(METERS, {}, tool)));
    after(() => rig.stop());

    it("reads import and export of several meters, exactly as the meters hold them", async () => {
      const values = [];
      for (const { address } of METERS.slice(0, 2)) {
        values.push((await rig.bus.read(address, DI.FORWARD_ACTIVE_ENERGY)).value, (await rig.bus.read(address, DI.REVERSE_ACTIVE_ENERGY)).value);
      }
      assert.deepEqual(values, ["112280.26", "0.00", "5.00", "1.23"]);
      assert.deepEqual(await rig.bus.read("000000000002", DI.VOLTAGE_B), { address: "000000000002", di: "02010200", value: "229.7", unit: "V" });
      assert.deepEqual(await rig.bus.read("000000000002", DI.METER_ADDRESS), { address: "000000000002", di: "04000401", value: "000000000002", unit: "" });
    });

    it("takes the time the line needs at 2400 8E1 (request, 20 ms reply delay, reply)", async () => {
      const started = performance.now();
      await rig.bus.read("000000000001", DI.FORWARD_ACTIVE_ENERGY);
      const elapsed = performance.now() - started;
      const lineMs = transmitMs(20 + 24, DEFAULT_LINE) + 20; // 4 FE + 16 request bytes, 4 FE + 20 reply bytes
      // the lower bound shows the simulator paces bytes at the line rate; the upper one only that
      // the read ended with the reply, not with the 300 ms response timeout
      assert.ok(elapsed >= lineMs - 5 && elapsed < lineMs + 300, `one read took ${elapsed.toFixed(0)} ms, the line needs ${lineMs.toFixed(0)} ms`);
    });

    it("reports an abnormal reply by name and goes on with the next meter", async () => {
      await assert.rejects(rig.bus.read("123456789012", DI.REVERSE_ACTIVE_ENERGY), (error: MeterError) => error.code === "abnormal" && error.errors.join() === "no-requested-data");
      assert.equal((await rig.bus.read("123456789012", DI.FORWARD_ACTIVE_ENERGY)).value, "123456.78");
    });

    it("marks a dead meter without stalling the others, and probes it again later", async () => {
      const first = await readOrCode(rig.bus, DEAD, DI.FORWARD_ACTIVE_ENERGY);
      assert.equal(first, "timeout");
      assert.deepEqual(rig.bus.deadMeters(), [DEAD]);
      const heard: string[] = [];
      const listen = (message: Message) => heard.push("address" in message ? message.address : message.kind);
      rig.simulator.on("request", listen);
      const round = [];
      for (const address of [DEAD, "000000000001", DEAD, "000000000002"]) round.push(await readOrCode(rig.bus, address, DI.FORWARD_ACTIVE_ENERGY));
      rig.simulator.off("request", listen);
      assert.deepEqual(
        round.map((result) => (typeof result === "string" ? result : result.value)),
        ["dead", "112280.26", "dead", "5.00"],
      );
      // no request went out for the dead meter, so the round waited for no timeout
      assert.deepEqual(heard, ["000000000001", "000000000002"]);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      assert.equal(await readOrCode(rig.bus, DEAD, DI.FORWARD_ACTIVE_ENERGY), "timeout", "probed once after deadRetryMs");
    });
  });
}

describe("bus over a noisy line", () => {
  let rig: Rig;
  const invalid: InvalidFrame[] = [];
  before(async () => {
    // noise at every turnaround: stray bytes and a cut-off frame header before the reply
    rig = await startRig(METERS.slice(0, 2), { noiseBeforeReply: "00 FF 16 68 12 90 78 56 34 12 68 91 40 33", preamble: 7 });
    rig.bus.on("invalid", (event: InvalidFrame) => invalid.push(event));
  });
  after(() => rig.stop());

  it("still reads every meter, and reports the cut-off frames", async () => {
    const values = [];
    for (let i = 0; i < 3; i++) values.push((await rig.bus.read("000000000002", DI.FORWARD_ACTIVE_ENERGY)).value);
    assert.deepEqual(values, ["5.00", "5.00", "5.00"]);
    assert.deepEqual(
      invalid.map((event) => event.reason),
      ["truncated", "truncated", "truncated"],
    );
  });
});

describe("several ports in parallel", () => {
  const rigs: Rig[] = [];
  before(async () => {
    rigs.push(await startRig([METERS[0]]), await startRig([METERS[1]]));
  });
  after(() => Promise.all(rigs.map((rig) => rig.stop())));

  it("polls two buses at the same time, each at its own line rate", async () => {
    // each simulator notes when it hears a request and when its reply is through
    const timeline: { bus: number; what: "request" | "reply"; at: number }[] = [];
    rigs.forEach((rig, bus) => {
      rig.simulator.on("request", () => timeline.push({ bus, what: "request", at: performance.now() }));
      rig.simulator.on("reply", () => timeline.push({ bus, what: "reply", at: performance.now() }));
    });
    const pollBus = async (rig: Rig, address: string) => {
      const values = [];
      for (let i = 0; i < 4; i++) values.push((await rig.bus.read(address, DI.FORWARD_ACTIVE_ENERGY)).value);
      return values;
    };
    const results = await Promise.all([pollBus(rigs[0], "000000000001"), pollBus(rigs[1], "000000000002")]);
    assert.deepEqual(results, [Array(4).fill("112280.26"), Array(4).fill("5.00")]);
    // in parallel, each bus hears its first request before the other has finished its reads
    const first = (bus: number) => timeline.find((e) => e.bus === bus && e.what === "request")!.at;
    const last = (bus: number) => timeline.filter((e) => e.bus === bus && e.what === "reply").at(-1)!.at;
    assert.equal(timeline.filter((e) => e.what === "reply").length, 8);
    assert.ok(first(1) < last(0) && first(0) < last(1), "the two buses were polled one after the other");
  });
});
