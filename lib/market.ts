/**
 * The one typed client over the market contract: deployment (with its linked libraries), default
 * parameters, sealed-bid commitments, reveal hints, clear-until-done and settlement batches.
 * Tasks, the cycle daemon, the simulator and the tests all go through these functions.
 */
import { AbiCoder, BigNumberish, ContractRunner, EventFragment, Interface, LogDescription, Signer, hexlify, keccak256, randomBytes } from "ethers";
import { Accounts__factory, EnergyMarket, EnergyMarket__factory, Clearing__factory, Metering__factory, Participants__factory, Settlement__factory, Trading__factory } from "../typechain-types";
import type { IEnergyMarket } from "../typechain-types";
import type { EnergyMarketLibraryAddresses } from "../typechain-types/factories/contracts/EnergyMarket__factory";
import type { ScheduleTimes } from "./deployment";

/** The contract's fixed timing (IEnergyMarket.Schedule). */
export interface Schedule {
  startTime: BigNumberish;
  intervalSeconds: BigNumberish;
  commitSeconds: BigNumberish;
  revealSeconds: BigNumberish;
  settleOffsetSeconds: BigNumberish;
  readingGraceSeconds: BigNumberish;
}
export type MarketParams = IEnergyMarket.MarketParamsStruct;
export type Limits = IEnergyMarket.LimitsStruct;
export type MeterProposal = IEnergyMarket.MeterProposalStruct;

export const Side = { Sell: 0, Buy: 1 } as const;
export type SideValue = (typeof Side)[keyof typeof Side];
export const PHASES = ["Upcoming", "Commit", "Reveal", "Clearing", "Delivery", "Settlement"] as const;
export const STAGES = ["NotStarted", "Green", "All", "Release", "Done"] as const;
/** `Stage.Done`: the interval is cleared. */
export const STAGE_DONE = STAGES.indexOf("Done");
export type PhaseName = (typeof PHASES)[number];

/**
 * The paper's parameters (section 3.1), with the decisions of MECHANISM.md: the balancing price A is
 * kept within [0.0003, 0.0012] ether/kWh (the paper's prices run from 0.000408 to 0.000824) and falls
 * back to the reference price below 0.1 kWh of trades; a commit never revealed forfeits at least the
 * whole margin.
 */
export const PAPER_PARAMS: IEnergyMarket.MarketParamsStruct = {
  marginWei: 10n ** 15n, // 0.001 ether
  forfeitWei: 10n ** 15n, // the whole margin (the least forfeit; a metered bidder's grows with its rating)
  maxEnergyWh: 1_000_000n, // 1 MWh in one interval
  minVolumeWh: 100n, // 0.1 kWh: below it A is the reference price
  referencePriceWeiPerKWh: 7n * 10n ** 14n, // 0.0007 ether/kWh
  maxPriceWeiPerKWh: 10n ** 18n, // 1 ether/kWh
  floorPriceWeiPerKWh: 3n * 10n ** 14n, // 0.0003 ether/kWh
  capPriceWeiPerKWh: 12n * 10n ** 14n, // 0.0012 ether/kWh
  shortRatioPpm: 1_100_000n, // W' = 1.1
  longRatioPpm: 900_000n, // W'' = 0.9
  rewardRatioPpm: 10_000n, // M' = 0.01
  penaltyRatioPpm: 50_000n, // M'' = 0.05
};

/**
 * Bounds fixed at deployment: bid prices up to 1 ether/kWh, the balancing band (what balancing and the
 * security can charge) up to 0.01 ether/kWh, about ten times the paper's prices; a margin up to
 * 1 ether; meters up to 10 MW.
 */
export const DEFAULT_LIMITS: IEnergyMarket.LimitsStruct = {
  maxPriceWeiPerKWh: 10n ** 18n,
  maxBandPriceWeiPerKWh: 10n ** 16n,
  maxMarginWei: 10n ** 18n,
  maxRatedPowerW: 10_000_000n,
};

/**
 * The paper's timing scaled to any interval length: commit 0-2 min and reveal 2-3 min of a 15-minute
 * interval, settlement from minute 10 of the interval after delivery, missing readings after minute 15.
 */
export function scheduleFor(intervalSeconds: number, startTime: bigint | number = 0, overrides: Partial<Schedule> = {}): Schedule {
  return {
    startTime: BigInt(startTime),
    intervalSeconds,
    commitSeconds: Math.max(1, Math.floor((intervalSeconds * 2) / 15)),
    revealSeconds: Math.max(1, Math.floor(intervalSeconds / 15)),
    settleOffsetSeconds: Math.floor((intervalSeconds * 2) / 3),
    readingGraceSeconds: Math.floor(intervalSeconds / 3),
    ...overrides,
  };
}

/** Deploy the linked libraries and the market; the deployer becomes the operator. */
export async function deployMarket(signer: Signer, schedule: Schedule, params: MarketParams = PAPER_PARAMS, limits: Limits = DEFAULT_LIMITS): Promise<EnergyMarket> {
  return (await deployMarketWithLibraries(signer, schedule, params, limits)).market;
}

