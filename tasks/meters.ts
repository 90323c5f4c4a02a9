/**
 * meter:bind and reading:post: meters.
 * - meter:bind (operator): a meter number is its 12-digit DL/T 645 address; replacing a participant's
 *   bound meter, or taking a meter or meter account from another participant, needs --replace.
 * - reading:post: post a meter's cumulative registers at an interval's end, signed by the meter
 *   account's own key. The meter bridge (meter-bridge/) is the real path; this is for operators
 *   testing without hardware.
 */
import { task, types } from "hardhat/config";
import type { EnergyMarket } from "../typechain-types";
import { localTime, windowsOf } from "../lib/clock";
import { kWhToWh, parseDecimal, whToKWh } from "../lib/units";
import { CliError, cliAction, output, parseNonNegativeInt, required } from "./cli";
import { KeyArgs, asOperator, asParticipant, participantId, transact, withKey } from "./context";

/** A meter number exactly as printed on the meter: 12 digits, not all zeros. */
export function meterNumberArg(value: string | undefined): bigint {
  const s = required(value, "--meter", "the meter's 12-digit number (its DL/T 645 address)").trim();
  if (!/^\d{12}$/.test(s)) throw new CliError(`--meter: a meter number is exactly 12 digits (its DL/T 645 address, e.g. 000000000042), got ${JSON.stringify(s)}`);
  if (BigInt(s) === 0n) throw new CliError("--meter: 000000000000 is not a meter number");
  return BigInt(s);
}

const twelve = (n: bigint) => n.toString().padStart(12, "0");

task("meter:bind", "Bind a meter (number, account, rated power) to a prosumer (operator)")
  .addOptionalParam("participant", "participant ID or account (required)", undefined, types.string)
  .addOptionalParam("meter", "meter number: exactly 12 digits, the meter's DL/T 645 address (required)", undefined, types.string)
  .addOptionalParam("account", "the meter's own account; it signs the readings (required)", undefined, types.string)
  .addOptionalParam("ratedKw", "rated power in kW: a reading above what it can deliver in the interval is refused", "100", types.string)
  .addFlag("replace", "replace the participant's bound meter, or take this meter or account from another participant")
  .addFlag("json", "print JSON")
  .setAction(
    cliAction(async (a: { participant?: string; meter?: string; account?: string; ratedKw: string; replace: boolean; json: boolean }, hre) => {
      const who = required(a.participant, "--participant", "the participant's ID or account");
      const number = meterNumberArg(a.meter);
      const account = required(a.account, "--account", "the meter's own account address");
      if (!hre.ethers.isAddress(account)) throw new CliError(`--account: not an account address: ${account}`);
      const ratedW = parseDecimal(a.ratedKw, 3, "--rated-kw");
      if (ratedW <= 0n) throw new CliError(`--rated-kw: expected a power above 0 kW, got ${a.ratedKw}`);
      const { market, deployment } = await asOperator(hre);
      const id = await participantId(market, who);
      if (!a.replace) await refuseReplacement(market, deployment.deployedAt.block, id, number, account);
      const r = await transact(market.bindMeter, [id, number, account, ratedW]);
      output(a.json, { id, meter: twelve(number), account, ratedPowerW: ratedW, ...r }, () => `meter ${twelve(number)} (account ${account}, rated ${whToKWh(ratedW)} kW) bound to participant ${id} (tx ${r.tx})`);
    }),
  );

/** Binding would silently replace a live meter: say whose, and that --replace does it. */
async function refuseReplacement(market: EnergyMarket, fromBlock: number, id: bigint, number: bigint, account: string) {
  const name = async (pid: bigint) => `participant ${pid} (${(await market.participant(pid)).name})`;
  const current = await market.meterOf(id);
  if (current.meterNumber !== 0n && (current.meterNumber !== number || current.account.toLowerCase() !== account.toLowerCase())) {
    throw new CliError(`${await name(id)} already has meter ${twelve(current.meterNumber)} bound; give --replace to replace it (a new register series starts)`);
  }
  const byAccount = await market.participantOfMeter(account);
  if (byAccount !== 0n && byAccount !== id) throw new CliError(`account ${account} is the meter account of ${await name(byAccount)}; give --replace to move it`);
  const holder = await holderOf(market, fromBlock, number);
  if (holder !== undefined && holder !== id) throw new CliError(`meter ${twelve(number)} is bound to ${await name(holder)}; give --replace to move it`);
}

/** The participant meter `number` is bound to now, from its latest MeterBound event. */
async function holderOf(market: EnergyMarket, fromBlock: number, number: bigint): Promise<bigint | undefined> {
  const bound = await market.queryFilter(market.filters.MeterBound(undefined, number), fromBlock);
  for (const l of bound.reverse()) {
    if ((await market.meterOf(l.args.participantId)).meterNumber === number) return l.args.participantId;
  }
  return undefined;
}

withKey(task("reading:post", "Post a meter's cumulative registers at an interval's end, signed by the meter account's key (testing without hardware; the meter bridge is the real path)"))
  .addOptionalParam("meter", "meter number, 12 digits (required)", undefined, types.string)
  .addOptionalParam("importKwh", "forward active energy register (DL/T 645 00010000), kWh, cumulative (required)", undefined, types.string)
  .addOptionalParam("exportKwh", "reverse active energy register (DL/T 645 00020000), kWh, cumulative (required)", undefined, types.string)
  .addOptionalParam("interval", "the interval whose end the registers were read at (default: the last one that ended)", undefined, types.string)
  .addFlag("json", "print JSON")
  .setAction(
    cliAction(async (a: KeyArgs & { meter?: string; importKwh?: string; exportKwh?: string; interval?: string; json: boolean }, hre) => {
      const number = meterNumberArg(a.meter);
      const importWh = kWhToWh(required(a.importKwh, "--import-kwh", "the meter's import register in kWh"), "--import-kwh");
      const exportWh = kWhToWh(required(a.exportKwh, "--export-kwh", "the meter's export register in kWh"), "--export-kwh");
      if (importWh < 0n || exportWh < 0n) throw new CliError("--import-kwh and --export-kwh are register readings: not negative");
      const { market, deployment, signer } = await asParticipant(hre, a);
      const d = a.interval === undefined ? Number(await market.currentInterval()) - 1 : parseNonNegativeInt(a.interval, "--interval");
      const pid = await market.participantOfMeter(await signer.getAddress());
      const before = pid === 0n ? undefined : await market.readingOf(pid, d);
      const r = await transact(market.postReading, [number, d, importWh, exportWh]);
      const ended = localTime(windowsOf(deployment.schedule, d).end);
      const again = before?.posted === true;
      output(a.json, { meter: twelve(number), interval: d, importWh, exportWh, alreadyPosted: again, ...r }, () =>
        again
          ? `meter ${twelve(number)} had already posted these registers for interval ${d}: nothing changed`
          : `meter ${twelve(number)} posted its registers at the end of interval ${d} (${ended}): import ${whToKWh(importWh)} kWh, export ${whToKWh(exportWh)} kWh (tx ${r.tx})`,
      );
    }),
  );
