/**
 * history: trades, balancing and incentives of an interval or a participant, from the contract's events.
 */
import { task, types } from "hardhat/config";
import { CliError, cliAction, output } from "./cli";
import { asOperator, participantId } from "./context";

task("history", "Trades, balancing and incentives of an interval or a participant, read from events")
  .addOptionalParam("interval", "a delivery interval", undefined, types.int)
  .addOptionalParam("participant", "a participant ID or account", undefined, types.string)
  .addFlag("json", "print JSON")
  .setAction(
    cliAction(async (a: { interval?: number; participant?: string; json: boolean }, hre) => {
      if (a.interval === undefined && a.participant === undefined) throw new CliError("give --interval, --participant or both");
      if (a.interval !== undefined && a.interval < 0) throw new CliError("--interval must be >= 0");
      const { readHistory } = await import("../lib/history");
      const { market, deployment } = await asOperator(hre);
      const id = a.participant === undefined ? undefined : await participantId(market, a.participant);
      const h = await readHistory(market, deployment.deployedAt.block, { interval: a.interval, participant: id });
      output(a.json, h, () => {
        const n = (k: number, word: string) => `${k} ${word}${k === 1 ? "" : "s"}`;
        const lines = [`${n(h.trades.length, "trade")}, ${n(h.settlements.length, "settlement")}${a.interval !== undefined ? ` in interval ${a.interval}` : ""}${id ? ` of participant ${id}` : ""}`];
        for (const t of h.trades) lines.push(`  interval ${t.interval} ${t.stage.padEnd(5)} ${t.seller} -> ${t.buyer}: ${t.energyKWh} kWh at ${t.priceEtherPerKWh} ether/kWh = ${t.amountEther} ether`);
        for (const s of h.settlements)
          lines.push(
            `  interval ${s.interval} ${s.participant}: declared ${s.declaredKWh}, cleared ${s.clearedKWh}, actual ${s.actualKWh} kWh${s.readingMissing ? " (reading missing)" : ""}; balancing ${s.balancingEther}, reward ${s.rewardEther}, penalty ${s.penaltyEther} ether`,
          );
        for (const f of h.forfeits) lines.push(`  interval ${f.interval} ${f.participant}: forfeited ${f.amountEther} ether (commit never revealed)`);
        return lines.join("\n");
      });
    }),
  );
