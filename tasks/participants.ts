/**
 * register, authorize, grid:register: who takes part. Each call is simulated first; a refusal is
 * explained and never sent.
 */
import { task, types } from "hardhat/config";
import { CliError, cliAction, output, required } from "./cli";
import { KeyArgs, asOperator, asParticipant, participantId, transact, withKey } from "./context";

withKey(task("register", "Register an account as a prosumer (its ID follows registration order)"))
  .addOptionalParam("name", "display name, 1-64 bytes (required)", undefined, types.string)
  .addFlag("green", "renewable generation when selling, green preference when buying")
  .addFlag("json", "print JSON")
  .setAction(
    cliAction(async (a: KeyArgs & { name?: string; green: boolean; json: boolean }, hre) => {
      const name = required(a.name, "--name", "the participant's display name, 1 to 64 bytes");
      const { market, signer } = await asParticipant(hre, a);
      const r = await transact(market.register, [name, a.green]);
      const id = await market.idOf(await signer.getAddress());
      output(a.json, { id, account: await signer.getAddress(), name, green: a.green, ...r }, () => `registered "${name}" as participant ${id}${a.green ? " (green)" : ""} (tx ${r.tx}, ${r.gas} gas); the operator authorizes it next`);
    }),
  );

task("authorize", "Allow (or with --revoke, stop) a prosumer's trading (operator)")
  .addOptionalParam("participant", "participant ID or account (required)", undefined, types.string)
  .addFlag("revoke", "withdraw the authorization")
  .addFlag("json", "print JSON")
  .setAction(
    cliAction(async (a: { participant?: string; revoke: boolean; json: boolean }, hre) => {
      const who = required(a.participant, "--participant", "the participant's ID or account");
      const { market } = await asOperator(hre);
      const id = await participantId(market, who);
      const r = await transact(market.authorize, [id, !a.revoke]);
      output(a.json, { id, authorized: !a.revoke, ...r }, () => `participant ${id} ${a.revoke ? "may no longer trade" : "may trade"} (tx ${r.tx})`);
    }),
  );

task("grid:register", "Register the public-grid account, the balancing party (operator)")
  .addOptionalParam("address", "the grid's account (required)", undefined, types.string)
  .addOptionalParam("name", "display name", "grid", types.string)
  .addFlag("json", "print JSON")
  .setAction(
    cliAction(async (a: { address?: string; name: string; json: boolean }, hre) => {
      const address = required(a.address, "--address", "the public grid's account address");
      if (!hre.ethers.isAddress(address)) throw new CliError(`--address: not an account address: ${address}`);
      const { market } = await asOperator(hre);
      const r = await transact(market.registerGrid, [address, a.name]);
      const id = await market.gridId();
      output(a.json, { id, account: address, ...r }, () => `the public grid ${address} is participant ${id} (tx ${r.tx}); it needs funds in its market wallet to pay for deviations`);
    }),
  );
