/**
 * Preloaded into `cycle:run` by `npm run soak:geth -- --heap` (NODE_OPTIONS="--expose-gc --require
 * this file"): every minute it forces a full garbage collection and appends what is still alive to
 * `$SOAK_HEAP_DIR/cycle-heap.csv`, so growth of live objects is told apart from the allocator and
 * V8 keeping freed memory (resident size). At the minutes listed in `$SOAK_HEAP_SNAPSHOTS` (e.g.
 * "5,60") it writes a heap snapshot (`cycle-<minute>.heapsnapshot`) to compare what is retained.
 *
 * Plain CommonJS: it is loaded before Hardhat registers its TypeScript compiler. Every other process
 * that inherits NODE_OPTIONS (bots, tasks, the bridge) is left alone.
 */
"use strict";
const { appendFileSync, existsSync, writeFileSync } = require("node:fs");
const path = require("node:path");
const v8 = require("node:v8");

const dir = process.env.SOAK_HEAP_DIR;
if (dir && process.argv.includes("cycle:run") && typeof global.gc === "function") {
  const csv = path.join(dir, "cycle-heap.csv");
  if (!existsSync(csv)) writeFileSync(csv, "minute,heap_used_mib,heap_total_mib,external_mib,array_buffers_mib,rss_mib\n");
  const snapshots = new Set(String(process.env.SOAK_HEAP_SNAPSHOTS || "").split(",").filter(Boolean).map(Number));
  const started = Date.now();
  const mib = (bytes) => (bytes / 1048576).toFixed(2);
  let minute = 0;
  const sample = () => {
    global.gc();
    const m = process.memoryUsage();
    appendFileSync(csv, [minute, mib(m.heapUsed), mib(m.heapTotal), mib(m.external), mib(m.arrayBuffers), mib(m.rss)].join(",") + "\n");
    if (snapshots.has(minute)) v8.writeHeapSnapshot(path.join(dir, `cycle-${minute}.heapsnapshot`));
    minute++;
    setTimeout(sample, started + minute * 60_000 - Date.now()).unref();
  };
  setTimeout(sample, 60_000).unref();
  minute = 1;
}
