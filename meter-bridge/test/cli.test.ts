/** The command line as a user runs it: the compiled dist/cli.js in a child process. */
import assert from "node:assert/strict";
import { ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { VECTORS } from "./support/vectors";
import { PtyPair, startPtyPair } from "./support/ptyPair";

import { CLI } from "./support/paths";

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(...args: string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

function assertCleanFailure(result: Result, message: RegExp): void {
  assert.equal(result.code, 1);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, message);
  assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
}

describe("meter-bridge frame", () => {
  it("decodes a reply to JSON with the exact value", async () => {
    const result = await cli("frame", "decode", VECTORS.replyForward123456_78);
    assert.equal(result.code, 0);
    assert.deepEqual(JSON.parse(result.stdout), {
      address: "123456789012",
      control: "91",
      direction: "meter",
      abnormal: false,
      followUp: false,
      function: "11",
      di: "00010000",
      value: "123456.78",
      unit: "kWh",
    });
  });

  it("decodes an abnormal reply to its error names, and a request to its identifier", async () => {
    const abnormal = JSON.parse((await cli("frame", "decode", VECTORS.abnormalNoData)).stdout);
    assert.deepEqual([abnormal.control, abnormal.abnormal, abnormal.error], ["D1", true, ["no-requested-data"]]);
    const request = JSON.parse((await cli("frame", "decode", ...VECTORS.wildcardReadForward.split(" "))).stdout);
    assert.deepEqual([request.address, request.direction, request.di, request.value], ["AAAAAAAAAAAA", "master", "00010000", undefined]);
  });

  it("says what is wrong with a malformed frame and exits 1", async () => {
    assertCleanFailure(await cli("frame", "decode", VECTORS.replyForward123456_78.replace(/CC 16$/, "CD 16")), /^meter-bridge: bad checksum: frame says CD, bytes sum to CC\n$/);
    assertCleanFailure(await cli("frame", "decode", "68 12 90 78"), /frame truncated/);
    assertCleanFailure(await cli("frame", "decode", "68 1"), /^meter-bridge: "68 1" has an odd number of hex digits \(3\): each byte is two digits, e.g. 68 01\n$/);
    assertCleanFailure(await cli("frame", "decode", "zz"), /^meter-bridge: "zz" is not hex: "z" is not a hex digit \(write bytes as pairs of hex digits, e.g. 68 12 90\)\n$/);
  });

  it("decodes a load record reply to its time and energy registers", async () => {
    const reply = "68 01 00 00 00 00 00 68 91 22 34 33 37 39 D3 D3 4C 48 47 3C 36 57 DD DD DD 89 67 45 33 BC 3A 33 33 33 33 33 33 33 33 33 33 DD B9 18 46 16";
    const result = JSON.parse((await cli("frame", "decode", reply)).stdout);
    assert.deepEqual([result.di, result.recordTime, result.classes, result.forwardKWh, result.reverseKWh], ["06040001", "2024-03-09T14:15", [4], "1234.56", "7.89"]);
  });

  it("encodes a read request with the 4-byte FE preamble", async () => {
    const result = await cli("frame", "encode-read", "--address", "123456789012", "--di", "00010000");
    assert.equal(result.stdout, `FE FE FE FE ${VECTORS.readForward123456789012}\n`);
    assertCleanFailure(await cli("frame", "encode-read", "--address", "1234", "--di", "00010000"), /--address must be 12 decimal digits/);
    assertCleanFailure(await cli("frame", "encode-read", "--address", "123456789012"), /--di is required/);
  });

  it("rejects unknown commands and options", async () => {
    assertCleanFailure(await cli("fly"), /unknown command "fly"/);
    assertCleanFailure(await cli("read", "--speed", "9"), /Unknown option '--speed'/);
  });
});

describe("meter-bridge read and simulate over a pty pair", () => {
  let pty: PtyPair;
  let simulator: ChildProcess;
  before(async () => {
    pty = await startPtyPair();
    const dir = mkdtempSync(path.join(tmpdir(), "meter-bridge-cli-"));
    const meters = path.join(dir, "meters.json");
    writeFileSync(meters, JSON.stringify({ replyDelayMs: 30, meters: [{ address: "000000000001", importWh: 112280260, unsupported: ["00020000"] }] }));
    simulator = spawn(process.execPath, [CLI, "simulate", "--port", pty.b, "--meters", meters], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise((resolve) => simulator.stdout!.once("data", resolve));
  });
  after(async () => {
    simulator.kill("SIGTERM");
    await new Promise((resolve) => simulator.once("exit", resolve));
    await pty.stop();
  });

  it("reads a register and prints { address, di, value, unit }", async () => {
    const result = await cli("read", "--port", pty.a, "--address", "000000000001", "--di", "00010000", "--baud", "2400", "--parity", "even");
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { address: "000000000001", di: "00010000", value: "112280.26", unit: "kWh" });
  });

  it("reports an abnormal reply by name and exits 1", async () => {
    assertCleanFailure(await cli("read", "--port", pty.a, "--address", "000000000001", "--di", "00020000"), /meter 000000000001 refused 00020000: no-requested-data/);
  });

  it("reports a meter that does not answer and exits 1", async () => {
    assertCleanFailure(await cli("read", "--port", pty.a, "--address", "000000000002", "--di", "00010000", "--timeout", "100", "--retries", "0"), /^meter-bridge: meter 000000000002: no reply after 1 attempt\n$/);
  });

  it("reports a port that cannot be opened and exits 1", async () => {
    assertCleanFailure(await cli("read", "--port", "/dev/no-such-port", "--address", "000000000001", "--di", "00010000"), /cannot open \/dev\/no-such-port/);
  });
});
