/**
 * Test 3 on real Geth: proof of work (Geth 1.11.6, ethash), two mining nodes. The platform of
 * test/geth/platform.ts runs several intervals (daemon and bridge kill -9'd and restarted), and across
 * one clearing the network is cut in two (admin_removePeer, discovery off): both nodes mine their own
 * blocks; once the daemon's clearing is mined on its side (node 2), node 2 stops mining and node 1
 * mines on until its branch is two blocks longer. On
 * healing, node 2's branch is reorganized away; the daemon's transactions that were only in it are
 * noticed (receipt gone or moved) and sent again, and its log says how deep the reorg was and what
 * was re-sent. Nothing lost, nothing doubled, conservation holds.
 *
 * In `npm run test:geth` (two miners keep both cores busy; 150-second intervals, about 20 minutes).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { runPlatform, startPlatform, stopPlatform } from "./platform";

before(async () => {
  await startPlatform({ engine: "ethash", nodes: 2, daemonNodes: [2, 1], bidderNodes: [1, 2], bridgeNode: 1, partition: { a: [1], b: [2], seconds: 180 },
    tolerateLateBids: true,
    // ethash blocks come every few seconds to tens of seconds here: windows of several blocks
    // and a loaded machine: a `bid` task must start and get its commit mined within the window
    schedule: { interval: 150, commit: 70, reveal: 45, settleOffset: 15, grace: 30 },
  });
});
after(stopPlatform);

test("ethash, two miners, a partition across a clearing: the shorter branch is reorganized away, the daemon re-sends what it lost, nothing lost or doubled", { timeout: 45 * 60_000 }, async () => {
  const run = await runPlatform();
  const reorgs = run.daemonLog.filter((r) => r.action === "tx" && r.event === "reorg");
  assert.ok(reorgs.length > 0, "the daemon noticed its transactions leave the chain");
  for (const r of reorgs) assert.ok(typeof r.depth === "number" && r.depth >= 1, `the log says how deep the reorg was (${JSON.stringify(r)})`);
  const again = run.daemonLog.filter((r) => r.action === "tx" && (r.event === "resent" || r.event === "mined-again"));
  assert.ok(again.length > 0, "the log says what was sent again");
  console.log(`# reorgs seen by the daemon: ${reorgs.map((r) => `${r.action}/${r.tx} depth ${r.depth}`).join("; ")}`);
});
