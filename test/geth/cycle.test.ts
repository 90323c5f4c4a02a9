/**
 * Test 2 on real Geth: three Clique sealers (Geth 1.13.15, a block every 2 s). The platform of
 * test/geth/platform.ts runs several intervals; the daemon uses node 2 first, and node 2 is
 * kill -9'd mid-run and stays down: two of three sealers keep sealing, and the daemon carries on
 * through node 1 and says so. Every interval cleared and settled exactly once, every reading once.
 * A bid mined after its window (a loaded CI machine, a sealer killed mid-window) is logged as missed:
 * what this test proves is the daemon's and the bridge's exactly-once through kills, and some
 * interval must still trade.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { runPlatform, startPlatform, stopPlatform } from "./platform";

before(async () => {
  await startPlatform({ engine: "clique", nodes: 3, period: 2, daemonNodes: [2, 1, 3], bidderNodes: [1, 3, 2], bridgeNodes: [1, 3], killDaemonNode: true, tolerateLateBids: true });
});
after(stopPlatform);

test("cycle:run, the meter bridge and bidders on Geth Clique through kill -9 of daemon, bridge and the daemon's node: every interval cleared and settled once, every reading once", { timeout: 40 * 60_000 }, async () => {
  const run = await runPlatform();
  const switched = run.daemonLog.filter((r) => r.action === "rpc" && r.event === "node-switch");
  assert.ok(switched.length > 0, "the daemon logged its switch away from the killed node");
  assert.notEqual(switched[0].node, switched[0].from);
});
