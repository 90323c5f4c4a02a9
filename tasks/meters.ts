/**
 * meter:propose, meter:accept, meter:release and reading:post: meters. A meter is bound in two steps,
 * so a prosumer is never given a meter (and the security its rated power holds back) without consent:
 * - meter:propose (operator): the meter's 12-digit number (its DL/T 645 address), its own account, its
 *   rated power and its registers when it starts serving. Proposing for a participant whose meter is
 *   bound needs --replace: the same meter with a new key or rating goes on with its register series; a
 *   swap to another meter also gives the old meter's closing registers.
 * - meter:accept (prosumer): accepts the proposal waiting for its account, naming the meter it expects;
 *   its market wallet must already hold the meter's security.
 * - meter:release (operator): unbinds a meter once everything it measured is settled.
 * - reading:post: post a meter's cumulative registers at an interval's end, signed by the meter
 *   account's own key. The meter bridge (meter-bridge/) is the real path; this is for operators
 *   testing without hardware.
 */
import { task, types } from "hardhat/config";
import type { EnergyMarket } from "../typechain-types";
import { localTime, windowsOf } from "../lib/clock";
import { kWhToWh, parseDecimal, whToKWh } from "../lib/units";
import { CliError, cliAction, ether, output, parseNonNegativeInt, required } from "./cli";
import { KeyArgs, asOperator, asParticipant, participantId, transact, withKey } from "./context";

/** A meter number exactly as printed on the meter: 12 digits, not all zeros. */
export function meterNumberArg(value: string | undefined): bigint {
  const s = required(value, "--meter", "the meter's 12-digit number (its DL/T 645 address)").trim();
  if (!/^\d{12}$/.test(s)) throw new CliError(`--meter: a meter number is exactly 12 digits (its DL/T 645 address, e.g. 000000000042), got ${JSON.stringify(s)}`);
  if (BigInt(s) === 0n) throw new CliError("--meter: 000000000000 is not a meter number");
  return BigInt(s);
}

/** A cumulative register in kWh (1 Wh resolution), not negative; undefined when not given. */
function registerArg(value: string | undefined, flag: string): bigint | undefined {
  if (value === undefined) return undefined;
  const wh = kWhToWh(value, flag);
  if (wh < 0n) throw new CliError(`${flag}: a register reading is not negative, got ${value}`);
  return wh;
}

const twelve = (n: bigint) => n.toString().padStart(12, "0");
const kW = (w: bigint) => `${whToKWh(w)} kW`; // W -> kW is the same factor as Wh -> kWh

/** "participant 2 (wind)" */
async function nameOf(market: EnergyMarket, id: bigint): Promise<string> {
  return `participant ${id} (${(await market.participant(id)).name})`;
}

/** What a meter of `ratedPowerW` holds back in its prosumer's wallet under the parameters in force now. */
async function securityFor(market: EnergyMarket, ratedPowerW: bigint): Promise<bigint> {
  const { ratedEnergyOf, securityOf } = await import("../lib/model");
  const [, intervalSeconds] = await market.schedule();
  const p = await market.paramsAt(await market.currentInterval());
  return securityOf(ratedEnergyOf(ratedPowerW, intervalSeconds), p);
}

interface ProposeArgs {
  participant?: string;
  meter?: string;
  account?: string;
  ratedKw: string;
  openImportKwh?: string;
  openExportKwh?: string;
  closeImportKwh?: string;
  closeExportKwh?: string;
  replace: boolean;
  json: boolean;
}

