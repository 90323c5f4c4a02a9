/**
 * The portal's server as the public endpoint it is, over real HTTP against anvil: /rpc serves the
 * allowlisted reads and raw transactions and refuses everything else by name (a node-side account,
 * a sealer vote, the pool, test methods), an oversized body, an over-long batch, a batch with one
 * method off the list, and a client over its rate; each refusal changes nothing on the chain.
 * /relay/* answers 404 without a relayer key; the key is read from the environment in one line.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import path from "node:path";
import { JsonRpcProvider, Wallet, parseEther } from "ethers";
import { Anvil } from "./support/anvil";
import { TestMarket, deployTestMarket, devKey, provider } from "./support/market";
import { WEB_ROOT } from "./support/paths";
import { startPortal } from "../server/portal";
import { relayerWallet } from "../server/relayer";
import { SERVED_METHODS } from "../server/rpc-proxy";

type Answer = { status: number; body: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

/** POST over real HTTP, optionally from another loopback address (another client). */
function post(url: string, body: string, o: { from?: string; contentType?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", localAddress: o.from, headers: { "content-type": o.contentType ?? "application/json" } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const call = (method: string, params: unknown[] = [], id: number = 1) => ({ jsonrpc: "2.0", id, method, params });

describe("the portal server (real HTTP, anvil)", { timeout: 120_000 }, () => {
  let anvil: Anvil;
  let p: JsonRpcProvider;
  let m: TestMarket;
  let portal: Awaited<ReturnType<typeof startPortal>>;
  const logs: string[] = [];
  let rpc: string;
  const rpcCall = (method: string, params: unknown[] = []) => post(rpc, JSON.stringify(call(method, params)));

  before(async () => {
    anvil = await Anvil.start(["--hardfork", "london"]);
    p = provider(anvil.url);
    m = await deployTestMarket(p);
    portal = await startPortal({ deployment: m.deployment, rpcUrl: anvil.url, distDir: path.join(WEB_ROOT, "dist"), log: (l) => logs.push(l) });
    rpc = `${portal.url}rpc`;
  });

  after(async () => {
    await portal?.close();
    p?.destroy();
    await anvil?.stop();
  });

  test("serves the deployment's market, the page, and the allowlisted reads and raw transactions", async () => {
    const config = await (await fetch(`${portal.url}config.json`)).json();
    assert.deepEqual([config.market, config.chainId, config.rpcUrl, config.relayer], [m.deployment.market, 31337, "rpc", null]);
    assert.match(await (await fetch(portal.url)).text(), /<div id="app">/);
    assert.equal((await fetch(`${portal.url}../../package.json`)).status, 404);
    assert.equal((await fetch(`${portal.url}%E0%A4%A`)).status, 400, "a malformed path is refused, the server stays up");

    const reads = await post(rpc, JSON.stringify([call("eth_chainId", [], 1), call("eth_getBalance", [m.deployment.operator, "latest"], 2), call("net_version", [], 3)]));
    assert.equal(reads.status, 200);
    assert.deepEqual(
      reads.body.map((a: { id: number; result: string }) => a.id),
      [1, 2, 3],
    );
    assert.equal(reads.body[0].result, "0x7a69");
    assert.ok(BigInt(reads.body[1].result) > 0n);

    // a transaction signed in the browser goes through
    const sender = new Wallet(devKey(5), p);
    const to = Wallet.createRandom().address;
    const signed = await sender.signTransaction(await sender.populateTransaction({ to, value: parseEther("0.01") }));
    const sent = await rpcCall("eth_sendRawTransaction", [signed]);
    assert.match(sent.body.result, /^0x[0-9a-f]{64}$/);
    assert.equal(await p.getBalance(to), parseEther("0.01"));
  });

  test("refuses every method off the list by name, and none of them reaches the node", async () => {
    const unlocked = new Wallet(devKey(6)).address; // anvil holds this key: eth_sendTransaction would send from it
    const [blockBefore, nonceBefore, balanceBefore] = await Promise.all([p.getBlockNumber(), p.getTransactionCount(unlocked), p.getBalance(unlocked)]);
    const refused: [string, unknown[]][] = [
      ["clique_propose", [unlocked, true]],
      ["clique_discard", [unlocked]],
      ["txpool_content", []],
      ["txpool_inspect", []],
      ["les_serverInfo", []],
      ["admin_addPeer", ["enode://00@127.0.0.1:30303"]],
      ["admin_nodeInfo", []],
      ["personal_unlockAccount", [unlocked, "", 0]],
      ["personal_sendTransaction", [{ from: unlocked, to: unlocked }, ""]],
      ["eth_sendTransaction", [{ from: unlocked, to: unlocked, value: "0x1" }]],
      ["eth_sign", [unlocked, "0x00"]],
      ["eth_signTypedData_v4", [unlocked, "{}"]],
      ["eth_accounts", []],
      ["eth_coinbase", []],
      ["debug_traceTransaction", ["0x" + "00".repeat(32)]],
      ["debug_setHead", ["0x1"]],
      ["miner_start", []],
      ["miner_setEtherbase", [unlocked]],
      ["anvil_setBalance", [unlocked, "0x0"]],
      ["anvil_mine", []],
      ["evm_mine", []],
      ["evm_setNextBlockTimestamp", [9_999_999_999]],
      ["hardhat_setBalance", [unlocked, "0x0"]],
      ["eth_newFilter", [{}]],
      ["eth_subscribe", ["newHeads"]],
      ["web3_clientVersion", []],
    ];
    for (const [method, params] of refused) {
      assert.ok(!SERVED_METHODS.has(method), `${method} is not on the list`);
      const a = await rpcCall(method, params);
      assert.equal(a.status, 200, method);
      assert.equal(a.body.id, 1, method);
      assert.equal(a.body.error.code, -32601, method);
      assert.equal(a.body.error.message, `${method} is not served by the portal (it serves chain reads and eth_sendRawTransaction only)`);
    }
    assert.deepEqual([await p.getBlockNumber(), await p.getTransactionCount(unlocked), await p.getBalance(unlocked)], [blockBefore, nonceBefore, balanceBefore], "nothing mined, sent or set");
    assert.ok(logs.some((l) => l.includes("/rpc refused a request from 127.0.0.1: clique_propose is not served")), "each refusal is logged in one line");
  });

  test("a batch with one method off the list is refused whole: its raw transaction is not sent", async () => {
    const sender = new Wallet(devKey(7), p);
    const signed = await sender.signTransaction(await sender.populateTransaction({ to: sender.address, value: 1n }));
    const nonce = await p.getTransactionCount(sender.address);
    const block = await p.getBlockNumber();
    const a = await post(rpc, JSON.stringify([call("eth_sendRawTransaction", [signed], 1), call("evm_mine", [], 2), call("eth_blockNumber", [], 3)]));
    assert.equal(a.status, 200);
    assert.deepEqual(
      a.body.map((x: { id: number; error: { message: string } }) => [x.id, x.error.message]),
      [
        [1, "not sent: the same batch asks for evm_mine, which the portal does not serve"],
        [2, "evm_mine is not served by the portal (it serves chain reads and eth_sendRawTransaction only)"],
        [3, "not sent: the same batch asks for evm_mine, which the portal does not serve"],
      ],
    );
    assert.equal(await p.getTransactionCount(sender.address), nonce, "the raw transaction was not sent");
    assert.equal(await p.getBlockNumber(), block, "nothing mined");
  });

  test("refuses an oversized body, an over-long batch and malformed JSON-RPC in one line each", async () => {
    const big = await post(rpc, JSON.stringify(call("eth_call", [{ to: m.deployment.market, data: "0x" + "00".repeat(80_000) }, "latest"])));
    assert.equal(big.status, 413, JSON.stringify(big.body));
    assert.match(big.body.error.message, /^the body is \d+ bytes; at most 131072 are taken$/);
    const long = await post(rpc, JSON.stringify(Array.from({ length: 101 }, (_, i) => call("eth_blockNumber", [], i))));
    assert.equal(long.status, 400);
    assert.equal(long.body.error.message, "a batch of 101 calls; the portal takes at most 100 in one request");
    const full = await post(rpc, JSON.stringify(Array.from({ length: 100 }, (_, i) => call("eth_blockNumber", [], i))));
    assert.equal(full.body.length, 100, "100 calls are served");
    for (const [body, code, message] of [
      ["{oops", -32700, "the body is not valid JSON"],
      ["[]", -32600, "an empty batch"],
      ["[1, 2]", -32600, "each call must be a JSON object with a string `method`"],
      ['{"id": 4, "method": 7}', -32600, "each call must be a JSON object with a string `method`"],
    ] as const) {
      const a = await post(rpc, body);
      assert.equal(a.status, 400, body);
      assert.deepEqual([a.body.error.code, a.body.error.message], [code, message], body);
      assert.ok(!a.body.error.message.includes("\n"));
    }
  });

  test("limits each client's calls a minute (a batch counts each call), one client's limit leaving another's alone", async () => {
    const limited = await startPortal({ deployment: m.deployment, rpcUrl: anvil.url, distDir: path.join(WEB_ROOT, "dist"), log: () => undefined, rpcLimits: { callsPerMinute: 5 } });
    try {
      const url = `${limited.url}rpc`;
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await post(url, JSON.stringify(call("eth_blockNumber")))).status);
      const batch = await post(url, JSON.stringify([call("eth_blockNumber", [], 1), call("eth_chainId", [], 2), call("eth_gasPrice", [], 3)]));
      statuses.push(batch.status);
      assert.deepEqual(statuses, [200, 200, 200, 429], "3 calls, then a batch of 3 over the 5 a minute");
      assert.deepEqual([batch.body.error.code, batch.body.error.message], [-32005, "too many calls from this client: try again in a minute"]);
      assert.equal((await post(url, JSON.stringify(call("eth_blockNumber")))).status, 200, "the refused batch took nothing: one call is left");
      assert.equal((await post(url, JSON.stringify(call("eth_blockNumber")))).status, 429);
      const other = await post(url, JSON.stringify(call("eth_blockNumber")), { from: "127.0.0.2" });
      assert.equal(other.status, 200, "another client has its own allowance");
    } finally {
      await limited.close();
    }
  });

  test("without a relayer key /relay/* answers 404 in one line", async () => {
    const a = await post(`${portal.url}relay/commit`, "{}");
    assert.equal(a.status, 404);
    assert.equal(a.body.error, "this portal has no relayer: send the transaction from your own account");
  });
});

