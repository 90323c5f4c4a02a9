/**
 * What the operations tasks share: the deployed market of the network (checked against the node it
 * reaches), connected to a signer; the key options every participant-side task takes; and sending a
 * transaction only after simulating it, so a call the market would refuse is never sent.
 */
import type { ConfigurableTaskDefinition, HardhatRuntimeEnvironment } from "hardhat/types";
import { types } from "hardhat/config";
import type { Overrides, Signer } from "ethers";
import type { EnergyMarket } from "../typechain-types";
import type { TypedContractMethod } from "../typechain-types/common";
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
  // files are plain strings: lib/signers reads them and says in one line which one it cannot read
  return t
    .addOptionalParam("keyFile", "file holding the account's private key (0x + 64 hex digits)", undefined, types.string)
    .addOptionalParam("keystore", "encrypted JSON keystore of the account (make one with `keystore:new`)", undefined, types.string)
    .addOptionalParam("passwordFile", "file holding the keystore's password", undefined, types.string)
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

/** The deployment file of the network, checked against the node the network reaches. */
export async function checkedDeployment(hre: HardhatRuntimeEnvironment): Promise<Deployment> {
  const { readDeployment, checkDeployment } = await import("../lib/deployment");
  const deployment = readDeployment(hre.network.name);
  const url = "url" in hre.network.config ? hre.network.config.url : undefined;
  await checkDeployment(hre.network.provider, deployment, { network: hre.network.name, url });
  return deployment;
}

async function connect(hre: HardhatRuntimeEnvironment, signer: Signer): Promise<Connected> {
  const { attachMarket } = await import("../lib/market");
  const deployment = await checkedDeployment(hre);
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

/**
 * Simulate the call in the latest state, then send it with a gas limit from its own estimate and wait
 * for it. A refusal throws the market's custom error before anything is sent (and the explicit gas
 * limit keeps a node-side gas fallback from sending a call that estimation found failing). The limit
 * has room (half the estimate and 20,000 more, unused gas is not paid): the market's gas depends on its
 * state, which other transactions in the same blocks change (the cycle daemon clearing while a reveal
 * is sent cost a reveal 24 % more than its estimate). A call that still fails once mined is replayed
 * in its block's state to name the market's error, or said in one line.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function transact<A extends any[]>(method: TypedContractMethod<A, any, "nonpayable" | "payable">, args: A, overrides: Overrides = {}) {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const m = method as unknown as { (...a: any[]): Promise<any>; staticCall(...a: any[]): Promise<unknown>; estimateGas(...a: any[]): Promise<bigint> };
  await m.staticCall(...args, overrides);
  const gasLimit = ((await m.estimateGas(...args, overrides)) * 3n) / 2n + 20_000n;
  const tx = await m(...args, { ...overrides, gasLimit });
  try {
    return await mined(tx);
  } catch (e) {
    const receipt = (e as { receipt?: { hash: string; blockNumber: number; gasUsed: bigint } }).receipt;
    if (!receipt) throw e;
    await m.staticCall(...args, { ...overrides, gasLimit, blockTag: receipt.blockNumber - 1 }); // the market's error, if it names one
    throw new CliError(
      `transaction ${receipt.hash} was mined in block ${receipt.blockNumber} but failed (it used ${receipt.gasUsed} of its ${gasLimit} gas): other transactions changed the market in between; nothing changed, run the command again`,
    );
  }
}

/** Wait for a transaction and return its hash and gas. */
export async function mined(tx: { wait(): Promise<{ hash: string; gasUsed: bigint } | null> }) {
  const r = await tx.wait();
  if (!r) throw new CliError("the transaction was not mined");
  return { tx: r.hash, gas: Number(r.gasUsed) };
}