task("meter:propose", "Propose a meter (number, account, rated power, registers) for a prosumer, who binds it with meter:accept (operator)")
  .addOptionalParam("participant", "participant ID or account (required)", undefined, types.string)
  .addOptionalParam("meter", "meter number: exactly 12 digits, the meter's DL/T 645 address (required)", undefined, types.string)
  .addOptionalParam("account", "the meter's own account; it signs the readings (required)", undefined, types.string)
  .addOptionalParam("ratedKw", "rated power in kW: bounds its readings and bids, and sizes the security the prosumer keeps", "100", types.string)
  .addOptionalParam("openImportKwh", "a new meter's import register when it starts serving, kWh (default 0)", undefined, types.string)
  .addOptionalParam("openExportKwh", "a new meter's export register when it starts serving, kWh (default 0)", undefined, types.string)
  .addOptionalParam("closeImportKwh", "with --replace by another meter: the old meter's import register when it stops, kWh", undefined, types.string)
  .addOptionalParam("closeExportKwh", "with --replace by another meter: the old meter's export register when it stops, kWh", undefined, types.string)
  .addFlag("replace", "propose replacing the participant's bound meter (another meter, or the same meter with another account)")
  .addFlag("json", "print JSON")
  .setAction(
    cliAction(async (a: ProposeArgs, hre) => {
      const who = required(a.participant, "--participant", "the participant's ID or account");
      const number = meterNumberArg(a.meter);
      const account = required(a.account, "--account", "the meter's own account address");
      if (!hre.ethers.isAddress(account)) throw new CliError(`--account: not an account address: ${account}`);
      const ratedW = parseDecimal(a.ratedKw, 3, "--rated-kw");
      if (ratedW <= 0n) throw new CliError(`--rated-kw: expected a power above 0 kW, got ${a.ratedKw}`);
      const open = { importWh: registerArg(a.openImportKwh, "--open-import-kwh"), exportWh: registerArg(a.openExportKwh, "--open-export-kwh") };
      const close = { importWh: registerArg(a.closeImportKwh, "--close-import-kwh"), exportWh: registerArg(a.closeExportKwh, "--close-export-kwh") };

      const { market, deployment } = await asOperator(hre);
      const id = await participantId(market, who);
      const name = await nameOf(market, id);
      if ((await market.participant(id)).grid) throw new CliError(`${name} is the public grid, which has no meter`);
      const { maxRatedPowerW } = await market.limits();
      if (ratedW > maxRatedPowerW) throw new CliError(`--rated-kw: the market takes meters rated up to ${kW(maxRatedPowerW)}, not ${a.ratedKw} kW`);
      await refuseTaken(market, deployment.deployedAt.block, id, number, account);
      const registers = await registersFor(market, id, name, number, account, a.replace, open, close);

      const [waiting] = await market.meterProposalOf(id);
      const proposal = { meterNumber: number, account, ratedPowerW: ratedW, ...registers };
      const r = await transact(market.proposeMeter, [id, proposal]);
      const [hash] = await market.meterProposalOf(id);
      const security = await securityFor(market, ratedW);
      const replaced = waiting !== hre.ethers.ZeroHash ? " (it replaces the proposal that was waiting)" : "";
      output(a.json, { id, meter: twelve(number), account, ratedPowerW: ratedW, securityWei: security, proposal: hash, replacedProposal: replaced !== "", ...r }, () =>
        `meter ${twelve(number)} (account ${account}, rated ${kW(ratedW)}) proposed to ${name}${replaced}; it is bound when the prosumer accepts it (\`npx hardhat meter:accept --meter ${twelve(number)}\` with its key), its market wallet holding ${ether(security)} free for the meter's security (tx ${r.tx})`,
      );
    }),
  );

/** A meter number or account serving another participant cannot be proposed (the market says MeterInUse): say whose. */
async function refuseTaken(market: EnergyMarket, fromBlock: number, id: bigint, number: bigint, account: string) {
  const release = "a meter serves one participant: the operator releases it there first (`npx hardhat meter:release`), once everything it measured is settled";
  const byAccount = await market.participantOfMeter(account);
  if (byAccount !== 0n && byAccount !== id) throw new CliError(`account ${account} is the meter account of ${await nameOf(market, byAccount)}; ${release}`);
  const holder = await holderOf(market, fromBlock, number);
  if (holder !== undefined && holder !== id) throw new CliError(`meter ${twelve(number)} serves ${await nameOf(market, holder)}; ${release}`);
}

/**
 * The proposal's opening and closing registers, checked against the participant's bound meter:
 * - no meter bound: a new meter, opening registers as given (default 0), no closing registers;
 * - the same meter and account (a new rating): its register series goes on, no registers;
 * - otherwise --replace is needed: the same meter with another account goes on with its series; a swap
 *   to another meter needs the old meter's closing registers, not below its last reading.
 */
async function registersFor(
  market: EnergyMarket,
  id: bigint,
  name: string,
  number: bigint,
  account: string,
  replace: boolean,
  open: { importWh?: bigint; exportWh?: bigint },
  close: { importWh?: bigint; exportWh?: bigint },
) {
  const current = await market.meterOf(id);
  const closing = close.importWh !== undefined || close.exportWh !== undefined;
  const opening = open.importWh !== undefined || open.exportWh !== undefined;
  const none = { openImportWh: open.importWh ?? 0n, openExportWh: open.exportWh ?? 0n, closeImportWh: 0n, closeExportWh: 0n };
  if (current.meterNumber === 0n) {
    if (closing) throw new CliError(`--close-import-kwh/--close-export-kwh: ${name} has no meter bound, so there is no old meter to close`);
    return none;
  }
  const sameMeter = current.meterNumber === number;
  const sameAccount = current.account.toLowerCase() === account.toLowerCase();
  if (!(sameMeter && sameAccount) && !replace) {
    throw new CliError(`${name} already has meter ${twelve(current.meterNumber)} (account ${current.account}) bound; give --replace to propose replacing it`);
  }
  if (sameMeter) {
    if (opening || closing) throw new CliError(`meter ${twelve(number)} already serves ${name} and goes on with its register series: leave out the opening and closing registers`);
    return none;
  }
  const last = current.hasReading ? `at its last reading, for interval ${current.lastInterval}` : "when it was bound";
  if (close.importWh === undefined || close.exportWh === undefined) {
    throw new CliError(`replacing meter ${twelve(current.meterNumber)} needs its closing registers, --close-import-kwh and --close-export-kwh (it read ${whToKWh(current.importWh)} and ${whToKWh(current.exportWh)} kWh ${last})`);
  }
  for (const [flag, closed, read] of [["--close-import-kwh", close.importWh, current.importWh], ["--close-export-kwh", close.exportWh, current.exportWh]] as const) {
    if (closed < read) throw new CliError(`${flag}: meter ${twelve(current.meterNumber)} read ${whToKWh(read)} kWh ${last}; its register cannot have gone down to ${whToKWh(closed)}`);
  }
  return { ...none, closeImportWh: close.importWh, closeExportWh: close.exportWh };
}

