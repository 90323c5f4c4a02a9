/**
 * Test-time access to the compiled market contract (never used by the bridge at run time):
 * the Hardhat artifact, compiled on demand, and a deployment with its linked libraries.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { Contract, ContractFactory, InterfaceAbi, NonceManager, Signer, Wallet } from "ethers";
import { REPO_ROOT } from "./paths";

export interface Artifact {
  contractName: string;
  abi: InterfaceAbi;
  bytecode: string;
  linkReferences: Record<string, Record<string, Array<{ start: number; length: number }>>>;
}

const ARTIFACTS = path.join(REPO_ROOT, "artifacts/contracts");
const MARKET_ARTIFACT = path.join(ARTIFACTS, "EnergyMarket.sol/EnergyMarket.json");

/** The compiled market; runs `npx hardhat compile` at the repo root when the artifact is missing. */
export function marketArtifact(): Artifact {
  if (!existsSync(MARKET_ARTIFACT)) {
    const compile = spawnSync("npx", ["hardhat", "compile"], { cwd: REPO_ROOT, encoding: "utf8" });
    if (compile.status !== 0 || !existsSync(MARKET_ARTIFACT)) {
      throw new Error(`no market artifact at ${MARKET_ARTIFACT}; "npx hardhat compile" in ${REPO_ROOT} said:\n${compile.stdout}${compile.stderr}`);
    }
  }
  return readArtifact(MARKET_ARTIFACT);
}

function readArtifact(file: string): Artifact {
  return JSON.parse(readFileSync(file, "utf8")) as Artifact;
}

/** Bytecode with every library placeholder replaced by the library's address. */
function linkBytecode(artifact: Artifact, addresses: Record<string, string>): string {
  let code = artifact.bytecode.slice(2);
  for (const libraries of Object.values(artifact.linkReferences)) {
    for (const [name, references] of Object.entries(libraries)) {
      const address = addresses[name];
      if (!address) throw new Error(`${artifact.contractName} needs library ${name}`);
      for (const { start, length } of references) code = code.slice(0, 2 * start) + address.slice(2).toLowerCase() + code.slice(2 * (start + length));
    }
  }
  return `0x${code}`;
}

async function deployArtifact(artifact: Artifact, deployer: Signer, args: unknown[] = []): Promise<string> {
  const libraries: Record<string, string> = {};
  for (const [file, names] of Object.entries(artifact.linkReferences)) {
    for (const name of Object.keys(names)) libraries[name] = await deployArtifact(readArtifact(path.join(REPO_ROOT, "artifacts", file, `${name}.json`)), deployer);
  }
  const contract = await new ContractFactory(artifact.abi, linkBytecode(artifact, libraries), deployer).deploy(...args);
  await contract.waitForDeployment();
  return contract.getAddress();
}

export interface MarketSetup {
  /** unix seconds of the start of interval 0 */
  startTime: number;
  intervalSeconds: number;
  /** meters to bind: 12-digit address, meter account, rated power */
  meters: Array<{ address: string; account: string; ratedPowerW: number }>;
}

/** Deploys the market, registers the grid and one participant per meter, binds the meters, funds the meter accounts. */
export async function deployMarket(operatorWallet: Wallet, setup: MarketSetup): Promise<{ address: string; participantIds: number[] }> {
  const artifact = marketArtifact();
  const operator = new NonceManager(operatorWallet); // the node's pending nonce may lag right after a send
  const interval = setup.intervalSeconds;
  const schedule = {
    startTime: setup.startTime,
    intervalSeconds: interval,
    commitSeconds: Math.max(1, Math.floor((interval * 2) / 15)),
    revealSeconds: Math.max(1, Math.floor(interval / 15)),
    settleOffsetSeconds: Math.floor((interval * 2) / 3),
    readingGraceSeconds: Math.floor(interval / 3),
  };
  const params = {
    marginWei: 10n ** 15n,
    forfeitWei: 10n ** 14n,
    referencePriceWeiPerKWh: 7n * 10n ** 14n,
    maxPriceWeiPerKWh: 10n ** 18n,
    maxEnergyWh: 1_000_000n,
    shortRatioPpm: 1_100_000n,
    longRatioPpm: 900_000n,
    rewardRatioPpm: 10_000n,
    penaltyRatioPpm: 50_000n,
  };
  const address = await deployArtifact(artifact, operator, [schedule, params]);
  const market = new Contract(address, artifact.abi, operator);
  const provider = operator.provider!;
  const fund = async (to: string) => (await operator.sendTransaction({ to, value: 10n ** 18n })).wait();
  await (await market.registerGrid(Wallet.createRandom().address, "grid")).wait();
  const participantIds: number[] = [];
  for (const [i, meter] of setup.meters.entries()) {
    const owner = new Wallet(Wallet.createRandom().privateKey, provider);
    await fund(owner.address);
    await fund(meter.account);
    await (await (new Contract(address, artifact.abi, owner)).register(`prosumer ${i + 1}`, i % 2 === 0)).wait();
    const id = i + 2; // the grid is participant 1
    await (await market.bindMeter(id, BigInt(meter.address), meter.account, meter.ratedPowerW)).wait();
    participantIds.push(id);
  }
  return { address, participantIds };
}
