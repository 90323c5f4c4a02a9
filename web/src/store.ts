/**
 * The page's state, as signals: chain time, the participant registry and interval results from
 * contract events (loaded once, then followed block by block), and what each new block touched.
 */
import { batch, signal } from "@preact/signals";
import type { MarketClient, MarketLog } from "./chain";

export interface Participant {
  id: number;
  account: string;
  name: string;
  green: boolean;
  grid: boolean;
  authorized: boolean;
  meter?: { number: bigint; account: string; ratedPowerW: number; fromInterval: number };
  /** A meter the operator proposed, waiting for the prosumer to accept it. */
  proposal?: { number: bigint; ratedPowerW: number };
}

export interface IntervalSummary {
  interval: number;
  trades: number;
  tradedWh: bigint;
  averagePriceWeiPerKWh: bigint;
  block: number;
}

/** Per delivery interval, from ParticipantSettled: energy sold at clearing and what those sellers metered. */
export interface EnergyAggregate {
  soldWh: bigint;
  deliveredWh: bigint;
  settled: number;
}

export interface Touched {
  block: number;
  keys: Set<string>;
}

export const latestBlock = signal(0);
/** chain time minus local time, seconds, from the latest block */
export const clockOffset = signal(0);
export const now = signal(Math.floor(Date.now() / 1000));
export const participants = signal<Participant[]>([]);
export const summaries = signal<Map<number, IntervalSummary>>(new Map());
export const energy = signal<Map<number, EnergyAggregate>>(new Map());
export const energyLoading = signal<{ done: number; total: number } | null>(null);
/** The day's settlements are loaded (from then on `energy` holds every settlement of the day). */
export const energyLoaded = signal(false);
export const touched = signal<Touched>({ block: 0, keys: new Set() });
export const nodeError = signal<string | null>(null);

export const chainNow = () => now.value;

const REGISTRY_EVENTS = ["ParticipantRegistered", "AuthorizationChanged", "MeterProposed", "MeterBound", "MeterUnbound", "IntervalCleared"];

/** Keys a log touches: `p:<id>` for participants, `i:<interval>` for delivery intervals, the event name. */
function keysOf(l: MarketLog): string[] {
  const a = l.args.toObject() as Record<string, unknown>;
  const keys = [l.name];
  for (const f of ["id", "participantId", "sellerId", "buyerId", "debtor", "creditor"]) if (f in a && typeof a[f] === "bigint") keys.push(`p:${a[f]}`);
  if ("interval" in a) keys.push(`i:${a.interval}`);
  return keys;
}

function applyRegistry(logs: MarketLog[], list: Participant[], sums: Map<number, IntervalSummary>) {
  for (const l of logs) {
    const a = l.args;
    switch (l.name) {
      case "ParticipantRegistered":
        list[Number(a.id) - 1] = { id: Number(a.id), account: a.account, name: a.name, green: a.green, grid: a.grid, authorized: a.grid };
        break;
      case "AuthorizationChanged": {
        const p = list[Number(a.id) - 1];
        if (p) list[Number(a.id) - 1] = { ...p, authorized: a.authorized };
        break;
      }
      case "MeterProposed": {
        const p = list[Number(a.participantId) - 1];
        if (p) list[Number(a.participantId) - 1] = { ...p, proposal: { number: a.meter.meterNumber, ratedPowerW: Number(a.meter.ratedPowerW) } };
        break;
      }
      case "MeterBound": {
        // an accepted proposal: it is no longer waiting
        const p = list[Number(a.participantId) - 1];
        if (p) list[Number(a.participantId) - 1] = { ...p, proposal: undefined, meter: { number: a.meterNumber, account: a.meterAccount, ratedPowerW: Number(a.ratedPowerW), fromInterval: Number(a.fromInterval) } };
        break;
      }
      case "MeterUnbound": {
        const p = list[Number(a.participantId) - 1];
        if (p?.meter?.number === a.meterNumber) list[Number(a.participantId) - 1] = { ...p, meter: undefined };
        break;
      }
      case "IntervalCleared":
        sums.set(Number(a.interval), { interval: Number(a.interval), trades: Number(a.trades), tradedWh: a.tradedWh, averagePriceWeiPerKWh: a.averagePriceWeiPerKWh, block: l.blockNumber });
        break;
    }
  }
}

/** Adds one ParticipantSettled to its interval's aggregate. */
function addSettlement(agg: Map<number, EnergyAggregate>, d: number, clearedWh: bigint, actualWh: bigint) {
  const e = agg.get(d) ?? { soldWh: 0n, deliveredWh: 0n, settled: 0 };
  if (clearedWh > 0n) {
    e.soldWh += clearedWh;
    if (actualWh > 0n) e.deliveredWh += actualWh;
  }
  e.settled++;
  agg.set(d, e);
}

/** Blocks per request of the day's settlements (a full day of 1,000 settlements per interval is about 100,000 logs). */
const ENERGY_CHUNK_BLOCKS = 256;

