/**
 * The deployment file: where the deploy task records the market of a network, and every other task,
 * the cycle daemon, the meter bridge and the portal find it. Default: deployments/<network>.json.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";

export interface Deployment {
  network: string;
  chainId: number;
  market: string;
  /** Linked library addresses by name (Clearing, Settlement, Trading, Metering, Accounts, Participants). */
  libraries: Record<string, string>;
  operator: string;
  deployedAt: { block: number; time: number };
  schedule: ScheduleTimes;
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
