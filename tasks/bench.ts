/**
 * bench:gas — gas of every per-participant operation and of clearing at several book sizes, on the
 * in-process network. Writes JSON (committed as gas-snapshot.json) and prints a table.
 */
import { task, types } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { writeFileSync } from "node:fs";
import { CliError, cliAction, parseIntList } from "./cli";

task("bench:gas", "Measure the gas of the market's operations and of clearing at several book sizes")
  .addOptionalParam("bids", "comma-separated bid counts", "10,100,1000,2000", types.string)
  .addOptionalParam("json", "write the results as JSON to this file", undefined, types.string)
  .addOptionalParam("seed", "random seed of the books", 42, types.int)
  .setAction(
    cliAction(async (args: { bids: string; json?: string; seed: number }, hre) => {
      if (hre.network.name !== "hardhat") throw new CliError("bench:gas runs on the in-process network only (drop --network)");
      const counts = parseIntList(args.bids, "--bids");
      const { runGasBench, formatGasBench } = await import("../scripts/bench/gas");
      const result = await runGasBench(hre as HardhatRuntimeEnvironment, counts, args.seed, (msg) => console.error(msg));
      console.log(formatGasBench(result));
      if (args.json) {
        writeFileSync(args.json, JSON.stringify(result, null, 2) + "\n");
        console.log(`wrote ${args.json}`);
      }
    }),
  );