/** As deployMarket, also returning the library addresses. One transaction at a time, so a plain
 * key-holding signer (which counts nonces from the node) works on any node. */
export async function deployMarketWithLibraries(signer: Signer, schedule: Schedule, params: MarketParams = PAPER_PARAMS, limits: Limits = DEFAULT_LIMITS) {
  const { factory, libraries } = await linkedMarketFactory(signer);
  const market = await (await factory.deploy(schedule, limits, params)).waitForDeployment();
  return { market, libraries };
}

/** The market's linked libraries, in deployment order. */
const LIBRARIES = [
  ["Clearing", Clearing__factory],
  ["Settlement", Settlement__factory],
  ["Trading", Trading__factory],
  ["Metering", Metering__factory],
  ["Accounts", Accounts__factory],
  ["Participants", Participants__factory],
] as const;

/** Deploy the linked libraries (one transaction at a time) and return the market factory linked to them. */
export async function linkedMarketFactory(signer: Signer) {
  const libraries: Record<string, string> = {};
  for (const [name, Factory] of LIBRARIES) {
    const lib = await (await new Factory(signer).deploy()).waitForDeployment();
    libraries[name] = await lib.getAddress();
  }
  const links = Object.fromEntries(LIBRARIES.map(([name]) => [`contracts/libraries/${name}.sol:${name}`, libraries[name]]));
  const factory = new EnergyMarket__factory(links as unknown as EnergyMarketLibraryAddresses, signer);
  return { factory, libraries };
}

/**
 * Bind a meter the way the contract requires: the operator proposes it, the prosumer accepts that
 * exact proposal (its wallet must already hold the security the rated power asks for).
 */
export async function bindMeter(operatorMarket: EnergyMarket, prosumer: Signer, participantId: bigint | number, meter: MeterProposal) {
  await (await operatorMarket.proposeMeter(participantId, meter)).wait();
  const [hash] = await operatorMarket.meterProposalOf(participantId);
  return (await operatorMarket.connect(prosumer).acceptMeter(hash)).wait();
}

/** A meter proposal for a new meter with zero registers (the common first binding). */
export function newMeter(meterNumber: bigint | number, account: string, ratedPowerW: bigint | number, open: { importWh?: bigint; exportWh?: bigint } = {}): MeterProposal {
  return {
    meterNumber,
    account,
    ratedPowerW,
    openImportWh: open.importWh ?? 0n,
    openExportWh: open.exportWh ?? 0n,
    closeImportWh: 0n,
    closeExportWh: 0n,
  };
}

/** The market's fixed timing, in seconds. */
export async function readSchedule(market: EnergyMarket): Promise<ScheduleTimes> {
  const [startTime, intervalSeconds, commitSeconds, revealSeconds, settleOffsetSeconds, readingGraceSeconds] = await market.schedule();
  return {
    startTime: Number(startTime),
    intervalSeconds: Number(intervalSeconds),
    commitSeconds: Number(commitSeconds),
    revealSeconds: Number(revealSeconds),
    settleOffsetSeconds: Number(settleOffsetSeconds),
    readingGraceSeconds: Number(readingGraceSeconds),
  };
}

export function attachMarket(address: string, runner: ContractRunner): EnergyMarket {
  return EnergyMarket__factory.connect(address, runner);
}

/**
 * Decodes logs of one contract by topic through a table built once. ethers' `Interface.parseLog`
 * finds the event by hashing every event signature of the ABI again for each log, which made
 * decoding a day of settlements (about 100,000 logs) take most of a minute in the browser.
 */
export class LogDecoder {
  private readonly byTopic = new Map<string, EventFragment>();

  constructor(readonly iface: Interface) {
    iface.forEachEvent((event) => this.byTopic.set(event.topicHash, event));
  }

  /** The decoded log, or null for a topic the contract does not declare. */
  decode(log: RawEventLog): LogDescription | null {
    const event = this.byTopic.get(log.topics[0]?.toLowerCase());
    if (!event) return null;
    return new LogDescription(event, event.topicHash, this.iface.decodeEventLog(event, log.data, log.topics));
  }

