/**
 * Test-time access to the compiled market contract (never used by the bridge at run time): the
 * Hardhat artifacts, compiled on demand, and a deployment exactly as the repository's
 * lib/market.ts does it (the linked libraries one at a time, then the market with schedule,
 * limits and parameters); meters bound the way the contract requires (the operator proposes, the
 * prosumer, its security deposited, accepts); and a settler doing the operator's clearing and
 * settlement, without which a meter cannot post more than four intervals ahead.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Contract, ContractFactory, Interface, InterfaceAbi, JsonRpcProvider, NonceManager, Signer, Wallet } from "ethers";
import { boundaryMs, lastBoundary } from "../../src/clock";
import { REPO_ROOT } from "./paths";
import { mined, waitUntil } from "./wait";

export interface Artifact {
  contractName: string;
  abi: InterfaceAbi;
  bytecode: string;
  linkReferences: Record<string, Record<string, Array<{ start: number; length: number }>>>;
}

const ARTIFACTS = path.join(REPO_ROOT, "artifacts");
const MARKET_ARTIFACT = path.join(ARTIFACTS, "contracts/EnergyMarket.sol/EnergyMarket.json");

/** The market's linked libraries, in lib/market.ts's deployment order. */
const LIBRARIES = ["Clearing", "Settlement", "Trading", "Metering", "Accounts", "Participants"] as const;
const libraryFile = (name: string) => `contracts/libraries/${name}.sol`;

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

/** Bytecode with every library placeholder replaced by its address (keyed by "file:name", as Hardhat links). */
function linkBytecode(artifact: Artifact, addresses: Record<string, string>): string {
  let code = artifact.bytecode.slice(2);
  for (const [file, libraries] of Object.entries(artifact.linkReferences)) {
    for (const [name, references] of Object.entries(libraries)) {
      const address = addresses[`${file}:${name}`];
      if (!address) throw new Error(`${artifact.contractName} needs library ${file}:${name}`);
      for (const { start, length } of references) code = code.slice(0, 2 * start) + address.slice(2).toLowerCase() + code.slice(2 * (start + length));
    }
  }
  return `0x${code}`;
}

/** The paper's parameters as lib/market.ts's PAPER_PARAMS. */
export const PAPER_PARAMS = {
  marginWei: 10n ** 15n,
  forfeitWei: 10n ** 15n,
  maxEnergyWh: 1_000_000n,
  minVolumeWh: 100n,
  referencePriceWeiPerKWh: 7n * 10n ** 14n,
  maxPriceWeiPerKWh: 10n ** 18n,
  floorPriceWeiPerKWh: 3n * 10n ** 14n,
  capPriceWeiPerKWh: 12n * 10n ** 14n,
  shortRatioPpm: 1_100_000n,
  longRatioPpm: 900_000n,
  rewardRatioPpm: 10_000n,
  penaltyRatioPpm: 50_000n,
};

/** Deployment bounds as lib/market.ts's DEFAULT_LIMITS. */
export const DEFAULT_LIMITS = { maxPriceWeiPerKWh: 10n ** 18n, maxBandPriceWeiPerKWh: 10n ** 16n, maxMarginWei: 10n ** 18n, maxRatedPowerW: 10_000_000n };

export interface Schedule {
  startTime: number;
  intervalSeconds: number;
  commitSeconds: number;
  revealSeconds: number;
  settleOffsetSeconds: number;
  readingGraceSeconds: number;
}

/** The paper's timing scaled to `intervalSeconds`, as lib/market.ts's scheduleFor. */
export function scheduleFor(intervalSeconds: number, startTime: number, overrides: Partial<Schedule> = {}): Schedule {
  return {
    startTime,
    intervalSeconds,
    commitSeconds: Math.max(1, Math.floor((intervalSeconds * 2) / 15)),
    revealSeconds: Math.max(1, Math.floor(intervalSeconds / 15)),
    settleOffsetSeconds: Math.floor((intervalSeconds * 2) / 3),
    readingGraceSeconds: Math.floor(intervalSeconds / 3),
    ...overrides,
  };
}

