/**
 * What the operations tasks share: the deployed market of the network, connected to a signer,
 * the key options every participant-side task takes, and parsing of human units.
 */
import type { ConfigurableTaskDefinition, HardhatRuntimeEnvironment } from "hardhat/types";
import { types } from "hardhat/config";
import type { Signer } from "ethers";
import type { EnergyMarket } from "../typechain-types";
import type { Deployment } from "../lib/deployment";
import { CliError } from "./cli";

export interface KeyArgs {
  keyFile?: string;
  keystore?: string;
  passwordFile?: string;
  account?: number;
}

/** Add --key-file / --keystore / --password-file / --account to a task. */
export function withKey<T extends ConfigurableTaskDefinition>(t: T): T {
  return t
    .addOptionalParam("keyFile", "file holding the account's private key", undefined, types.inputFile)
    .addOptionalParam("keystore", "encrypted JSON keystore of the account", undefined, types.inputFile)
    .addOptionalParam("passwordFile", "file holding the keystore's password", undefined, types.inputFile)
    .addOptionalParam("account", "development account index (hardhat/localhost only)", undefined, types.int) as T;
}

export interface Connected {
  market: EnergyMarket;
  deployment: Deployment;
  signer: Signer;
}

/** The network's market, connected to the operator. */
export async function asOperator(hre: HardhatRuntimeEnvironment): Promise<Connected> {
  const { operatorSigner } = await import("../lib/signers");
  return connect(hre, await operatorSigner(hre));
}

/** The network's market, connected to the account given by the key options. */
export async function asParticipant(hre: HardhatRuntimeEnvironment, key: KeyArgs): Promise<Connected> {
  const { signerFrom } = await import("../lib/signers");
  return connect(hre, await signerFrom(hre, key));
}

async function connect(hre: HardhatRuntimeEnvironment, signer: Signer): Promise<Connected> {
  const { readDeployment } = await import("../lib/deployment");
  const { attachMarket } = await import("../lib/market");
  const deployment = readDeployment(hre.network.name);
  const { chainId } = await hre.ethers.provider.getNetwork();
  if (Number(chainId) !== deployment.chainId) {
    throw new CliError(`the deployment file is for chain ${deployment.chainId}, but the node is chain ${chainId}`);
  }
  if ((await hre.ethers.provider.getCode(deployment.market)) === "0x") {
    throw new CliError(`no contract at ${deployment.market} on "${hre.network.name}" (was the chain reset? deploy again)`);
  }
  return { market: attachMarket(deployment.market, signer), deployment, signer };
}

/** A participant ID given as a number or a registered account address. */
export async function participantId(market: EnergyMarket, who: string): Promise<bigint> {
  if (/^\d+$/.test(who)) {
    const id = BigInt(who);
    if (id === 0n || id > (await market.participantCount())) throw new CliError(`no participant with ID ${who}`);
    return id;
  }
  if (/^0x[0-9a-fA-F]{40}$/.test(who)) {
    const id = await market.idOf(who);
    if (id === 0n) throw new CliError(`${who} is not registered`);
    return id;
  }
  throw new CliError(`expected a participant ID or account address, got ${JSON.stringify(who)}`);
}

/** Wait for a transaction and return its hash and gas. */
export async function mined(tx: { wait(): Promise<{ hash: string; gasUsed: bigint } | null> }) {
  const r = await tx.wait();
  if (!r) throw new CliError("the transaction was not mined");
  return { tx: r.hash, gas: Number(r.gasUsed) };
}
