/**
 * deploy and status: the market itself.
 */
import { task, types } from "hardhat/config";
import { CliError, asCli, output } from "./cli";
import { asOperator } from "./context";

task("deploy", "Deploy a market (and its libraries); records it in deployments/<network>.json")
  .addOptionalParam("interval", "interval length in seconds", 900, types.int)
  .addOptionalParam("commit", "commit window in seconds (default: 2/15 of the interval)", undefined, types.int)
  .addOptionalParam("reveal", "reveal window in seconds (default: 1/15 of the interval)", undefined, types.int)
  .addOptionalParam("settleOffset", "settlement opens this long into the interval after delivery (default 2/3)", undefined, types.int)
  .addOptionalParam("grace", "wait this long for a missing reading once settlement opens (default 1/3)", undefined, types.int)
  .addOptionalParam("start", "start of interval 0, unix seconds (default: the current interval boundary)", undefined, types.int)
  .addOptionalParam("margin", "margin in ether", "0.001", types.string)
  .addOptionalParam("forfeit", "forfeit of an unrevealed commit, in ether (at most the margin)", "0.0001", types.string)
  .addOptionalParam("referencePrice", "average price without trades, ether per kWh", "0.0007", types.string)
  .addOptionalParam("maxPrice", "highest bid price, ether per kWh", "1", types.string)
  .addOptionalParam("maxEnergy", "largest bid, kWh", "1000", types.string)
  .addOptionalParam("short", "W': short balancing ratio", "1.1", types.string)
  .addOptionalParam("long", "W'': long balancing ratio", "0.9", types.string)
  .addOptionalParam("reward", "M': reward ratio", "0.01", types.string)
  .addOptionalParam("penalty", "M'': penalty ratio", "0.05", types.string)
  .addFlag("json", "print JSON")
  .setAction(async (a, hre) =>
    asCli(async () => {
      const { parseScenario, marketParams, marketSchedule } = await import("../lib/scenario");
      const { deployMarketWithLibraries, readSchedule } = await import("../lib/market");
      const { operatorSigner } = await import("../lib/signers");
      const { writeDeployment } = await import("../lib/deployment");
      // The market block of a scenario has the same fields, defaults and checks.
      const market = {
        intervalSeconds: a.interval,
        ...(a.commit !== undefined && { commitSeconds: a.commit }),
        ...(a.reveal !== undefined && { revealSeconds: a.reveal }),
        ...(a.settleOffset !== undefined && { settleOffsetSeconds: a.settleOffset }),
        ...(a.grace !== undefined && { readingGraceSeconds: a.grace }),
        marginEther: a.margin,
        forfeitEther: a.forfeit,
        referencePriceEtherPerKWh: a.referencePrice,
        maxPriceEtherPerKWh: a.maxPrice,
        maxEnergyKWh: a.maxEnergy,
        balancingShortRatio: a.short,
        balancingLongRatio: a.long,
        rewardRatio: a.reward,
        penaltyRatio: a.penalty,
      };
      const spec = parseScenario({ market, participants: [{ name: "x" }], intervals: [{}] }).market;
      const now = (await hre.ethers.provider.getBlock("latest"))!.timestamp;
      const start = BigInt(a.start ?? now - (now % spec.intervalSeconds));
      const signer = await operatorSigner(hre);
      const { market: contract, libraries } = await deployMarketWithLibraries(signer, marketSchedule(spec, start), marketParams(spec));
      const receipt = await contract.deploymentTransaction()!.wait();
      const { chainId } = await hre.ethers.provider.getNetwork();
      const deployment = {
        network: hre.network.name,
        chainId: Number(chainId),
        market: await contract.getAddress(),
        libraries,
        operator: await signer.getAddress(),
        deployedAt: { block: receipt!.blockNumber, time: now },
        schedule: await readSchedule(contract),
      };
      const path = writeDeployment(deployment);
      output(a.json, { ...deployment, file: path }, () =>
        [`market ${deployment.market} on ${deployment.network} (chain ${deployment.chainId})`, `operator ${deployment.operator}`, `intervals of ${deployment.schedule.intervalSeconds} s from ${new Date(deployment.schedule.startTime * 1000).toISOString()}`, `written to ${path}`].join("\n"),
      );
    }),
  );

task("status", "The current interval, its phase, what is open and what is owed")
  .addOptionalParam("interval", "also show this delivery interval", undefined, types.int)
  .addFlag("json", "print JSON")
  .setAction(async (a: { interval?: number; json: boolean }, hre) =>
    asCli(async () => {
      const { PHASES, STAGES } = await import("../lib/market");
      const { weiToEther, whToKWh } = await import("../lib/units");
      const { market, deployment } = await asOperator(hre);
      const current = Number(await market.currentInterval());
      const shown = [...new Set([current - 1, current, current + 1, ...(a.interval !== undefined ? [a.interval] : [])])].filter((d) => d >= 1);
      const intervals: { interval: number; phase: string; clearing: string; trades: number; tradedKWh: string; averagePriceEtherPerKWh: string }[] = [];
      for (const d of shown) {
        const v = await market.intervalOf(d);
        intervals.push({
          interval: d,
          phase: PHASES[Number(v.phase)],
          clearing: STAGES[Number(v.stage)],
          trades: Number(v.trades),
          tradedKWh: whToKWh(v.tradedWh),
          averagePriceEtherPerKWh: weiToEther(v.averagePriceWeiPerKWh),
        });
      }
      const count = Number(await market.participantCount());
      const owed: { id: number; name: string; owedEther: string }[] = [];
      const behind: { id: number; nextInterval: number }[] = [];
      for (let id = 1; id <= count; id++) {
        const w = await market.walletOf(id);
        if (w.owed > 0n) owed.push({ id, name: (await market.participant(id)).name, owedEther: weiToEther(w.owed) });
        const c = await market.settlementOf(id);
        if (c.started && Number(c.nextInterval) < current - 1) behind.push({ id, nextInterval: Number(c.nextInterval) });
      }
      const [poolBalance, poolOwed] = await market.pool();
      const result = {
        market: deployment.market,
        now: Number((await hre.ethers.provider.getBlock("latest"))!.timestamp),
        currentInterval: current,
        intervals,
        participants: count,
        pool: { balanceEther: weiToEther(poolBalance), owedEther: weiToEther(poolOwed) },
        owed,
        settlementBehind: behind,
      };
      if (a.interval !== undefined && a.interval < 0) throw new CliError("--interval must be >= 0");
      output(a.json, result, () =>
        [
          `market ${result.market}: interval ${current} now, ${count} participants, pool ${result.pool.balanceEther} ether`,
          ...intervals.map((i) => `  interval ${i.interval}: ${i.phase}, clearing ${i.clearing}, ${i.trades} trades, ${i.tradedKWh} kWh at ${i.averagePriceEtherPerKWh} ether/kWh`),
          owed.length ? `owed: ${owed.map((o) => `${o.name} ${o.owedEther}`).join(", ")}` : "nothing owed",
          behind.length ? `settlement behind: ${behind.map((b) => `#${b.id} at ${b.nextInterval}`).join(", ")}` : "settlement up to date",
        ].join("\n"),
      );
    }),
  );
