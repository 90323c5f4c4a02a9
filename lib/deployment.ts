/**
 * The deployment file: where the deploy task records the market of a network, and every other task,
 * the cycle daemon, the meter bridge and the portal find it. Default: deployments/<network>.json.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { keccak256 } from "ethers";

export interface Deployment {
  network: string;
  chainId: number;
  market: string;
  /** Linked library addresses by name (Clearing, Settlement, Trading, Metering, Accounts, Participants). */
  libraries: Record<string, string>;
  operator: string;
  deployedAt: { block: number; time: number };
  schedule: ScheduleTimes;
  /** Hash of the chain's block 0: tells two chains with the same ID apart (e.g. a restarted anvil). */
  genesisHash?: string;
  /** keccak256 of the market's deployed code. */
  codeHash?: string;
}

/** The market's fixed timing, in seconds. */
export interface ScheduleTimes {
  startTime: number;
  intervalSeconds: number;
  commitSeconds: number;
  revealSeconds: number;
  settleOffsetSeconds: number;
  readingGraceSeconds: number;
}

export function deploymentPath(network: string): string {
  return resolve(process.env.MARKET_DEPLOYMENT ?? `deployments/${network}.json`);
}

export function writeDeployment(d: Deployment, path = deploymentPath(d.network)): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(d, null, 2) + "\n");
  return path;
}

/** The recorded deployment, or an error saying how to make one. */
export function readDeployment(network: string, path = deploymentPath(network)): Deployment {
  if (!existsSync(path)) {
    throw new DeploymentMissing(`no market deployed on "${network}": ${path} does not exist (run \`npx hardhat deploy --network ${network}\` first)`);
  }
  const d = JSON.parse(readFileSync(path, "utf8")) as Deployment;
  if (typeof d.market !== "string") throw new DeploymentMissing(`${path} has no "market" address`);
  return d;
}

export class DeploymentMissing extends Error {}
/** The deployment file does not describe the chain the node serves. */
export class DeploymentMismatch extends Error {}

/** A provider that takes raw JSON-RPC calls (ethers' JsonRpcProvider, Hardhat's provider). */
export interface RawRpc {
  send(method: string, params: unknown[]): Promise<unknown>;
}

/** What identifies the chain and market a deployment file describes, read from the node at deploy time. */
export async function chainFingerprint(rpc: RawRpc, market: string): Promise<{ genesisHash: string; codeHash: string }> {
  const genesis = (await rpc.send("eth_getBlockByNumber", ["0x0", false])) as { hash: string };
  const code = (await rpc.send("eth_getCode", [market, "latest"])) as string;
  return { genesisHash: genesis.hash, codeHash: keccak256(code) };
}

/**
 * Check that the node behind `rpc` serves the market `d` records: the same chain ID, the same chain
 * (block 0), and the market's code at its address. Throws a DeploymentMismatch in words otherwise.
 */
export async function checkDeployment(rpc: RawRpc, d: Deployment, node: { network: string; url?: string; path?: string }): Promise<void> {
  const file = node.path ?? deploymentPath(node.network);
  const at = node.url ? `the node at ${node.url}` : `the "${node.network}" node`;
  const again = `deploy again (\`npx hardhat deploy --network ${node.network}\`) or point "${node.network}" at the node it was deployed on`;
  const chainId = Number(await rpc.send("eth_chainId", []));
  if (chainId !== d.chainId) throw new DeploymentMismatch(`${file} is for chain ${d.chainId}, but ${at} is chain ${chainId}: ${again}`);
  if (d.genesisHash) {
    const genesis = (await rpc.send("eth_getBlockByNumber", ["0x0", false])) as { hash: string } | null;
    if (genesis?.hash !== d.genesisHash) {
      throw new DeploymentMismatch(`${file} was written for another chain with ID ${chainId}: ${at} has a different first block (a restarted node?); ${again}`);
    }
  }
  const code = (await rpc.send("eth_getCode", [d.market, "latest"])) as string;
  if (code === "0x") throw new DeploymentMismatch(`${at} has no contract at ${d.market}, the market in ${file} (was the chain reset?): ${again}`);
  if (d.codeHash && keccak256(code) !== d.codeHash) {
    throw new DeploymentMismatch(`the contract at ${d.market} on ${at} is not the market recorded in ${file} (its code differs): ${again}`);
  }
}
