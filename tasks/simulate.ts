/**
 * simulate — replay a scenario through a fresh market and write result.json and report.html.
 */
import { task, types } from "hardhat/config";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CliError, cliAction } from "./cli";

task("simulate", "Run a scenario (JSON) through a fresh market; writes <out>/result.json and <out>/report.html")
  .addParam("scenario", "scenario file, e.g. scenarios/paper-day.json", undefined, types.string)
  .addOptionalParam("out", "output directory", "out/simulation", types.string)
  .addFlag("quiet", "no progress bar")
  .setAction(
    cliAction(async (args: { scenario: string; out: string; quiet: boolean }, hre) => {
      const { loadScenario } = await import("../lib/scenario");
      const { simulate } = await import("../lib/simulator");
      const { InProcessClock, RealTimeClock } = await import("../lib/chain");
      const { renderReport } = await import("../lib/report");
      const { operatorSigner } = await import("../lib/signers");
      const cliProgress = await import("cli-progress");
      const scenario = loadScenario(args.scenario);
      const name = hre.network.name;
      if (name !== "hardhat" && name !== "localhost" && name !== "privnet") throw new CliError(`simulate runs on the in-process network, localhost or privnet, not "${name}"`);
      const operator = await operatorSigner(hre);
      // privnet (Geth) has no balance setter: the operator funds the scenario's accounts by transfers
      const clock =
        name === "hardhat"
          ? new InProcessClock(hre.network.provider)
          : new RealTimeClock(hre.ethers.provider, undefined, name === "privnet" ? operator : undefined);
      const bar = new cliProgress.SingleBar(
        { format: "intervals {bar} {value}/{total} | {duration_formatted} elapsed", stream: process.stderr, hideCursor: true },
        cliProgress.Presets.shades_classic,
      );
      if (!args.quiet) bar.start(scenario.intervals.length, 0);
      const started = Date.now();
      const result = await simulate(scenario, {
        clock,
        operator,
        onProgress: (done) => !args.quiet && bar.update(done),
      }).finally(() => !args.quiet && bar.stop());
      const out = resolve(args.out);
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, "result.json"), JSON.stringify(result, null, 2) + "\n");
      writeFileSync(join(out, "report.html"), renderReport(result));
      const trades = result.intervals.reduce((a, i) => a + i.trades.length, 0);
      console.log(
        `${result.intervals.length} intervals, ${result.participants.length} participants, ${trades} trades in ${((Date.now() - started) / 1000).toFixed(1)} s` +
          ` (${result.gas.perParticipantPerInterval} gas per participant per interval)`,
      );
      console.log(`result: ${join(out, "result.json")}`);
      console.log(`report: ${join(out, "report.html")}`);
    }),
  );
