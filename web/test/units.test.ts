/** Display units and the portal server, without a browser. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import path from "node:path";
import { parseEther } from "ethers";
import { cny, ether, setCnyPerEther } from "../src/format";
import { startPortal } from "../server/portal";
import { WEB_ROOT } from "./support/paths";

test("ether is shown to 9 decimals and CNY beside it at the display rate (626.2 by default)", () => {
  assert.equal(ether(parseEther("0.0003")), "0.0003");
  assert.equal(ether(-parseEther("0.000708")), "-0.000708");
  assert.equal(ether(1n), "0.000000000000000001"); // a dust amount is never shown as zero
  assert.equal(cny(parseEther("1")), "¥626.2");
  assert.equal(cny(parseEther("0.000708")), "¥0.4433");
  assert.equal(cny(-parseEther("0.000052")), "-¥0.0325");
  setCnyPerEther("700");
  assert.equal(cny(parseEther("0.5")), "¥350");
  setCnyPerEther("626.2");
});

test("the portal server gives the deployment's market, proxies reads and raw transactions, and refuses node-side accounts and test methods", async () => {
  const calls: string[] = [];
  const node = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const { id, method } = JSON.parse(body);
      calls.push(method);
      res.end(JSON.stringify({ jsonrpc: "2.0", id, result: "0x7a69" }));
    });
  });
  await new Promise<void>((r) => node.listen(0, "127.0.0.1", r));
  const nodeUrl = `http://127.0.0.1:${(node.address() as { port: number }).port}`;
  const deployment = {
    network: "localhost",
    chainId: 31337,
    market: "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
    libraries: { Clearing: "", Settlement: "" },
    operator: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    deployedAt: { block: 5, time: 0 },
    schedule: { startTime: 0, intervalSeconds: 900, commitSeconds: 120, revealSeconds: 60, settleOffsetSeconds: 600, readingGraceSeconds: 300 },
  };
  const portal = await startPortal({ deployment, rpcUrl: nodeUrl, distDir: path.join(WEB_ROOT, "dist") });
  try {
    const config = await (await fetch(`${portal.url}config.json`)).json();
    assert.deepEqual([config.market, config.chainId, config.deployedAtBlock, config.rpcUrl, config.cnyPerEther], [deployment.market, 31337, 5, "rpc", "626.2"]);
    const rpc = (method: string) => fetch(`${portal.url}rpc`, { method: "POST", body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: [] }) }).then((r) => r.json());
    assert.equal((await rpc("eth_chainId")).result, "0x7a69");
    for (const m of ["eth_sendTransaction", "evm_mine", "anvil_setBalance", "personal_unlockAccount"]) assert.match((await rpc(m)).error.message, /not served by the portal/);
    assert.deepEqual(calls, ["eth_chainId"]);
    assert.equal((await fetch(`${portal.url}../../package.json`)).status, 404);
    assert.match(await (await fetch(portal.url)).text(), /<div id="app">/);
  } finally {
    await portal.close();
    node.close();
  }
});
