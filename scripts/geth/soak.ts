/**
 * `npm run soak:geth -- [--minutes 120] [--engine clique] [--period 1]`: the whole platform (web/scripts/demo-live.ts
 * --geth: two Geth nodes, the cycle daemon, the meter simulator and bridge over a pty, the bidding
 * bots and the portal) for a long time without restarts. Every minute it samples the resident memory
 * of each process, then stops everything and reports each one's memory slope (MiB per minute, least
 * squares) over the whole run and over its second half, where start-up has settled.
 *
 * Writes out/soak/memory.csv (minute, process, RSS MiB), out/soak/summary.json, and the demo's logs
 * stay in out/demo-live/. A bounded run: it stops by itself after --minutes.
 *
 * `--heap` also loads scripts/geth/heap-probe.cjs into `cycle:run`: every minute a forced garbage
 * collection and the live heap after it (out/soak/cycle-heap.csv, its slope in the summary), and heap
 * snapshots at the minutes given by `--snapshots 5,60` (out/soak/cycle-<minute>.heapsnapshot).
 */
import { ChildProcess, spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { REPO_ROOT } from "./chain";
import { windowsOf } from "../../lib/clock";
import type { Deployment, ScheduleTimes } from "../../lib/deployment";

const OUT = path.join(REPO_ROOT, "out/soak");
const CHAIN_JSON = path.join(REPO_ROOT, "out/demo-live/chain/chain.json");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sample {
  minute: number;
  name: string;
  mib: number;
}

/** pid -> parent pid for every process. */
function parents(): Map<number, number> {
  const m = new Map<number, number>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      m.set(Number(d), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      /* gone */
    }
  }
  return m;
}

function descendants(root: number): number[] {
  const pp = parents();
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, ppid] of pp) if (ppid === out[i]) out.push(pid);
  return out;
}