/** Deploys the linked libraries one at a time in lib/market.ts's order, then the market; the deployer is the operator. */
export async function deployMarketWithLibraries(deployer: Signer, schedule: Schedule, params = PAPER_PARAMS, limits = DEFAULT_LIMITS): Promise<string> {
  const addresses: Record<string, string> = {};
  for (const name of LIBRARIES) {
    const library = readArtifact(path.join(ARTIFACTS, libraryFile(name), `${name}.json`));
    const deployed = await new ContractFactory(library.abi, linkBytecode(library, addresses), deployer).deploy();
    await mined(deployed.deploymentTransaction());
    addresses[`${libraryFile(name)}:${name}`] = await deployed.getAddress();
  }
  const artifact = marketArtifact();
  const market = await new ContractFactory(artifact.abi, linkBytecode(artifact, addresses), deployer).deploy(schedule, limits, params);
  await mined(market.deploymentTransaction());
  return market.getAddress();
}

/** A meter proposal: the meter's number (its 12-digit address), its own account, rated power and opening registers. */
export interface MeterSpec {
  address: string;
  account: string;
  ratedPowerW: number;
  /** the meter's registers when it starts serving the prosumer (default 0) */
  openImportWh?: bigint;
  openExportWh?: bigint;
}

export function proposal(meter: MeterSpec) {
  return { meterNumber: BigInt(meter.address), account: meter.account, ratedPowerW: meter.ratedPowerW, openImportWh: meter.openImportWh ?? 0n, openExportWh: meter.openExportWh ?? 0n, closeImportWh: 0n, closeExportWh: 0n };
}

export interface MarketSetup {
  /** unix seconds of the start of interval 0 */
  startTime: number;
  intervalSeconds: number;
  /** schedule fields other than the paper's scaled ones (e.g. a long readingGraceSeconds) */
  schedule?: Partial<Schedule>;
  meters: MeterSpec[];
  /** give each meter account 1 ether for its own posts (default true; a gateway with a relayer needs none) */
  fundMeters?: boolean;
}

export interface TestMarket {
  address: string;
  /** the operator's market contract (a NonceManager signer: send the operator's other transactions through `fund` or it) */
  operator: Contract;
  /** sends `value` wei (default 1 ether) from the operator's account */
  fund(to: string, value?: bigint): Promise<unknown>;
  /** participant IDs of the meters, in order (the grid is participant 1) */
  participantIds: number[];
  /** the prosumers' signers, in order (each keeps its nonce: the node's count may lag right after a send) */
  prosumers: NonceManager[];
  /** the interval each meter was bound in: its first reading is for this interval */
  boundIntervals: number[];
  schedule: Schedule;
}

/** Deploys the market, registers the grid and one prosumer per meter, who deposits its security and accepts its meter. */
export async function deployMarket(operatorWallet: Wallet, setup: MarketSetup): Promise<TestMarket> {
  const operatorSigner = new NonceManager(operatorWallet); // the node's pending nonce may lag right after a send
  const schedule = scheduleFor(setup.intervalSeconds, setup.startTime, setup.schedule);
  const address = await deployMarketWithLibraries(operatorSigner, schedule);
  const abi = marketArtifact().abi;
  const operator = new Contract(address, abi, operatorSigner);
  const provider = operatorWallet.provider!;
  const fund = async (to: string, value = 10n ** 18n) => mined(operatorSigner.sendTransaction({ to, value }));
  await mined(operator.registerGrid(Wallet.createRandom().address, "grid"));
  const market: TestMarket = { address, operator, fund, participantIds: [], prosumers: [], boundIntervals: [], schedule };
  for (const [i, meter] of setup.meters.entries()) {
    const wallet = new Wallet(Wallet.createRandom().privateKey, provider);
    const prosumer = new NonceManager(wallet);
    await fund(wallet.address);
    if (setup.fundMeters ?? true) await fund(meter.account);
    const own = new Contract(address, abi, prosumer);
    await mined(own.register(`prosumer ${i + 1}`, i % 2 === 0));
    const id = Number(await operator.idOf(wallet.address));
    await mined(own.deposit({ value: 10n ** 17n })); // the security of a meter of up to several hundred kW
    market.participantIds.push(id);
    market.prosumers.push(prosumer);
  }
  market.boundIntervals = await bindMetersTogether(market, setup.meters);
  return market;
}

