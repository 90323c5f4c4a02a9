/** The daemon's config: the example parses, and each mistake gets a message in the user's terms. */
import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { loadConfig, parseConfig } from "../src/config";
import { SettingsError } from "../src/settings";
import { PACKAGE_ROOT } from "./support/paths";

const BASE = { rpcUrl: "http://127.0.0.1:8545", chainId: 31337, market: "0x5FbDB2315678afecb367f032d93F642f64180aa3", journal: "journal.jsonl", ports: [{ path: "/dev/ttyUSB0", meters: [{ address: "000000000001", key: { keyFile: "a.key" } }] }] };
const parse = (change: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => parseConfig({ ...BASE, ...change }, "/etc/meter-bridge", env);
const refused = (change: Record<string, unknown>, message: RegExp, env?: NodeJS.ProcessEnv) => assert.throws(() => parse(change, env), (error: Error) => error instanceof SettingsError && message.test(error.message));

describe("config", () => {
  it("reads the example with every option", () => {
    const config = loadConfig(path.join(PACKAGE_ROOT, "examples/bridge.json"), {});
    assert.deepEqual(config.rpcUrls, ["http://10.0.0.11:8545", "http://10.0.0.12:8545"]);
    assert.deepEqual(config.timeSync, { enabled: true, dailyAt: "02:30", warnSeconds: 10 });
    assert.deepEqual([config.requirePorts, config.journalHistoryIntervals, config.poster.watchBlocks, config.ports[0].bus.noiseRetries], [false, 16, 128, 3]);
    assert.deepEqual(config.ports[1].line, { baudRate: 9600, parity: "even", dataBits: 8, stopBits: 1 });
    assert.deepEqual(config.relayerKey, { keystore: "/etc/meter-bridge/keys/relayer.json", passwordFile: "/etc/meter-bridge/keys/relayer.password" });
  });

  it("posts in batches sent by relayerKey's account when it is set, else each meter's own; a wrong relayerKey is named", () => {
    assert.equal(parse({}).relayerKey, undefined);
    assert.deepEqual(parse({ relayerKey: { keyFile: "relayer.key" } }).relayerKey, { keyFile: "relayer.key" });
    refused({ relayerKey: "relayer.key" }, /^config: relayerKey must be \{ "keystore": <file>, "passwordFile": <file> \} or \{ "keyFile": <file> \}$/);
  });

  it("takes one node as rpcUrl or several as rpcUrls; METER_BRIDGE_RPC_URL, one URL or a comma list, overrides both", () => {
    assert.deepEqual(parse({}).rpcUrls, ["http://127.0.0.1:8545"]);
    assert.deepEqual(parse({ rpcUrl: undefined, rpcUrls: ["http://a:8545", "https://b"] }).rpcUrls, ["http://a:8545", "https://b"]);
    assert.deepEqual(parse({}, { METER_BRIDGE_RPC_URL: "http://x:1, http://y:2" }).rpcUrls, ["http://x:1", "http://y:2"]);
    refused({ rpcUrls: ["http://a:8545"] }, /^config: rpcUrl and "rpcUrls" are both set/);
    refused({ rpcUrl: "127.0.0.1:8545" }, /^config: rpcUrl must be the node's http:\/\/ or https:\/\/ JSON-RPC URL, e\.g\. "http:\/\/127\.0\.0\.1:8545", got "127\.0\.0\.1:8545"$/);
    refused({}, /^METER_BRIDGE_RPC_URL \(URL 2\) must be the node's http/, { METER_BRIDGE_RPC_URL: "http://x:1,ws://y" });
  });

  it("names numbers written as strings, out-of-range values and misspelt fields in the user's terms", () => {
    refused({ maxReadDelaySeconds: "5" }, /^config: maxReadDelaySeconds must be a number \(seconds, 1\.\.60\), not the string "5": write it without quotes$/);
    refused({ maxReadDelaySeconds: 61 }, /^config: maxReadDelaySeconds must be a whole number 1\.\.60 \(seconds\), got 61$/);
    refused({ chainId: "31337" }, /^config: chainId must be a number \(the chain's id, >= 1\), not the string "31337"/);
    refused({ ports: [{ ...BASE.ports[0], parity: "EVEN" }] }, /^config: ports\[0\]\.parity must be one of "even", "odd", "none", got "EVEN"$/);
    refused({ ports: [{ ...BASE.ports[0], retries: -1 }] }, /^config: ports\[0\]\.retries must be a whole number 0\.\.20 \(attempts\), got -1$/);
    refused({ ports: [{ ...BASE.ports[0], meters: [{ address: "1", key: { keyFile: "a" } }] }] }, /^config: ports\[0\]\.meters\[0\]\.address must be the meter's 12-digit address/);
    refused({ ports: [{ ...BASE.ports[0], meters: [{ address: "000000000001", key: { file: "a" } }] }] }, /^config: ports\[0\]\.meters\[0\]\.key must be \{ "keystore": <file>, "passwordFile": <file> \} or \{ "keyFile": <file> \}$/);
    refused({ requirePorts: "yes" }, /^config: requirePorts must be true or false, got "yes"$/);
    refused({ pollMs: 100 }, /^config: the file has an unknown field "pollMs" \(known: /);
    refused({ market: "0x12" }, /^config: market must be the market contract's 0x address \(40 hex digits\), got "0x12"$/);
  });

  it("refuses a daily time broadcast the meters would ignore (within 5 min of midnight)", () => {
    refused({ timeSync: { dailyAt: "23:57" } }, /^config: timeSync: dailyAt 23:57 is within 5 min of midnight, when meters take no broadcast time$/);
    refused({ timeSync: { dailyAt: "2:30" } }, /^config: timeSync: dailyAt must be a local time "HH:MM", got "2:30"$/);
    assert.equal(parse({ timeSync: { enabled: false } }).timeSync.enabled, false);
  });
});
