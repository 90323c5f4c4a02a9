/** The command line as a user runs it: the compiled dist/cli.js in a child process. */
import assert from "node:assert/strict";
import { ChildProcess, execFile, spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { JsonRpcProvider, Wallet, encryptKeystoreJson } from "ethers";
import { VECTORS } from "./support/vectors";
import { PtyPair, startPtyPair } from "./support/ptyPair";
import { sleep } from "./support/wait";
import { Anvil, CHAIN_ID, DEV_KEY, freePort } from "./support/anvil";
import { deployMarket } from "./support/market";
import { CLI, PACKAGE_ROOT, REPO_ROOT } from "./support/paths";

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(file: string, args: string[], cwd?: string, timeout = 60_000): Promise<Result> {
  try {
    const { stdout, stderr } = await promisify(execFile)(file, args, { cwd, timeout });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const cli = (...args: string[]) => run(process.execPath, [CLI, ...args]);

/** One line on stderr, exit `code`; stdout empty, or (for the daemon) its JSON log lines only. */
function assertCleanFailure(result: Result, message: RegExp, code = 1): void {
  assert.equal(result.code, code, result.stderr);
  if (code === 2) assert.ok(result.stdout.split("\n").every((line) => line === "" || JSON.parse(line).msg), "only log lines on stdout");
  else assert.equal(result.stdout, "");
  assert.match(result.stderr, message);
  assert.equal(result.stderr.split("\n").length, 2, "one line");
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
    assertCleanFailure(await cli("fly"), /^meter-bridge: unknown command "fly" \(commands: run, read, frame, simulate; "meter-bridge help" shows their options\)\n$/);
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

describe("npx meter-bridge", () => {
  it("runs from the repository root after npm ci, as the README shows", async () => {
    const result = await run("npx", ["--no-install", "meter-bridge", "frame", "decode", VECTORS.replyForward112280_26], REPO_ROOT);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).value, "112280.26");
  });

  it("runs on a gateway installed as the README shows (package.json, package-lock.json and meter-bridge/ only)", async () => {
    const gateway = mkdtempSync(path.join(tmpdir(), "meter-bridge-gateway-"));
    for (const file of ["package.json", "package-lock.json"]) cpSync(path.join(REPO_ROOT, file), path.join(gateway, file));
    for (const entry of ["package.json", "tsconfig.json", "README.md", "src", "bin", "scripts", "deploy", "examples"]) cpSync(path.join(PACKAGE_ROOT, entry), path.join(gateway, "meter-bridge", entry), { recursive: true });
    // the packages are in npm's cache after the repository's own npm ci; its prepare script builds dist/
    const install = await run("npm", ["ci", "-w", "meter-bridge", "--include-workspace-root=false", "--prefer-offline", "--no-audit", "--no-fund"], gateway, 120_000);
    assert.equal(install.code, 0, install.stderr);
    const result = await run("npx", ["--no-install", "meter-bridge", "frame", "decode", VECTORS.replyForward112280_26], gateway);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).value, "112280.26");
    assert.ok(existsSync(path.join(gateway, "meter-bridge/dist/cli.js")));
  });
});