/**
 * Binds every meter in one interval, so each meter's first reading is for the same interval (bound
 * one by one, on a loaded machine the bindings spanned a boundary: a meter bound an interval earlier
 * owed a reading of a boundary passed before the test's bridge started). The operator proposes them
 * all; the prosumers accept at once, early enough in an interval.
 */
async function bindMetersTogether(market: TestMarket, meters: MeterSpec[]): Promise<number[]> {
  for (const [i, meter] of meters.entries()) await mined(market.operator.proposeMeter(market.participantIds[i], proposal(meter)));
  const hashes = await Promise.all(market.participantIds.map(async (id) => (await market.operator.meterProposalOf(id))[0] as string));
  const clock = { startTime: market.schedule.startTime, intervalSeconds: market.schedule.intervalSeconds };
  const untilBoundaryMs = boundaryMs(clock, lastBoundary(clock, Date.now()) + 1) - Date.now();
  if (untilBoundaryMs < Math.min(3000, (clock.intervalSeconds * 1000) / 2)) await sleep(untilBoundaryMs + 100);
  const receipts = await Promise.all(market.prosumers.map((prosumer, i) => mined((market.operator.connect(prosumer) as Contract).acceptMeter(hashes[i]))));
  return receipts.map((receipt, i) => {
    const bound = receipt.logs.map((log) => market.operator.interface.parseLog(log)).find((event) => event?.name === "MeterBound");
    if (!bound) throw new Error(`meter ${meters[i].address}: no MeterBound event in the acceptance`);
    return Number(bound.args.fromInterval);
  });
}

/** The operator proposes `meter` for participant `id` and the prosumer accepts it; returns the interval it serves from. */
export async function bindMeter(market: TestMarket, prosumer: Signer, id: number, meter: MeterSpec): Promise<number> {
  await mined(market.operator.proposeMeter(id, proposal(meter)));
  const [hash] = await market.operator.meterProposalOf(id);
  const receipt = await mined((market.operator.connect(prosumer) as Contract).acceptMeter(hash));
  const bound = receipt.logs.map((log) => market.operator.interface.parseLog(log)).find((event) => event?.name === "MeterBound");
  if (!bound) throw new Error(`meter ${meter.address}: no MeterBound event in the acceptance`);
  return Number(bound.args.fromInterval);
}

/** How long the settler waits for its transaction: one a reorganization dropped is never mined (the nonce is then asked again). */
const SETTLER_MINED_MS = 10_000;

/**
 * Clearing and settlement, as the operator's cycle daemon does it (anyone may: `key` need not be the
 * operator's, which keeps the two accounts' nonces apart): every `pollMs`, each
 * delivery interval whose reveal window closed is cleared, and the meters' participants are
 * settled interval after interval once settlement opens (the market itself skips a participant
 * whose reading is missing until the grace period ends). Node errors (a chain outage) are retried.
 * A reorganization that takes settlements off the chain takes the settler back to the oldest
 * interval the chain has unsettled, and a transaction it dropped is given up after a while.
 */
export class Settler {
  private readonly stop = new AbortController();
  private running: Promise<void> | undefined;
  private readonly signer: NonceManager;
  private readonly market: Contract;
  /** settle calls that went through: [interval, ids] */
  readonly settled: Array<[number, number[]]> = [];
  /** the interval it started settling from */
  private readonly first: number;

  constructor(
    key: string,
    url: string,
    address: string,
    private readonly ids: number[],
    private next: number,
    private readonly pollMs = 500,
  ) {
    this.first = next;
    this.signer = new NonceManager(new Wallet(key, new JsonRpcProvider(url, undefined, { staticNetwork: true })));
    this.market = new Contract(address, marketArtifact().abi, this.signer);
  }

