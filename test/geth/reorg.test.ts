/**
 * Test 3 on real Geth: proof of work (Geth 1.11.6, ethash), two mining nodes peered through the p2p
 * relay of a partitionable chain. The platform of test/geth/platform.ts runs several intervals
 * (daemon and bridge kill -9'd and restarted); the daemon and the bridge send through node 2, the
 * bidders through node 1. Just before one clearing the relay cuts the two nodes apart: node 2 mines
 * alone the daemon's clearing, the meters' readings of the interval ending then and the daemon's
 * settlement of it; then node 2 stops mining, node 1 mines on until its branch is heavier, node 2
 * is killed (a crash on the losing side; a live node would put the dropped blocks' transactions back
 * in its own pool and mine them again by itself) and the network healed. Node 2's branch is gone
 * with all of those transactions; the daemon and the bridge move to node 1, notice it (receipt gone,
 * block hash replaced), log how deep it was and send the same transactions again. Node 2 then starts
 * again and takes node 1's branch. Afterwards nothing is lost or doubled and conservation holds
 * (runPlatform's checks), and every transaction the daemon re-sent is on the chain.
 *
 * In `npm run test:geth` (two miners keep both cores busy; 150-second intervals).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { runPlatform, startPlatform, stopPlatform } from "./platform";

before(async () => {
  await startPlatform({
    engine: "ethash",
    nodes: 2,
    daemonNodes: [2, 1],
    bidderNodes: [1, 2],
    bridgeNodes: [2, 1],
    partition: { a: [1], b: [2], seconds: 150 },
    tolerateLateBids: true,
    // ethash blocks come every few seconds to tens of seconds here: windows of several blocks, and a
    // loaded machine: a `bid` task must start and get its commit mined within the window. The grace
    // for readings is wide: after the heal the bridge's readings and the daemon's settlement come
    // back in whatever order the miners take them, and a settlement mined first past the grace
    // would settle without the reading (its energy then counts in the next interval).
    schedule: { interval: 150, commit: 70, reveal: 45, settleOffset: 15, grace: 120 },
  });
});
after(stopPlatform);

test("ethash, two miners, a partition across a clearing, readings and a settlement: the lighter branch is reorganized away, the daemon and the bridge re-send what left the chain, nothing lost or doubled", { timeout: 60 * 60_000 }, async () => {
  const run = await runPlatform();
  const d = run.first + 1;
  // the sender's records carry the caller's label: `action` says what the transaction was
  const tx = run.daemonLog.filter((r) => r.event === "reorg" || r.event === "resent" || r.event === "mined-again");
  const resentByDaemon = tx.filter((r) => r.event === "resent");

  // the daemon: each transaction the reorg took off is logged with the reorg's depth and what it was
  const reorgs = tx.filter((r) => r.event === "reorg");
  assert.ok(reorgs.length > 0, "the daemon noticed its transactions leave the chain");
  // a number, or ">= N (the old branch is unknown to this node)" when the daemon moved to a node that never had that branch
  const saysDepth = (x: unknown) => (typeof x === "number" && x >= 1) || (typeof x === "string" && /^>= \d+ /.test(x));
  for (const r of reorgs) assert.ok(saysDepth(r.depth), `the log says how deep the reorg was (${JSON.stringify(r)})`);
  assert.ok(reorgs.some((r) => r.action === "clear" && r.interval === d), `the clearing of interval ${d} was among them`);
  assert.ok(reorgs.every((r) => typeof r.interval === "number"), "each names the interval it was for");
  assert.ok(resentByDaemon.length > 0, "the daemon sent transactions again");
  for (const r of resentByDaemon) assert.ok(typeof r.action === "string" && saysDepth(r.reorgDepth), `the re-send says what it was and how deep the reorg was (${JSON.stringify(r)})`);
  for (const hash of new Set(reorgs.map((r) => String(r.tx)))) {
    const receipt = await run.receipt(hash);
    assert.ok(receipt, `the daemon's ${hash}, taken off by the reorg, is on the chain again`);
  }

  // the bridge: the reorganization and its depth, and the readings it sent again
  const bridgeReorgs = run.bridgeLog.filter((r) => r.msg === "chain reorganization");
  assert.ok(bridgeReorgs.length > 0, "the bridge noticed the reorganization");
  for (const r of bridgeReorgs) assert.ok(typeof r.depth === "number" && r.depth >= 1, `the bridge's log says how deep (${JSON.stringify(r)})`);
  const resent = run.bridgeLog.filter((r) => r.msg === "reading sent again after a reorganization");
  assert.ok(resent.length > 0, "the bridge sent readings again");
  assert.ok(resent.some((r) => r.interval === d - 1), `among them readings of interval ${d - 1}`);

  console.log(`# heal at heights ${run.reorgAt!.a.number} | ${run.reorgAt!.b.number}; daemon: ${reorgs.map((r) => `${r.action} ${r.interval} depth ${r.depth}`).join("; ")}; daemon re-sent: ${resentByDaemon.map((r) => `${r.action} ${r.interval}`).join("; ")}; bridge: ${bridgeReorgs.map((r) => `depth ${r.depth}`).join(", ")}, ${resent.length} reading(s) sent again`);
});
