/**
 * Builds the chain state for the first-render benchmark: anvil with a market of N participants
 * (default 1,000) and a day of history (96 intervals), driven through the real contract by the
 * project's simulator (lib/simulator.ts) with block time moved forward (lib/chain.ts InProcessClock,
 * which anvil accepts). Writes the anvil state and a deployment file beside it, so the benchmark
 * (bench/first-render.ts) starts from them without re-running the day.
 *
 *   npx tsx bench/make-history.ts [participants=1000] [intervals=96]
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { HDNodeWallet, JsonRpcProvider, Network, NonceManager, getCreateAddress } from "ethers";
import { loadScenario } from "../../lib/scenario";
import { simulate } from "../../lib/simulator";
import { InProcessClock } from "../../lib/chain";
import { Anvil } from "../test/support/anvil";
import { REPO_ROOT, WEB_ROOT } from "../test/support/paths";

const participants = Number(process.argv[2] ?? 1000);
const intervals = Number(process.argv[3] ?? 96);
export const benchDir = path.join(WEB_ROOT, "test-output/bench");

async function main() {
  mkdirSync(benchDir, { recursive: true });
  const scenarioFile = path.join(benchDir, `scenario-${participants}x${intervals}.json`);
  const made = spawnSync(process.execPath, ["--import", "tsx", "scripts/make-scenario.ts", String(participants), String(intervals), scenarioFile], { cwd: REPO_ROOT, stdio: "inherit" });
  if (made.status !== 0) throw new Error("make-scenario failed");
  const state = path.join(benchDir, `state-${participants}x${intervals}.json`);
  const anvil = await Anvil.start(["--hardfork", "london", "--gas-limit", "30000000", "--dump-state", state]);
  const t0 = Date.now();
  try {
    // no response cache: the clock reads the latest block right after mining one
    const provider = new JsonRpcProvider(anvil.url, Network.from(31337), { staticNetwork: true, cacheTimeout: -1 });
    const operator = HDNodeWallet.fromPhrase("test test test test test test test test test test test junk", undefined, "m/44'/60'/0'/0/0").connect(provider);
    const clock = new InProcessClock(provider as never, provider);
    const deployedFrom = await provider.getBlockNumber();
    await simulate(loadScenario(scenarioFile), {
      clock,
      operator: new NonceManager(operator),
      onProgress: (done, total) => process.stdout.write(`\r${done}/${total} intervals, ${Math.round((Date.now() - t0) / 1000)} s`),
    });
    const market = getCreateAddress({ from: operator.address, nonce: 2 });
    const [s0, s1, s2, s3, s4, s5] = await (await import("../../lib/market")).attachMarket(market, provider).schedule();
    writeFileSync(
      path.join(benchDir, `deployment-${participants}x${intervals}.json`),
      JSON.stringify(
        {
          network: "localhost",
          chainId: 31337,
          market,
          libraries: { Clearing: getCreateAddress({ from: operator.address, nonce: 0 }), Settlement: getCreateAddress({ from: operator.address, nonce: 1 }) },
          operator: operator.address,
          deployedAt: { block: deployedFrom + 1, time: Number(s0) },
          schedule: { startTime: Number(s0), intervalSeconds: Number(s1), commitSeconds: Number(s2), revealSeconds: Number(s3), settleOffsetSeconds: Number(s4), readingGraceSeconds: Number(s5) },
        },
        null,
        2,
      ),
    );
    console.log(`\nday simulated in ${Math.round((Date.now() - t0) / 1000)} s; blocks ${await provider.getBlockNumber()}; state in ${state}`);
    provider.destroy();
  } finally {
    await anvil.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