  start(): this {
    this.running ??= this.loop();
    return this;
  }

  async close(): Promise<void> {
    this.stop.abort();
    await this.running;
    this.signer.provider?.destroy();
  }

  private async loop(): Promise<void> {
    while (!this.stop.signal.aborted) {
      try {
        await this.step();
      } catch {
        this.signer.reset(); // the node may have restarted, or a transaction failed: ask it for the nonce again
      }
      await sleep(this.pollMs, undefined, { signal: this.stop.signal }).catch(() => undefined);
    }
  }

  /** Clears and settles from the oldest interval not yet settled for every participant, as far as the market allows. */
  private async step(): Promise<void> {
    const unsettled = await Promise.all(this.ids.map(async (id) => Number((await this.market.settlementOf(id)).nextInterval)));
    this.next = Math.max(this.first, Math.min(this.next, ...unsettled)); // a reorganization may have taken settlements off
    for (;;) {
      const view = await this.market.intervalOf(this.next);
      const phase = Number(view.phase);
      if (phase === 3) await mined(this.market.clear(this.next, 1000), SETTLER_MINED_MS); // Clearing
      else if (phase !== 5) return; // not yet in settlement
      if (Number((await this.market.intervalOf(this.next)).phase) !== 5) return;
      const pending = [];
      for (const id of this.ids) if (Number((await this.market.settlementOf(id)).nextInterval) <= this.next) pending.push(id);
      if (pending.length > 0) {
        await mined(this.market.settle(this.next, pending), SETTLER_MINED_MS);
        this.settled.push([this.next, pending]);
      }
      for (const id of pending) if (Number((await this.market.settlementOf(id)).nextInterval) <= this.next) return; // a reading still awaited
      this.next++;
    }
  }
}

/** An entry a `postReadings` batch skipped: the batch transaction, its sender, the entry's position, the meter number and the refusal's name. */
export interface BatchSkip {
  tx: string;
  from: string;
  index: number;
  meterNumber: bigint;
  reason: string;
}

/**
 * The entries the market skipped in `postReadings` batches, oldest first. `settle` skips a
 * participant it cannot settle yet with the same `EntrySkipped` event: those are left out.
 */
export async function batchSkips(provider: JsonRpcProvider, market: string): Promise<BatchSkip[]> {
  const abi = new Interface(marketArtifact().abi);
  const logs = await provider.getLogs({ address: market, topics: [abi.getEvent("EntrySkipped")!.topicHash], fromBlock: 0 });
  const skips: BatchSkip[] = [];
  for (const log of logs) {
    const tx = await provider.getTransaction(log.transactionHash);
    if (!tx || abi.parseTransaction(tx)?.name !== "postReadings") continue;
    const { args } = abi.parseLog(log)!;
    skips.push({ tx: log.transactionHash, from: tx.from, index: Number(args.index), meterNumber: args.subject, reason: abi.parseError(args.reason)?.name ?? `unknown error ${args.reason}` });
  }
  return skips;
}

/** Waits until every transaction `account` sent is mined (none left in the node's pool). */
export async function batchesMined(provider: JsonRpcProvider, account: string, timeoutMs = 10_000): Promise<void> {
  await waitUntil(async () => (await provider.getTransactionCount(account, "pending")) === (await provider.getTransactionCount(account, "latest")), timeoutMs, `the transactions of ${account} mined`, 200);
}

/** Moves the chain's clock `seconds` ahead and mines a block there (anvil). */
export async function warp(provider: JsonRpcProvider, seconds: number): Promise<void> {
  await provider.send("evm_increaseTime", [seconds]);
  await provider.send("evm_mine", []);
}

/** Waits until the wall clock is `afterMs` into interval `d` (a meter bound in d by the chain's clock, which may run up to a second ahead). */
export async function intervalStarted(clock: { startTime: number; intervalSeconds: number }, d: number, afterMs = 200): Promise<void> {
  await sleep(Math.max(0, (clock.startTime + d * clock.intervalSeconds) * 1000 + afterMs - Date.now()));
}