test("the relayer's key comes from one setting, and a bad one is refused in one line", () => {
  const key = devKey(3);
  assert.equal(relayerWallet({}), undefined, "no key: no relayer");
  assert.equal(relayerWallet({ PORTAL_RELAYER_KEY: key })?.address, new Wallet(key).address);
  assert.equal(relayerWallet({ PORTAL_RELAYER: "operator", OPERATOR_PRIVATE_KEY: key })?.address, new Wallet(key).address);
  for (const [env, message] of [
    [{ PORTAL_RELAYER_KEY: "0x1234" }, "PORTAL_RELAYER_KEY: not a private key (expected 64 hex digits)"],
    [{ PORTAL_RELAYER_KEY: key, PORTAL_RELAYER: "operator" }, "give the relayer one key: PORTAL_RELAYER_KEY, PORTAL_RELAYER_KEYSTORE or PORTAL_RELAYER=operator"],
    [{ PORTAL_RELAYER_KEYSTORE: "/nowhere.json" }, "PORTAL_RELAYER_KEYSTORE is set but its password file is not (PORTAL_RELAYER_PASSWORD_FILE)"],
    [{ PORTAL_RELAYER_KEYSTORE: "/nowhere.json", PORTAL_RELAYER_PASSWORD_FILE: "/nowhere.txt" }, "cannot read keystore /nowhere.json"],
    [{ PORTAL_RELAYER: "operator" }, "PORTAL_RELAYER=operator, but neither OPERATOR_PRIVATE_KEY nor OPERATOR_KEYSTORE is set"],
    [{ PORTAL_RELAYER: "me" }, 'PORTAL_RELAYER may only be "operator", not "me"'],
  ] as const) {
    assert.throws(() => relayerWallet(env), { message }, JSON.stringify(env));
  }
});
