/**
 * deploy and status: the market itself.
 */
import { task, types } from "hardhat/config";
import { localTime, windowsOf } from "../lib/clock";
import type { ScheduleTimes } from "../lib/deployment";
import { weiToEther, whToKWh } from "../lib/units";
import { CliError, cliAction, ether, output } from "./cli";
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
  .setAction(
    cliAction(async (a: Record<string, any>, hre) => { // eslint-disable-line @typescript-eslint/no-explicit-any
      const { parseScenario, marketParams, marketSchedule } = await import("../lib/scenario");
      const { deployMarketWithLibraries, readSchedule } = await import("../lib/market");
      const { operatorSigner } = await import("../lib/signers");
      const { chainFingerprint, writeDeployment } = await import("../lib/deployment");
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
        ...(await chainFingerprint(hre.network.provider, await contract.getAddress())),
      };
      const path = writeDeployment(deployment);
      output(a.json, { ...deployment, file: path }, () =>
        [
          `market ${deployment.market} on ${deployment.network} (chain ${deployment.chainId})`,
          `operator ${deployment.operator}`,
          `intervals of ${deployment.schedule.intervalSeconds} s from ${localTime(deployment.schedule.startTime)} local time: sealed bids in the first ${deployment.schedule.commitSeconds} s of each, reveals in the next ${deployment.schedule.revealSeconds} s`,
          `the incentive pool is empty: fund it with \`npx hardhat pool:fund --amount 1 --network ${deployment.network}\``,
          `written to ${path}`,
        ].join("\n"),
      );
    }),
  );

task("status", "The current interval, its phase, what is open and what is owed, in words")
  .addOptionalParam("interval", "also show this delivery interval", undefined, types.int)
  .addFlag("json", "print JSON")
  .setAction(
    cliAction(async (a: { interval?: number; json: boolean }, hre) => {
      if (a.interval !== undefined && a.interval < 1) throw new CliError("--interval: delivery intervals start at 1");
      const { PHASES, STAGES } = await import("../lib/market");
      const { market, deployment } = await asOperator(hre);
      const s = deployment.schedule;
      const now = Number((await hre.ethers.provider.getBlock("latest"))!.timestamp);
      const current = Number(await market.currentInterval());
      const shown = [...new Set([current - 1, current, current + 1, ...(a.interval !== undefined ? [a.interval] : [])])].filter((d) => d >= 1).sort((x, y) => x - y);
      const intervals: IntervalStatus[] = [];
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
      const behind: { id: number; name: string; nextInterval: number }[] = [];
      for (let id = 1; id <= count; id++) {
        const [w, c] = await Promise.all([market.walletOf(id), market.settlementOf(id)]);
        const name = w.owed > 0n || (c.started && Number(c.nextInterval) < current - 1) ? (await market.participant(id)).name : "";
        if (w.owed > 0n) owed.push({ id, name, owedEther: weiToEther(w.owed) });
        if (c.started && Number(c.nextInterval) < current - 1) behind.push({ id, name, nextInterval: Number(c.nextInterval) });
      }
      const [poolBalance, poolOwed] = await market.pool();
      const result = {
        market: deployment.market,
        now,
        currentInterval: current,
        intervals,
        participants: count,
        pool: { balanceEther: weiToEther(poolBalance), owedEther: weiToEther(poolOwed) },
        owed,
        settlementBehind: behind,
      };
      output(a.json, result, () =>
        [
          `market ${result.market} on ${hre.network.name}: ${plural(count, "participant")}, incentive pool ${ether(poolBalance)}${poolOwed > 0n ? ` (it owes ${ether(poolOwed)})` : ""}`,
          `now ${localTime(now)} local time: interval ${current} is being delivered`,
          ...intervals.map((i) => `  ${intervalWords(s, i, now)}`),
          owed.length ? `owed: ${owed.map((o) => `${o.name} (#${o.id}) owes ${o.owedEther} ether`).join(", ")}` : "nobody owes anything",
          behind.length
            ? `settlement behind: ${behind.map((b) => `${b.name} (#${b.id}) next settles interval ${b.nextInterval}`).join("; ")}`
            : current >= 3
              ? `settlement is up to date (every participant is settled up to interval ${current - 2} or later)`
              : "nothing to settle yet",
        ].join("\n"),
      );
    }),
  );

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

type IntervalStatus = { interval: number; phase: string; clearing: string; trades: number; tradedKWh: string; averagePriceEtherPerKWh: string };

/** One delivery interval's state as a sentence with its local times. */
function intervalWords(s: ScheduleTimes, i: IntervalStatus, now: number): string {
  const w = windowsOf(s, i.interval);
  const head = `interval ${i.interval} (delivered ${hhmm(w.start)}–${hhmm(w.end)}):`;
  const price = roundEther(i.averagePriceEtherPerKWh);
  const results = i.trades > 0 ? `${plural(i.trades, "trade")}, ${i.tradedKWh} kWh at ${price} ether/kWh on average` : `no trades (reference price ${price} ether/kWh)`;
  switch (i.phase) {
    case "Upcoming":
      return `${head} sealed bids open at ${localTime(w.commitStart)}`;
    case "Commit":
      return `${head} taking sealed bids until ${localTime(w.revealStart)}, then reveals until ${localTime(w.revealEnd)}`;
    case "Reveal":
      return `${head} revealing bids until ${localTime(w.revealEnd)}`;
    case "Clearing":
      return i.clearing === "NotStarted" ? `${head} bids closed at ${localTime(w.revealEnd)}, waiting to be cleared` : `${head} clearing in progress (${STAGE_WORDS[i.clearing] ?? i.clearing})`;
    case "Delivery":
      return `${head} cleared, ${results}; ${now < w.start ? `delivery starts at ${localTime(w.start)}` : now < w.end ? "being delivered" : "delivered"}, settlement opens at ${localTime(w.settleStart)}`;
    default:
      return `${head} cleared, ${results}; open for settlement since ${localTime(w.settleStart)}`;
  }
}

const STAGE_WORDS: Record<string, string> = { Green: "green sellers against green buyers", All: "everyone with quantity left", Release: "returning unfilled reservations" };

const hhmm = (t: number) => localTime(t).slice(0, 5);

/** An exact ether amount to 9 decimals (gwei), for reading; --json keeps every digit. */
function roundEther(ether: string): string {
  const [whole, fraction = ""] = ether.split(".");
  const wei = BigInt(whole + fraction.padEnd(18, "0"));
  return weiToEther(((wei + 500_000_000n) / 1_000_000_000n) * 1_000_000_000n);
}
