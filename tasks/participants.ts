/**
 * register, authorize, grid:register, meter:bind: who takes part.
 */
import { task, types } from "hardhat/config";
import { CliError, asCli, output } from "./cli";
import { asOperator, asParticipant, mined, participantId, withKey } from "./context";

withKey(task("register", "Register an account as a prosumer (its ID follows registration order)"))
  .addParam("name", "display name (1-64 bytes)", undefined, types.string)
  .addFlag("green", "renewable generation when selling, green preference when buying")
  .addFlag("json", "print JSON")
  .setAction(async (a, hre) =>
    asCli(async () => {
      const { market, signer } = await asParticipant(hre, a);
      const r = await mined(await market.register(a.name, a.green));
      const id = await market.idOf(await signer.getAddress());
      output(a.json, { id, account: await signer.getAddress(), name: a.name, green: a.green, ...r }, () => `registered "${a.name}" as participant ${id}${a.green ? " (green)" : ""} (tx ${r.tx}, ${r.gas} gas)`);
    }),
  );

task("authorize", "Allow (or with --revoke, stop) a prosumer's trading (operator)")
  .addParam("participant", "participant ID or account", undefined, types.string)
  .addFlag("revoke", "withdraw the authorization")
  .addFlag("json", "print JSON")
  .setAction(async (a, hre) =>
    asCli(async () => {
      const { market } = await asOperator(hre);
      const id = await participantId(market, a.participant);
      const r = await mined(await market.authorize(id, !a.revoke));
      output(a.json, { id, authorized: !a.revoke, ...r }, () => `participant ${id} ${a.revoke ? "may no longer trade" : "may trade"} (tx ${r.tx})`);
    }),
  );

task("grid:register", "Register the public-grid account (operator)")
  .addParam("address", "the grid's account", undefined, types.string)
  .addOptionalParam("name", "display name", "grid", types.string)
  .addFlag("json", "print JSON")
  .setAction(async (a, hre) =>
    asCli(async () => {
      if (!hre.ethers.isAddress(a.address)) throw new CliError(`--address: not an account address: ${a.address}`);
      const { market } = await asOperator(hre);
      const r = await mined(await market.registerGrid(a.address, a.name));
      const id = await market.gridId();
      output(a.json, { id, account: a.address, ...r }, () => `grid registered as participant ${id} (tx ${r.tx})`);
    }),
  );

task("meter:bind", "Bind a meter (number, account, rated power) to a prosumer (operator)")
  .addParam("participant", "participant ID or account", undefined, types.string)
  .addParam("meter", "meter number: the 12-digit DL/T 645 address", undefined, types.string)
  .addParam("account", "the meter's own account (it posts the readings)", undefined, types.string)
  .addOptionalParam("ratedKw", "rated power in kW (readings above what it can deliver are refused)", "100", types.string)
  .addFlag("json", "print JSON")
  .setAction(async (a, hre) =>
    asCli(async () => {
      const { parseDecimal } = await import("../lib/units");
      if (!/^\d{1,12}$/.test(a.meter) || BigInt(a.meter) === 0n) throw new CliError(`--meter: expected a meter number of up to 12 digits, got ${JSON.stringify(a.meter)}`);
      if (!hre.ethers.isAddress(a.account)) throw new CliError(`--account: not an account address: ${a.account}`);
      const ratedW = parseDecimal(a.ratedKw, 3, "--rated-kw");
      const { market } = await asOperator(hre);
      const id = await participantId(market, a.participant);
      const r = await mined(await market.bindMeter(id, BigInt(a.meter), a.account, ratedW));
      output(a.json, { id, meter: a.meter, account: a.account, ratedPowerW: ratedW, ...r }, () => `meter ${a.meter.padStart(12, "0")} (${a.account}) bound to participant ${id} (tx ${r.tx})`);
    }),
  );