  /**
   * A reader of one integer field of `event` straight from its topic or data word, for bulk reads
   * where a full decode (about 150 µs a log, most of it building the result) dominates: a day of
   * settlements is about 100,000 logs. Only fields at a fixed word (every data field before them
   * static) qualify; anything else throws here, not per log.
   */
  intField(event: string, field: string): (log: RawEventLog) => bigint {
    const fragment = this.iface.getEvent(event);
    if (!fragment) throw new Error(`no event ${event} in the ABI`);
    const input = fragment.inputs.find((i) => i.name === field);
    const bits = input && /^(u?)int(\d*)$/.exec(input.type);
    if (!input || !bits) throw new Error(`${event}.${field} is not an integer field`);
    const width = Number(bits[2] || 256);
    const signed = bits[1] === "";
    const fromWord = (hex: string) => (signed ? BigInt.asIntN(width, BigInt("0x" + hex)) : BigInt("0x" + hex));
    if (input.indexed) {
      const topic = 1 + fragment.inputs.filter((i) => i.indexed).indexOf(input);
      return (log) => fromWord(log.topics[topic].slice(2));
    }
    const data = fragment.inputs.filter((i) => !i.indexed);
    const word = data.indexOf(input);
    if (data.slice(0, word).some((i) => i.isArray() || i.isTuple() || i.type === "string" || i.type === "bytes")) throw new Error(`${event}.${field} is not at a fixed word`);
    return (log) => fromWord(log.data.slice(2 + 64 * word, 2 + 64 * (word + 1)));
  }
}

/** A log's topics and data, as a node returns them. */
export interface RawEventLog {
  topics: readonly string[];
  data: string;
}

/** A sealed bid as its owner keeps it until the reveal. */
export interface SealedBid {
  interval: number;
  side: SideValue;
  energyWh: bigint;
  priceWeiPerKWh: bigint;
  salt: string;
}

export const newSalt = (): string => hexlify(randomBytes(32));

/** The commitment the contract expects, computed locally (same encoding as `bidCommitment`). */
export function commitmentOf(chainId: bigint, market: string, bidder: string, bid: SealedBid): string {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ["uint256", "address", "uint32", "address", "uint8", "uint64", "uint64", "bytes32"],
      [chainId, market, bid.interval, bidder, bid.side, bid.energyWh, bid.priceWeiPerKWh, bid.salt],
    ),
  );
}

/** Reveal a sealed bid with a fresh position hint. */
export async function revealSealed(market: EnergyMarket, id: bigint | number, green: boolean, bid: SealedBid) {
  const hint = await market.revealHint(bid.interval, id, bid.side, green, bid.priceWeiPerKWh);
  return market.revealBid(bid.interval, bid.side, bid.energyWh, bid.priceWeiPerKWh, bid.salt, hint);
}

/** Default clearing steps per transaction: about 6-7 million gas, under a 10-million budget. */
export const DEFAULT_CLEAR_STEPS = 200;

/** Run clearing transactions until the interval is cleared; returns their receipts. */
export async function clearUntilDone(market: EnergyMarket, interval: number, maxSteps = DEFAULT_CLEAR_STEPS) {
  const receipts = [];
  for (;;) {
    const view = await market.intervalOf(interval);
    if (Number(view.stage) === STAGE_DONE) return receipts;
    const tx = await market.clear(interval, maxSteps);
    const receipt = await tx.wait();
    if (receipt) receipts.push(receipt);
  }
}

/**
 * An off-chain copy of the four sorted books of one interval, for reveal hints without a node call:
 * `add` returns the ID of the bid the new one sorts after (0 for the head), the contract's order.
 */
export class HintBook {
  private readonly books = new Map<string, { id: bigint; price: bigint }[]>();

  add(id: bigint, side: SideValue, green: boolean, priceWeiPerKWh: bigint): bigint {
    const key = `${side}/${green}`;
    const book = this.books.get(key) ?? [];
    const before = (x: { id: bigint; price: bigint }) =>
      x.price !== priceWeiPerKWh ? (side === Side.Sell ? x.price < priceWeiPerKWh : x.price > priceWeiPerKWh) : x.id < id;
    let at = 0;
    while (at < book.length && before(book[at])) at++;
    book.splice(at, 0, { id, price: priceWeiPerKWh });
    this.books.set(key, book);
    return at === 0 ? 0n : book[at - 1].id;
  }
}

/**
 * The market's custom error behind a failed call, as `{ name, args }`, whichever way the provider
 * reported it: decoded by ethers, raw revert data, or only inside the message (Hardhat providers).
 */
export function decodeRevert(e: unknown): { name: string; args: unknown[] } | undefined {
  const err = e as { revert?: { name: string; args: unknown[] }; data?: unknown; error?: { data?: unknown }; message?: string };
  if (err?.revert) return { name: err.revert.name, args: [...err.revert.args] };
  const iface = EnergyMarket__factory.createInterface();
  const message = String(err?.message ?? "");
  const inMessage = /custom error (0x[0-9a-fA-F]{8}):? ?([0-9a-fA-F]*)/.exec(message);
  for (const data of [err?.data, err?.error?.data, inMessage && inMessage[1] + inMessage[2]]) {
    if (typeof data !== "string" || data.length < 10) continue;
    const parsed = iface.parseError(data);
    if (parsed) return { name: parsed.name, args: [...parsed.args] };
  }
  const named = /reverted with custom error '(\w+)\((.*)\)'/.exec(message);
  if (named) return { name: named[1], args: named[2] ? named[2].split(", ") : [] };
  return undefined;
}