describe("meter-bridge run stops on a wrong setting with one line (exit code 2)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "meter-bridge-settings-"));
  const meterKey = Wallet.createRandom().privateKey;
  let anvil: Anvil;
  let market: string;
  let configs = 0;

  before(async () => {
    anvil = new Anvil({ port: await freePort() });
    await anvil.start();
    const provider = new JsonRpcProvider(anvil.url, CHAIN_ID, { staticNetwork: true });
    ({ address: market } = await deployMarket(new Wallet(DEV_KEY, provider), { startTime: Math.floor(Date.now() / 1000) - 600, intervalSeconds: 60, meters: [{ address: "000000000001", account: new Wallet(meterKey).address, ratedPowerW: 100_000 }] }));
    provider.destroy();
    writeFileSync(path.join(dir, "meter1.key"), meterKey);
    writeFileSync(path.join(dir, "meter2.json"), await encryptKeystoreJson({ address: new Wallet(meterKey).address, privateKey: meterKey }, "right password", { scrypt: { N: 1024 } }));
    writeFileSync(path.join(dir, "meter2.password"), "wrong password\n");
  });
  after(() => anvil?.stop());

  /** Runs the daemon with a config: a working one for the chain and market, changed by `change`. */
  async function runWith(change: (config: Record<string, any>) => void): Promise<Result> {
    const config: Record<string, any> = {
      rpcUrl: anvil.url,
      chainId: CHAIN_ID,
      market,
      journal: `journal-${++configs}.jsonl`,
      timeSync: { enabled: false },
      ports: [{ path: "/dev/meter-bridge-no-such-port", meters: [{ address: "000000000001", key: { keyFile: "meter1.key" } }] }],
    };
    change(config);
    const file = path.join(dir, `bridge-${configs}.json`);
    writeFileSync(file, JSON.stringify(config));
    return run(process.execPath, [CLI, "run", "--config", file]);
  }

  it("a number written as a string, in the user's terms", async () => {
    assertCleanFailure(await runWith((config) => (config.ports[0].baudRate = "2400")), /^meter-bridge: config: ports\[0\]\.baudRate must be a number \(bits per second, e.g\. 2400 or 9600, 300\.\.115200\), not the string "2400": write it without quotes\n$/, 2);
  });

  it("maxReadDelaySeconds outside 1..60", async () => {
    for (const value of [0, 100000]) {
      assertCleanFailure(await runWith((config) => (config.maxReadDelaySeconds = value)), new RegExp(`^meter-bridge: config: maxReadDelaySeconds must be a whole number 1\\.\\.60 \\(seconds\\), got ${value}\\n$`), 2);
    }
  });

  it("a misspelt field", async () => {
    assertCleanFailure(await runWith((config) => (config.ports[0].baudrate = 9600)), /^meter-bridge: config: ports\[0\] has an unknown field "baudrate" \(known: path, baudRate, /, 2);
  });

  it("a missing key file, naming the meter and the file", async () => {
    assertCleanFailure(await runWith((config) => (config.ports[0].meters[0].key = { keyFile: "missing.key" })), new RegExp(`^meter-bridge: meter 000000000001: key file ${path.join(dir, "missing.key")} does not exist\\n$`), 2);
  });

  it("a keystore password that does not open the keystore, naming the meter and both files", async () => {
    const result = await runWith((config) => (config.ports[0].meters[0].key = { keystore: "meter2.json", passwordFile: "meter2.password" }));
    assertCleanFailure(result, new RegExp(`^meter-bridge: meter 000000000001: the password in ${path.join(dir, "meter2.password")} does not open keystore ${path.join(dir, "meter2.json")}\\n$`), 2);
    assert.doesNotMatch(result.stderr, /REDACTED|INVALID_ARGUMENT|version=/, "no ethers internals");
  });

  it("a missing relayerKey file, naming it", async () => {
    assertCleanFailure(await runWith((config) => (config.relayerKey = { keyFile: "relayer.key" })), new RegExp(`^meter-bridge: relayerKey: key file ${path.join(dir, "relayer.key")} does not exist\\n$`), 2);
  });

  it("a relayerKey for a market that signs readings in another EIP-712 domain", async () => {
    const provider = new JsonRpcProvider(anvil.url, CHAIN_ID, { staticNetwork: true });
    // a contract answering every call with six words, the second 1: schedule() has 1-s intervals, domainSeparator() is zero
    const deployed = await (await new Wallet(DEV_KEY, provider).sendTransaction({ data: "0x600a600c600039600a6000f3600160205260c06000f3" })).wait();
    provider.destroy();
    const other = deployed!.contractAddress!;
    writeFileSync(path.join(dir, "relayer.key"), Wallet.createRandom().privateKey);
    const result = await runWith((config) => Object.assign(config, { market: other, relayerKey: { keyFile: "relayer.key" } }));
    assertCleanFailure(result, new RegExp(`^meter-bridge: the market ${other} on chain ${CHAIN_ID} signs in another EIP-712 domain \\(0x0{64}, the bridge signs for 0x[0-9a-f]{64}\\): its readings would be refused\\n$`), 2);
  });

  it("a node on another chain, naming both chain ids", async () => {
    assertCleanFailure(await runWith((config) => (config.chainId = 1)), new RegExp(`^meter-bridge: chain id mismatch: the node at ${anvil.url} is on chain ${CHAIN_ID}, the config says chainId 1\\n$`), 2);
  });

  it("a market address without a contract, naming the address", async () => {
    const nowhere = Wallet.createRandom().address;
    assertCleanFailure(await runWith((config) => (config.market = nowhere)), new RegExp(`^meter-bridge: no contract at market ${nowhere} on chain ${CHAIN_ID}: check "market" in the config\\n$`), 2);
  });

  it("a market address holding another contract", async () => {
    const provider = new JsonRpcProvider(anvil.url, CHAIN_ID, { staticNetwork: true });
    // a contract whose code is a single STOP: every call succeeds and returns nothing
    const deployed = await (await new Wallet(DEV_KEY, provider).sendTransaction({ data: "0x6001600c60003960016000f300" })).wait();
    provider.destroy();
    const other = deployed!.contractAddress!;
    assertCleanFailure(await runWith((config) => (config.market = other)), new RegExp(`^meter-bridge: the contract at market ${other} on chain ${CHAIN_ID} is not an EnergyMarket: it has no schedule\\(\\) \\(`), 2);
  });

  it("a port that cannot be opened: without requirePorts, an error at start and at every interval, and the bridge keeps running", async () => {
    const provider = new JsonRpcProvider(anvil.url, CHAIN_ID, { staticNetwork: true });
    const { address: fast } = await deployMarket(new Wallet(DEV_KEY, provider), { startTime: Math.floor(Date.now() / 1000) - 10, intervalSeconds: 5, meters: [] });
    provider.destroy();
    const config = { rpcUrl: anvil.url, chainId: CHAIN_ID, market: fast, journal: `journal-${++configs}.jsonl`, maxReadDelaySeconds: 1, timeSync: { enabled: false }, ports: [{ path: "/dev/meter-bridge-no-such-port", meters: [{ address: "000000000001", key: { keyFile: "meter1.key" } }] }] };
    const file = path.join(dir, `bridge-${configs}.json`);
    writeFileSync(file, JSON.stringify(config));
    const child = spawn(process.execPath, [CLI, "run", "--config", file], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk));
    const lines = () => stdout.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as { level: string; msg: string; interval?: number; port?: string });
    const missed = () => lines().filter((line) => line.msg === "readings missed: port unavailable");
    for (const until = Date.now() + 20_000; missed().length < 3 && Date.now() < until; ) await sleep(100);
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    assert.equal(await exited, 0, "still running, stopped cleanly by SIGTERM");
    const start = lines().filter((line) => line.msg === "port unavailable at start: its meters are not read until it appears");
    assert.deepEqual(start.map((line) => [line.level, line.port]), [["error", "/dev/meter-bridge-no-such-port"]]);
    const intervals = missed().map((line) => line.interval!);
    assert.ok(intervals.length >= 3 && missed().every((line) => line.level === "error"), `an error each interval: ${intervals.join(",")}`);
    assert.deepEqual(intervals, intervals.map((_, i) => intervals[0] + i), "every interval, one after the other");
  });

  it("a port that cannot be opened, with requirePorts", async () => {
    const result = await runWith((config) => (config.requirePorts = true));
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /^meter-bridge: cannot open \/dev\/meter-bridge-no-such-port: .* \(the port of meters 000000000001; "requirePorts" is set\)\n$/);
    assert.ok(result.stdout.split("\n").some((line) => line.includes('"bridge started"')), "it got as far as the ports");
  });
});