/** Per interval, the sum of two aggregates (history loaded up to a block, and what followed it). */
function sumEnergy(a: Map<number, EnergyAggregate>, b: Map<number, EnergyAggregate>): Map<number, EnergyAggregate> {
  const out = new Map([...a].map(([d, e]) => [d, { ...e }]));
  for (const [d, e] of b) {
    const x = out.get(d);
    out.set(d, x ? { soldWh: x.soldWh + e.soldWh, deliveredWh: x.deliveredWh + e.deliveredWh, settled: x.settled + e.settled } : { ...e });
  }
  return out;
}

export class LiveMarket {
  private last = 0;
  /** The block the page started at: settlements up to it come from loadEnergy, later ones from polling. */
  private startBlock = 0;
  private history = new Map<number, EnergyAggregate>();
  private followed = new Map<number, EnergyAggregate>();
  private timer?: ReturnType<typeof setInterval>;
  private ticker?: ReturnType<typeof setInterval>;
  private polling = false;

  constructor(readonly client: MarketClient) {}

  /** Registry and interval results up to the latest block; then follows new blocks. */
  async start(): Promise<void> {
    const { provider } = this.client;
    const block = await provider.getBlock("latest");
    if (!block) throw new Error("the node returned no latest block");
    const logs = await this.client.logs(REGISTRY_EVENTS, [], this.client.config.deployedAtBlock, block.number);
    const list: Participant[] = [];
    const sums = new Map<number, IntervalSummary>();
    applyRegistry(logs, list, sums);
    this.last = this.startBlock = block.number;
    batch(() => {
      participants.value = list.filter(Boolean);
      summaries.value = sums;
      latestBlock.value = block.number;
      clockOffset.value = block.timestamp - Date.now() / 1000;
      now.value = Math.floor(Date.now() / 1000 + clockOffset.value);
    });
    this.ticker = setInterval(() => (now.value = Math.floor(Date.now() / 1000 + clockOffset.value)), 250);
    this.timer = setInterval(() => void this.poll(), 1000);
  }

  /**
   * The day's energy per interval (ParticipantSettled of `intervals`), after the first render: one
   * pass over the blocks since the oldest of them was cleared (settlement comes after clearing),
   * newest blocks first, a few requests in flight. Asking once per interval instead made the node
   * scan the whole chain once per interval.
   */
  async loadEnergy(intervals: number[]): Promise<void> {
    const to = this.startBlock;
    const sums = summaries.peek();
    // an interval not cleared by the start block has no settlements up to it
    const clearedAt = intervals.flatMap((d) => sums.get(d)?.block ?? []);
    const from = clearedAt.length ? Math.min(...clearedAt) : to + 1;
    const agg = (this.history = new Map());
    const field = (name: string) => this.client.decoder.intField("ParticipantSettled", name);
    const [interval, cleared, actual] = [field("interval"), field("clearedWh"), field("actualWh")];
    const chunks: [number, number][] = [];
    for (let hi = to; hi >= from; hi -= ENERGY_CHUNK_BLOCKS) chunks.push([Math.max(from, hi - ENERGY_CHUNK_BLOCKS + 1), hi]);
    energyLoading.value = { done: 0, total: chunks.length };
    let done = 0;
    const queue = [...chunks];
    const worker = async () => {
      for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
        for (const l of await this.client.rawLogs(["ParticipantSettled"], [intervals], c[0], c[1])) addSettlement(agg, Number(interval(l)), cleared(l), actual(l));
        done++;
        if (done % 4 === 0 || done === chunks.length) {
          energy.value = sumEnergy(agg, this.followed);
          energyLoading.value = { done, total: chunks.length };
        }
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    batch(() => {
      energy.value = sumEnergy(agg, this.followed);
      energyLoading.value = null;
      energyLoaded.value = true;
    });
    document.documentElement.dataset.energy = "loaded";
    performance.mark("portal-energy-loaded");
  }

  stop() {
    clearInterval(this.timer);
    clearInterval(this.ticker);
  }

  private async poll() {
    if (this.polling) return;
    this.polling = true;
    try {
      const { provider } = this.client;
      const head = await provider.getBlockNumber();
      if (head <= this.last) {
        nodeError.value = null;
        return;
      }
      const [block, all] = await Promise.all([provider.getBlock(head), this.client.logs(null, [], this.last + 1, head)]);
      const list = [...participants.value];
      const byId: Participant[] = [];
      for (const p of list) byId[p.id - 1] = p;
      const sums = new Map(summaries.value);
      applyRegistry(all, byId, sums);
      const settledNow = all.some((l) => l.name === "ParticipantSettled");
      for (const l of all) if (l.name === "ParticipantSettled") addSettlement(this.followed, Number(l.args.interval), l.args.clearedWh, l.args.actualWh);
      const keys = new Set(all.flatMap(keysOf));
      this.last = head;
      batch(() => {
        if (all.some((l) => REGISTRY_EVENTS.slice(0, 4).includes(l.name))) participants.value = byId.filter(Boolean);
        if (all.some((l) => l.name === "IntervalCleared")) summaries.value = sums;
        if (settledNow) energy.value = sumEnergy(this.history, this.followed);
        if (block) clockOffset.value = block.timestamp - Date.now() / 1000;
        latestBlock.value = head;
        touched.value = { block: head, keys };
        nodeError.value = null;
      });
    } catch (e) {
      nodeError.value = `The node is not answering (${(e as Error).message.slice(0, 120)}); retrying every second.`;
    } finally {
      this.polling = false;
    }
  }
}