function rssMiB(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb ? Number(kb) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** A short name for a process from its command line. */
function nameOf(pid: number, demoPid: number): string | undefined {
  let cmd: string;
  try {
    cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return undefined;
  }
  if (pid === demoPid || cmd.includes("demo-live.ts")) return pid === demoPid ? "demo (bots + portal)" : undefined;
  if (cmd.includes("cycle:run")) return "cycle:run";
  if (/cli\.js run /.test(cmd)) return "meter-bridge";
  if (/cli\.js simulate /.test(cmd)) return "meter-simulator";
  if (cmd.startsWith("socat")) return "socat";
  return undefined;
}

function gethPids(): { name: string; pid: number }[] {
  if (!existsSync(CHAIN_JSON)) return [];
  const chain = JSON.parse(readFileSync(CHAIN_JSON, "utf8")) as { nodes: { index: number; pid: number }[] };
  return chain.nodes.map((n) => ({ name: `geth node ${n.index}`, pid: n.pid }));
}

/** Least-squares slope of y over x. */
export function slope(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const sxy = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return sxy / sxx;
}

async function main() {
  const { values } = parseArgs({ options: { minutes: { type: "string", default: "120" }, engine: { type: "string", default: "clique" }, heap: { type: "boolean" }, snapshots: { type: "string", default: "" }, period: { type: "string", default: "1" } } });
  const minutes = Number(values.minutes);
  mkdirSync(OUT, { recursive: true });
  const heapCsv = path.join(OUT, "cycle-heap.csv");
  rmSync(heapCsv, { force: true });
  const probe = values.heap ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --expose-gc --require ${path.join(REPO_ROOT, "scripts/geth/heap-probe.cjs")}`.trim(), SOAK_HEAP_DIR: OUT, SOAK_HEAP_SNAPSHOTS: values.snapshots! } : {};
  const csv = path.join(OUT, "memory.csv");
  writeFileSync(csv, "minute,process,rss_mib\n");
  const started = Date.now();
  const demo: ChildProcess = spawn(process.execPath, ["--import", "tsx", "web/scripts/demo-live.ts", "--geth", values.engine!, "--period", values.period!], { cwd: REPO_ROOT, env: { ...process.env, ...probe }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const demoLog = path.join(OUT, "demo.log");
  writeFileSync(demoLog, "");
  demo.stdout!.on("data", (d) => appendFileSync(demoLog, d));
  demo.stderr!.on("data", (d) => appendFileSync(demoLog, d));
  let exited: string | undefined;
  demo.once("exit", (code, signal) => (exited = `demo exited early (${signal ?? code}); see ${demoLog}`));
  // wait for the platform to be up (the portal's URL is printed last)
  while (!readFileSync(demoLog, "utf8").includes("The market portal:")) {
    if (exited) throw new Error(exited);
    if (Date.now() - started > 15 * 60_000) throw new Error(`the demo did not come up in 15 minutes; see ${demoLog}`);
    await sleep(2000);
  }
  const upAt = Date.now();
  console.log(`platform up after ${((upAt - started) / 1000).toFixed(0)} s; sampling memory every minute for ${minutes} minutes`);
  const samples: Sample[] = [];
  for (let minute = 0; minute <= minutes; minute++) {
    if (exited) throw new Error(exited);
    const procs = [...descendants(demo.pid!).map((pid) => ({ pid, name: nameOf(pid, demo.pid!) })), ...gethPids()];
    for (const p of procs) {
      if (!p.name) continue;
      const mib = rssMiB(p.pid);
      if (mib === undefined) continue;
      samples.push({ minute, name: p.name, mib });
      appendFileSync(csv, `${minute},${p.name},${mib.toFixed(1)}\n`);
    }
    if (minute < minutes) await sleep(upAt + (minute + 1) * 60_000 - Date.now());
  }
  process.kill(-demo.pid!, "SIGINT");
  await new Promise((r) => demo.once("exit", r));

  const names = [...new Set(samples.map((s) => s.name))];
  const summary = names.map((name) => {
    const pts = samples.filter((s) => s.name === name).map((s) => [s.minute, s.mib] as [number, number]);
    const half = pts.filter(([m]) => m >= minutes / 2);
    return {
      process: name,
      startMiB: +pts[0][1].toFixed(1),
      endMiB: +pts.at(-1)![1].toFixed(1),
      maxMiB: +Math.max(...pts.map(([, y]) => y)).toFixed(1),
      slopeMiBPerMin: +slope(pts).toFixed(3),
      secondHalfSlopeMiBPerMin: +slope(half).toFixed(3),
    };
  });
  const log = readFileSync(path.join(REPO_ROOT, "out/demo-live/cycle.log"), "utf8");
  const deployment = JSON.parse(readFileSync(path.join(REPO_ROOT, "out/demo-live/deployment.json"), "utf8")) as Deployment;
  const result = { minutes, engine: values.engine, period: Number(values.period), samples: samples.length, processes: summary, cycleHeap: values.heap ? heapSummary(heapCsv) : undefined, day: paperDay(log, deployment.schedule), cycleLogLines: log.split("\n").length };
  writeFileSync(path.join(OUT, "summary.json"), JSON.stringify(result, null, 2) + "\n");
  console.table(summary);
  console.log(`the paper's day: ${JSON.stringify(result.day)}`);
  if (result.cycleHeap) console.log(`cycle:run live heap after a forced GC: ${JSON.stringify(result.cycleHeap)}`);
}

/**
 * The paper's day in real time, from the daemon's log (out/demo-live/cycle.log): the first 96
 * consecutive intervals that were cleared and settled, from the first one's commit window (chain
 * time) to the last settlement of the 96th (log time); how long after its reveal window closed each
 * interval was cleared, and after its settlement opened settled (seconds: median, 95th percentile, max).
 */
export function paperDay(cycleLog: string, schedule: ScheduleTimes, intervals = 96) {
  const cleared = new Map<number, number>();
  const settled = new Map<number, number>();
  for (const line of cycleLog.split("\n")) {
    const m = /^(\S+) (clear|settle) mined .*?\binterval=(\d+)/.exec(line);
    if (!m) continue;
    const [time, d] = [Date.parse(m[1]) / 1000, Number(m[3])];
    if (m[2] === "clear" && /\bstage=Done\b/.test(line)) cleared.set(d, time);
    if (m[2] === "settle") settled.set(d, Math.max(settled.get(d) ?? 0, time));
  }
  const done = (d: number) => cleared.has(d) && settled.has(d);
  const first = [...cleared.keys()].sort((a, b) => a - b).find((f) => Array.from({ length: intervals }, (_, i) => f + i).every(done));
  if (first === undefined) return { intervals: 0, note: `no ${intervals} consecutive intervals cleared and settled in the log` };
  const days = Array.from({ length: intervals }, (_, i) => first + i);
  const stats = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const at = (q: number) => +sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)].toFixed(1);
    return { median: at(0.5), p95: at(0.95), max: +sorted.at(-1)!.toFixed(1) };
  };
  return {
    intervals,
    from: first,
    wallMinutes: +((settled.get(first + intervals - 1)! - windowsOf(schedule, first).commitStart) / 60).toFixed(1),
    clearedAfterRevealSeconds: stats(days.map((d) => cleared.get(d)! - windowsOf(schedule, d).revealEnd)),
    settledAfterOpenSeconds: stats(days.map((d) => settled.get(d)! - windowsOf(schedule, d).settleStart)),
  };
}

/** The cycle daemon's live heap after forced GCs (heap-probe.cjs): first, last, and slopes in MiB per minute. */
function heapSummary(csv: string) {
  if (!existsSync(csv)) return { error: "no samples (was the probe loaded?)" };
  const rows = readFileSync(csv, "utf8").trim().split("\n").slice(1).map((l) => l.split(",").map(Number));
  const used = rows.map(([m, u]) => [m, u] as [number, number]);
  const last = used.at(-1)?.[0] ?? 0;
  return {
    samples: rows.length,
    firstMiB: used[0]?.[1],
    lastMiB: used.at(-1)?.[1],
    slopeMiBPerMin: +slope(used).toFixed(4),
    secondHalfSlopeMiBPerMin: +slope(used.filter(([m]) => m >= last / 2)).toFixed(4),
    externalLastMiB: rows.at(-1)?.[3],
  };
}

if (require.main === module) {
  main().catch((e) => {
    console.error(`soak: ${(e as Error).message}`);
    process.exit(1);
  });
}
