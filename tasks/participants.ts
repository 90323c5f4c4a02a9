/**
 * register, authorize, grid:register, meter:propose and meter:accept: who takes part.
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

task("meter:propose", "Propose a meter (number, account, rated power, registers) for a prosumer, who binds it with meter:accept (operator)")
  .addParam("participant", "participant ID or account", undefined, types.string)
  .addParam("meter", "meter number: the 12-digit DL/T 645 address", undefined, types.string)
  .addParam("account", "the meter's own account (it posts the readings)", undefined, types.string)
  .addOptionalParam("ratedKw", "rated power in kW (bounds its readings and bids, and sizes the security)", "100", types.string)
  .addOptionalParam("openImportKwh", "the meter's import register when it starts serving, kWh", "0", types.string)
  .addOptionalParam("openExportKwh", "the meter's export register when it starts serving, kWh", "0", types.string)
  .addOptionalParam("closeImportKwh", "for a swap: the replaced meter's import register when it stops, kWh", "0", types.string)
  .addOptionalParam("closeExportKwh", "for a swap: the replaced meter's export register when it stops, kWh", "0", types.string)
  .addFlag("json", "print JSON")
  .setAction(async (a, hre) =>
    asCli(async () => {
      const { kWhToWh, parseDecimal } = await import("../lib/units");
      if (!/^\d{1,12}$/.test(a.meter) || BigInt(a.meter) === 0n) throw new CliError(`--meter: expected a meter number of up to 12 digits, got ${JSON.stringify(a.meter)}`);
      if (!hre.ethers.isAddress(a.account)) throw new CliError(`--account: not an account address: ${a.account}`);
      const ratedW = parseDecimal(a.ratedKw, 3, "--rated-kw");
      const register = (value: string, flag: string) => {
        const wh = kWhToWh(value, flag);
        if (wh < 0n) throw new CliError(`${flag}: a register cannot be negative, got ${JSON.stringify(value)}`);
        return wh;
      };
      const proposal = {
        meterNumber: BigInt(a.meter),
        account: a.account,
        ratedPowerW: ratedW,
        openImportWh: register(a.openImportKwh, "--open-import-kwh"),
        openExportWh: register(a.openExportKwh, "--open-export-kwh"),
        closeImportWh: register(a.closeImportKwh, "--close-import-kwh"),
        closeExportWh: register(a.closeExportKwh, "--close-export-kwh"),
      };
      const { market } = await asOperator(hre);
      const id = await participantId(market, a.participant);
      const r = await mined(await market.proposeMeter(id, proposal));
      const [hash] = await market.meterProposalOf(id);
      output(a.json, { id, meter: a.meter, account: a.account, ratedPowerW: ratedW, proposal: hash, ...r }, () =>
        `meter ${a.meter.padStart(12, "0")} (${a.account}) proposed to participant ${id}; it is bound when the prosumer runs meter:accept (tx ${r.tx})`,
      );
    }),
  );

withKey(task("meter:accept", "Accept the meter the operator proposed for this account (its wallet must already hold the meter's security)"))
  .addFlag("json", "print JSON")
  .setAction(async (a, hre) =>
    asCli(async () => {
      const { weiToEther } = await import("../lib/units");
      const { decodeRevert } = await import("../lib/market");
      const { market, signer } = await asParticipant(hre, a);
      const address = await signer.getAddress();
      const id = await market.idOf(address);
      if (id === 0n) throw new CliError(`${address} is not registered`);
      const [hash, m] = await market.meterProposalOf(id);
      if (hash === hre.ethers.ZeroHash) throw new CliError(`no meter proposal waits for participant ${id} (the operator proposes one with meter:propose)`);
      try {
        await market.acceptMeter.staticCall(hash);
      } catch (e) {
        const revert = decodeRevert(e);
        if (revert?.name !== "InsufficientFunds") throw e;
        const [, needed, available] = revert.args as bigint[];
        throw new CliError(`the meter's security is ${weiToEther(needed)} ether and the wallet has ${weiToEther(available)} ether free: deposit ${weiToEther(needed - available)} ether first`);
      }
      const r = await mined(await market.acceptMeter(hash));
      const number = m.meterNumber.toString().padStart(12, "0");
      output(a.json, { id, meter: number, account: m.account, ratedPowerW: m.ratedPowerW, proposal: hash, ...r }, () => `meter ${number} (${m.account}) bound to participant ${id} (tx ${r.tx})`);
    }),
  );