/** The participant meter `number` serves now, from its latest MeterBound event. */
async function holderOf(market: EnergyMarket, fromBlock: number, number: bigint): Promise<bigint | undefined> {
  const bound = await market.queryFilter(market.filters.MeterBound(undefined, number), fromBlock);
  for (const l of bound.reverse()) {
    if ((await market.meterOf(l.args.participantId)).meterNumber === number) return l.args.participantId;
  }
  return undefined;
}

withKey(task("meter:accept", "Accept the meter the operator proposed for this account (its market wallet must already hold the meter's security)"))
  .addOptionalParam("meter", "the number of the meter you accept: exactly 12 digits, as printed on it (required)", undefined, types.string)
  .addFlag("json", "print JSON")
  .setAction(
    cliAction(async (a: KeyArgs & { meter?: string; json: boolean }, hre) => {
      const number = meterNumberArg(a.meter);
      const { market, signer } = await asParticipant(hre, a);
      const address = await signer.getAddress();
      const id = await market.idOf(address);
      if (id === 0n) throw new CliError(`account ${address} is not registered in the market: register it first (\`npx hardhat register\`)`);
      const name = await nameOf(market, id);
      const [hash, m] = await market.meterProposalOf(id);
      if (hash === hre.ethers.ZeroHash) throw new CliError(`no meter proposal waits for ${name}: the operator proposes one first (\`npx hardhat meter:propose\`)`);
      const proposed = `meter ${twelve(m.meterNumber)} (account ${m.account}, rated ${kW(m.ratedPowerW)})`;
      if (m.meterNumber !== number) throw new CliError(`the operator proposed ${proposed} to ${name}, not meter ${twelve(number)}: nothing was accepted`);
      const security = await securityFor(market, m.ratedPowerW);
      // what acceptMeter counts as free: the balance less locked sale funds and debts
      const w = await market.walletOf(id);
      const held = w.locked + w.owed;
      const free = w.balance > held ? w.balance - held : 0n;
      if (free < security) {
        throw new CliError(`${proposed} keeps a security of ${ether(security)} in the market wallet of ${name}, which has ${ether(free)} free: deposit ${ether(security - free)} first (\`npx hardhat deposit\`)`);
      }
      const r = await transact(market.acceptMeter, [hash]);
      output(a.json, { id, meter: twelve(m.meterNumber), account: m.account, ratedPowerW: m.ratedPowerW, securityWei: security, proposal: hash, ...r }, () =>
        `${proposed} is bound to ${name}; its security of ${ether(security)} stays in the market wallet while it is bound (tx ${r.tx})`,
      );
    }),
  );

task("meter:release", "Release a prosumer's meter once everything it measured is settled (operator)")
  .addOptionalParam("participant", "participant ID or account (required)", undefined, types.string)
  .addFlag("json", "print JSON")
  .setAction(
    cliAction(async (a: { participant?: string; json: boolean }, hre) => {
      const who = required(a.participant, "--participant", "the participant's ID or account");
      const { market } = await asOperator(hre);
      const id = await participantId(market, who);
      const name = await nameOf(market, id);
      const { meterNumber } = await market.meterOf(id);
      if (meterNumber === 0n) throw new CliError(`${name} has no meter bound`);
      const r = await transact(market.unbindMeter, [id]);
      output(a.json, { id, meter: twelve(meterNumber), ...r }, () => `meter ${twelve(meterNumber)} no longer serves ${name}; its security is free again (tx ${r.tx})`);
    }),
  );

withKey(task("reading:post", "Post a meter's cumulative registers at an interval's end, signed by the meter account's key (testing without hardware; the meter bridge is the real path)"))
  .addOptionalParam("meter", "meter number, 12 digits (required)", undefined, types.string)
  .addOptionalParam("importKwh", "forward active energy register (DL/T 645 00010000), kWh, cumulative (required)", undefined, types.string)
  .addOptionalParam("exportKwh", "reverse active energy register (DL/T 645 00020000), kWh, cumulative (required)", undefined, types.string)
  .addOptionalParam("interval", "the interval whose end the registers were read at (default: the last one that ended)", undefined, types.string)
  .addFlag("json", "print JSON")
  .setAction(
    cliAction(async (a: KeyArgs & { meter?: string; importKwh?: string; exportKwh?: string; interval?: string; json: boolean }, hre) => {
      const number = meterNumberArg(a.meter);
      const importWh = registerArg(required(a.importKwh, "--import-kwh", "the meter's import register in kWh"), "--import-kwh")!;
      const exportWh = registerArg(required(a.exportKwh, "--export-kwh", "the meter's export register in kWh"), "--export-kwh")!;
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
