/**
 * Renders a simulation result as one self-contained HTML page: first the paper check (a run of
 * the paper's day beside the numbers the paper publishes, each marked equal or not), then the
 * paper's figures drawn with Chart.js (inlined, so the file works offline from file://) and tables
 * with CNY beside ether. One precision per column: kWh to 3 decimals, 10^-3 eth and CNY to 4, so
 * an amount shown in CNY is never 0 in eth. The output depends only on the result and Chart.js.
 */
import { readFileSync } from "fs";
import * as path from "path";
import { PAPER_BALANCING, PAPER_INCENTIVE, PAPER_NAMES, PAPER_TABLE_1, PAPER_TOTALS } from "./paper";
import type {
  Decimal,
  GasFigures,
  IntervalResult,
  ParticipantInfo,
  ParticipantIntervalResult,
  SimulationResult,
} from "./result";

export function renderReport(result: SimulationResult): string {
  const figureParticipants = result.participants.filter((p) => tradesOnMarket(result, p));
  const paper = paperCheckSection(result);
  const sections = [
    paper,
    summarySection(result),
    priceSection(),
    figureSection(FIGURES.declaredCleared, figureParticipants, result),
    figureSection(FIGURES.clearedActual, figureParticipants, result),
    figureSection(FIGURES.declaredActual, figureParticipants, result),
    tradesSection(result),
    balancingSection(result),
    incentivesSection(result),
    walletsSection(result),
  ];
  return page(sections.join("\n"), chartConfigs(result, figureParticipants), paper !== "");
}

// ---------------------------------------------------------------------------------------
// Exact decimal arithmetic on strings (amounts come from wei; floats would lose digits).

const ETHER_SCALE = 18;
const MILLI_SCALE = ETHER_SCALE - 3;

/** `value` as an integer number of 10^-scale units. */
function toUnits(value: Decimal, scale = ETHER_SCALE): bigint {
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(value.trim());
  if (!match) throw new Error(`report: "${value}" is not a decimal number`);
  const [, sign, whole, fraction = ""] = match;
  if (fraction.length > scale) throw new Error(`report: "${value}" has more than ${scale} decimals`);
  const units = BigInt(whole + fraction.padEnd(scale, "0"));
  return sign ? -units : units;
}

/** `units` of 10^-scale rounded half away from zero to exactly `decimals` decimals. */
function roundUnits(units: bigint, scale: number, decimals: number): string {
  const step = 10n ** BigInt(scale - decimals);
  const magnitude = units < 0n ? -units : units;
  const rounded = (magnitude + step / 2n) / step;
  const digits = rounded.toString().padStart(decimals + 1, "0");
  const text = decimals > 0 ? `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}` : digits;
  return units < 0n && rounded !== 0n ? `-${text}` : text;
}

function trimZeros(fixed: string): string {
  return fixed.includes(".") ? fixed.replace(/\.?0+$/, "") : fixed;
}

/** -value, as a decimal string ("0" stays "0"). */
function negate(value: Decimal): Decimal {
  return value.startsWith("-") ? value.slice(1) : toUnits(value) === 0n ? value : `-${value}`;
}

function isZero(value: Decimal): boolean {
  return toUnits(value) === 0n;
}

function sum(values: Decimal[]): bigint {
  return values.reduce((total, value) => total + toUnits(value), 0n);
}

/**
 * Decimals per kind of column. An amount that shows as 0.0001 CNY or more is at least 0.00005 CNY,
 * which at up to 1,000 CNY per ether (the paper: 626.2) is at least 5 x 10^-8 eth, and so shows as
 * at least 0.0001 in 10^-3 eth: no 0.0000 eth beside a CNY amount.
 */
const DECIMALS = { kWh: 3, milli: 4, price: 4, cny: 4 } as const;

/** Ether in the paper's unit, 10^-3 eth. */
function milli(ether: Decimal, decimals: number = DECIMALS.milli): string {
  return roundUnits(toUnits(ether), MILLI_SCALE, decimals);
}

/** A price in 10^-3 eth/kWh (trade prices, means of two 3-decimal bids, are exact at 4). */
function milliPrice(etherPerKWh: Decimal, decimals: number = DECIMALS.price): string {
  return roundUnits(toUnits(etherPerKWh), MILLI_SCALE, decimals);
}

function exactEther(ether: Decimal): string {
  return trimZeros(roundUnits(toUnits(ether), ETHER_SCALE, ETHER_SCALE));
}

function cny(ether: Decimal, cnyPerEther: Decimal): string {
  return roundUnits(toUnits(ether) * toUnits(cnyPerEther), 2 * ETHER_SCALE, DECIMALS.cny);
}

function kWh(energy: Decimal, decimals: number = DECIMALS.kWh): string {
  return roundUnits(toUnits(energy), ETHER_SCALE, decimals);
}

/** Chart values: the exact decimal read as a number (0.757 stays 0.757, no float drift). */
function plotKWh(energy: Decimal): number {
  return Number(energy);
}

function plotMilli(ether: Decimal): number {
  return Number(trimZeros(roundUnits(toUnits(ether), MILLI_SCALE, MILLI_SCALE)));
}

// ---------------------------------------------------------------------------------------
// Reading the result.

const NO_OUTCOME: ParticipantIntervalResult = {
  declaredKWh: "0",
  clearedKWh: "0",
  actualKWh: "0",
  balancingEther: "0",
  rewardEther: "0",
  penaltyEther: "0",
  incentiveEther: "0",
};

function outcome(interval: IntervalResult, name: string): ParticipantIntervalResult {
  return interval.participants[name] ?? NO_OUTCOME;
}

/** Prosumers always get figures; the grid only if it bid. */
function tradesOnMarket(result: SimulationResult, participant: ParticipantInfo): boolean {
  return !participant.grid || result.intervals.some((i) => !isZero(outcome(i, participant.name).declaredKWh));
}

function allTrades(result: SimulationResult) {
  return result.intervals.flatMap((interval) => interval.trades);
}

/** Volume-weighted average price of all trades, in ether per kWh (null without trades). */
function overallAveragePrice(result: SimulationResult): Decimal | null {
  const trades = allTrades(result);
  const energy = sum(trades.map((t) => t.energyKWh));
  if (energy === 0n) return null;
  const amount = sum(trades.map((t) => t.amountEther));
  return roundUnits((amount * 10n ** BigInt(ETHER_SCALE)) / energy, ETHER_SCALE, ETHER_SCALE);
}



// ---------------------------------------------------------------------------------------
// HTML helpers.

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** JSON that is safe inside a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function groupDigits(value: number): string {
  return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

function num(text: string, title?: string): string {
  return title === undefined ? `<td class="num">${text}</td>` : `<td class="num" title="${escapeHtml(title)}">${text}</td>`;
}

function nameCell(name: string): string {
  return `<td class="name">${escapeHtml(name)}</td>`;
}

/** 10^-3 eth (exact ether on hover) and CNY beside it, coloured by sign. */
function moneyCells(ether: Decimal, cnyPerEther: Decimal): string {
  const yuan = cny(ether, cnyPerEther);
  const sign = /^-/.test(yuan) ? "neg" : /[1-9]/.test(yuan) ? "pos" : "zero";
  return num(milli(ether), `${exactEther(ether)} eth`) + `<td class="num cny cny-${sign}">${yuan}</td>`;
}

/** A table whose first `textColumns` columns are text and the rest numbers. */
function table(caption: string, head: string[], textColumns: number, bodies: string[][]): string {
  if (bodies.every((rows) => rows.length === 0)) return `<p class="empty">${caption}: none.</p>`;
  const headRow = head.map((h, i) => (i < textColumns ? `<th>${h}</th>` : `<th class="num">${h}</th>`)).join("");
  const tbodies = bodies
    .filter((rows) => rows.length > 0)
    .map((rows) => `<tbody>${rows.map((r) => `<tr>${r}</tr>`).join("")}</tbody>`)
    .join("\n");
  return `<div class="table-wrap"><table><caption>${caption}</caption><thead><tr>${headRow}</tr></thead>\n${tbodies}</table></div>`;
}

function section(id: string, title: string, content: string): string {
  return `<section id="${id}"><h2>${title}</h2>\n${content}\n</section>`;
}

function tags(participant: ParticipantInfo): string {
  const labels = [participant.green ? "green" : "", participant.grid ? "grid" : ""].filter(Boolean);
  return labels.map((l) => ` <span class="tag tag-${l}">${l}</span>`).join("");
}

// ---------------------------------------------------------------------------------------
// Sections.

const ETH_UNIT = "10⁻³ eth";
const PRICE_UNIT = "10⁻³ eth/kWh";

function stat(label: string, value: string, unit = "", detail = ""): string {
  const shown = unit ? `${value} <span class="unit">${unit}</span>` : value;
  return `<div class="stat"><div class="stat-label">${label}</div><div class="stat-value">${shown}</div><div class="stat-detail">${detail}</div></div>`;
}

function summarySection(result: SimulationResult): string {
  const rate = result.market.cnyPerEther;
  const trades = allTrades(result);
  const traded = roundUnits(sum(trades.map((t) => t.energyKWh)), ETHER_SCALE, 3);
  const average = overallAveragePrice(result);
  const stats = [
    stat("Intervals", String(result.intervals.length), "", intervalSpan(result)),
    stat("Participants", String(result.participants.length), "", participantMix(result.participants)),
    stat("Trades", String(trades.length)),
    stat("Traded energy", traded, "kWh"),
    average === null
      ? stat("Average price", "no trades")
      : stat("Average price", milliPrice(average), PRICE_UNIT, "volume-weighted over all trades"),
    stat("Incentive pool", milli(result.incentivePoolEther), ETH_UNIT, `${cny(result.incentivePoolEther, rate)} CNY`),
  ];
  return section("summary", "Summary", `<div class="stats">${stats.join("")}</div>\n${marketTable(result)}\n${gasTable(result.gas)}`);
}

function participantMix(participants: ParticipantInfo[]): string {
  const count = (test: (p: ParticipantInfo) => boolean) => participants.filter(test).length;
  return `${count((p) => !p.grid)} prosumers · ${count((p) => p.grid)} grid · ${count((p) => p.green)} green`;
}

function intervalSpan(result: SimulationResult): string {
  const labels = result.intervals.map((i) => i.label);
  const minutes = result.market.intervalSeconds / 60;
  return labels.length === 0 ? "" : `${escapeHtml(labels[0])} – ${escapeHtml(labels[labels.length - 1])}, ${minutes} min each`;
}

function marketTable(result: SimulationResult): string {
  const m = result.market;
  const e = escapeHtml;
  return definitionTable("Market parameters", [
    ["Interval / commit / reveal", `${m.intervalSeconds} s / ${m.commitSeconds} s / ${m.revealSeconds} s`],
    ["Balancing W′ (short) / W″ (long)", `${e(m.balancingShortRatio)} / ${e(m.balancingLongRatio)}`],
    ["Reward M′ / penalty M″", `${e(m.rewardRatio)} / ${e(m.penaltyRatio)}`],
    ["Margin", `${trimZeros(milli(m.marginEther))} ${ETH_UNIT}`],
    ["Reference price", `${trimZeros(milliPrice(m.referencePriceEtherPerKWh))} ${PRICE_UNIT}`],
    ["Initial incentive pool", `${trimZeros(milli(m.incentivePoolEther))} ${ETH_UNIT}`],
    ["Exchange rate", `1 eth = ${e(m.cnyPerEther)} CNY`],
  ]);
}

/** What each kind of transaction of a run is, for an analyst. */
const GAS_KINDS: Record<string, string> = {
  register: "Registering the participants",
  setup: "Authorizing, binding meters, deposits, funding the pool",
  commit: "Sealed-bid commits",
  reveal: "Reveals",
  clear: "Clearing",
  postReading: "Meter readings",
  settleBeforeFirst: "Closing the intervals before the first traded one (clearing and settlement)",
  settle: "Settlement",
  total: "All transactions",
};

/** "settleBeforeFirst" -> "Settle before first", for a kind without words. */
function humanize(key: string): string {
  const words = key.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * The run's gas in words: one row per kind of transaction (count, total, per transaction), then
 * the cost of one trading cycle per participant and interval as a sentence.
 */
function gasTable(gas: GasFigures): string {
  const rows: string[] = [];
  const add = (label: string, total: number, count?: number) =>
    rows.push(
      `<tr><th scope="row">${escapeHtml(label)}</th><td class="num">${count === undefined ? "" : groupDigits(count)}</td><td class="num">${groupDigits(total)}</td><td class="num">${count ? groupDigits(Math.round(total / count)) : ""}</td></tr>`,
    );
  const walk = (figures: GasFigures, prefix: string) => {
    for (const [key, value] of Object.entries(figures)) {
      if (key === "perParticipantPerInterval") continue;
      const label = prefix + (GAS_KINDS[key] ?? humanize(key));
      if (typeof value === "number") add(label, value);
      else if (typeof value.total === "number" && typeof value.transactions === "number") add(label, value.total, value.transactions);
      else walk(value, `${label}: `);
    }
  };
  walk(gas, "");
  if (rows.length === 0) return "";
  const cycle = typeof gas.perParticipantPerInterval === "number"
    ? `<p class="note">One trading cycle (commit, reveal, clearing, meter reading, settlement) costs ${groupDigits(gas.perParticipantPerInterval)} gas per prosumer per interval.</p>`
    : "";
  const head = `<thead><tr><th>Transactions</th><th class="num">Count</th><th class="num">Gas</th><th class="num">Gas each</th></tr></thead>`;
  return `<div class="facts-wrap"><table class="facts gas"><caption>Gas of the run</caption>${head}<tbody>${rows.join("")}</tbody></table>${cycle}</div>`;
}

function definitionTable(caption: string, rows: string[][]): string {
  const body = rows.map(([k, v]) => `<tr><th scope="row">${k}</th><td class="num">${v}</td></tr>`).join("");
  return `<div class="facts-wrap"><table class="facts"><caption>${caption}</caption><tbody>${body}</tbody></table></div>`;
}

// ---------------------------------------------------------------------------------------
// The paper check: a run of the paper's day beside the numbers the paper publishes.

/** The paper's precision: energy to 2 decimals, 10^-3 eth to 3. */
const paperKWh = (energy: Decimal): string => kWh(energy, 2);
const paperMilli = (ether: Decimal): string => milli(ether, 3);
const absolute = (value: Decimal): Decimal => value.replace(/^-/, "");

interface CheckRow {
  what: string;
  cells: { run: string; paper: string }[];
}

function mark(equal: boolean): string {
  return equal ? `<td class="mark equal" title="equal">✓ equal</td>` : `<td class="mark differs" title="not equal">✗ differs</td>`;
}

function checkTable(caption: string, head: string[], rows: CheckRow[]): string {
  const headRow = `<tr><th>${head[0]}</th>${head.slice(1).map((h) => `<th class="num">${h}</th>`).join("")}<th></th></tr>`;
  const body = rows
    .map((r) => {
      const equal = r.cells.every((c) => c.run === c.paper);
      const cells = r.cells.map((c) => `<td class="num run">${c.run}</td><td class="num paper">${c.paper}</td>`).join("");
      return `<tr data-equal="${equal}"><th scope="row">${r.what}</th>${cells}${mark(equal)}</tr>`;
    })
    .join("");
  return `<div class="check-wrap"><table class="check"><caption>${caption}</caption><thead>${headRow}</thead><tbody>${body}</tbody></table></div>`;
}

/** The run has the paper's day: its users and the intervals the paper reports. */
function hasPaperDay(result: SimulationResult): boolean {
  const names = new Set(result.participants.map((p) => p.name));
  const labels = new Set(result.intervals.map((i) => i.label));
  return Object.keys(PAPER_NAMES).every((n) => names.has(n)) && ["03:00", "14:00", "18:30"].every((l) => labels.has(l));
}

function paperCheckSection(result: SimulationResult): string {
  if (!hasPaperDay(result)) return "";
  const at = (label: string) => result.intervals.find((i) => i.label === label)!;
  const who = (name: string) => escapeHtml(PAPER_NAMES[name] ?? name);

  // Table 1: each of the paper's trades found in the run by seller and buyer
  const tradeRows: CheckRow[] = [];
  for (const total of PAPER_TOTALS) {
    const declared = result.participants.map((p) => outcome(at(total.label), p.name).declaredKWh);
    const supply = roundUnits(sum(declared.filter((d) => !d.startsWith("-"))), ETHER_SCALE, 2);
    const demand = roundUnits(-sum(declared.filter((d) => d.startsWith("-"))), ETHER_SCALE, 2);
    tradeRows.push({ what: `${total.label} total supply`, cells: [{ run: supply, paper: total.supply }, { run: "", paper: "" }] });
    tradeRows.push({ what: `${total.label} total demand`, cells: [{ run: demand, paper: total.demand }, { run: "", paper: "" }] });
    for (const [k, t] of PAPER_TABLE_1.filter((x) => x.label === total.label).entries()) {
      const trades = at(t.label).trades;
      const i = trades.findIndex((x) => x.seller === t.seller && x.buyer === t.buyer);
      const mine = trades[i];
      tradeRows.push({
        what: `${t.trade}. ${who(t.seller)} → ${who(t.buyer)}${mine && i !== k ? ` <span class="order">(matched ${ordinal(i + 1)})</span>` : ""}`,
        cells: [
          { run: mine ? paperKWh(mine.energyKWh) : "none", paper: t.kWh },
          { run: mine ? milliPrice(mine.priceEtherPerKWh, 3) : "none", paper: t.price },
        ],
      });
    }
  }

  const balancingRows: CheckRow[] = PAPER_BALANCING.flatMap((b) => {
    const iv = at(b.label);
    const o = outcome(iv, b.participant);
    const deviation = roundUnits(toUnits(o.actualKWh) - toUnits(o.clearedKWh), ETHER_SCALE, 2);
    const paid = paperMilli(o.balancingEther);
    return [
      { what: `${b.label} average price A, ${PRICE_UNIT}`, cells: [{ run: milliPrice(iv.averagePriceEtherPerKWh, 3), paper: b.averagePrice }] },
      { what: `${b.label} deviation |a − c|, kWh`, cells: [{ run: absolute(deviation), paper: b.deviationKWh }] },
      {
        what: `${b.label} ${b.payment.startsWith("-") ? "paid to" : "received from"} the grid (|a − c| · A · ${b.payment.startsWith("-") ? "W′" : "W″"}), ${ETH_UNIT}`,
        cells: [{ run: paid, paper: b.payment }],
      },
    ];
  });

  const inc = PAPER_INCENTIVE;
  const o = outcome(at(inc.label), inc.participant);
  const declared = toUnits(o.declaredKWh) < 0n ? -toUnits(o.declaredKWh) : toUnits(o.declaredKWh);
  const actual = toUnits(o.actualKWh) < 0n ? -toUnits(o.actualKWh) : toUnits(o.actualKWh);
  const incentiveRows: CheckRow[] = [
    { what: "consistent energy min(|b|, |a|), kWh", cells: [{ run: roundUnits(declared < actual ? declared : actual, ETHER_SCALE, 2), paper: inc.consistentKWh }] },
    { what: "deviating energy |b − a|, kWh", cells: [{ run: absolute(roundUnits(toUnits(o.declaredKWh) - toUnits(o.actualKWh), ETHER_SCALE, 2)), paper: inc.deviatingKWh }] },
    { what: `reward (consistent · A · M′), ${ETH_UNIT}`, cells: [{ run: paperMilli(o.rewardEther), paper: inc.reward }] },
    { what: `penalty (deviating · A · M″), ${ETH_UNIT}`, cells: [{ run: paperMilli(o.penaltyEther), paper: inc.penalty }] },
    { what: `net, ${ETH_UNIT}`, cells: [{ run: paperMilli(o.incentiveEther), paper: inc.net }] },
  ];

  const all = [...tradeRows, ...balancingRows, ...incentiveRows];
  const compared = all.filter((r) => r.cells.some((c) => c.paper !== ""));
  const differ = compared.filter((r) => !r.cells.every((c) => c.run === c.paper)).length;
  const verdict = differ === 0 ? `All ${compared.length} rows equal the paper's numbers.` : `${differ} of ${compared.length} rows differ from the paper's numbers.`;
  const intro = `<p class="verdict ${differ === 0 ? "equal" : "differs"}" data-testid="paper-verdict">${verdict}</p>
<p class="note">This run beside the numbers the paper publishes (section 3.2 and Table 1), at the paper's precision: energy in kWh to 2 decimals, prices and money in ${ETH_UNIT} to 3.</p>`;
  return section(
    "paper-check",
    "Paper check",
    [
      intro,
      checkTable(`Table 1: clearing at 03:00 and 14:00 (the paper's trade numbers; energy in kWh, price in ${PRICE_UNIT})`, ["Trade", "kWh", "paper", "price", "paper"], tradeRows),
      `<p class="note">${orderSentence(at("03:00"))}</p>`,
      checkTable("Balancing of the conventional load with the public grid", ["", "this run", "paper"], balancingRows),
      checkTable("Reward and penalty of the conventional load at 14:00", ["", "this run", "paper"], incentiveRows),
    ].join("\n"),
  );
}

const ordinal = (n: number) => `${n}${n === 1 ? "st" : n === 2 ? "nd" : n === 3 ? "rd" : "th"}`;

/** Why the run's 03:00 trades come in another order than the paper lists them, in one sentence. */
function orderSentence(interval: IntervalResult): string {
  const paper = PAPER_TABLE_1.filter((t) => t.label === interval.label);
  const position = (t: (typeof paper)[number]) => interval.trades.findIndex((x) => x.seller === t.seller && x.buyer === t.buyer);
  const swapped = paper.find((t, k) => k + 1 < paper.length && position(t) > position(paper[k + 1]));
  if (!swapped) return `At ${interval.label} the contract matched the trades in the paper's order.`;
  const later = paper[paper.indexOf(swapped) + 1];
  const bid = (name: string) => interval.bids?.find((b) => b.participant === name);
  const first = bid(later.buyer);
  const second = bid(swapped.buyer);
  const prices = first && second ? ` (${escapeHtml(PAPER_NAMES[later.buyer])} bid ${milliPrice(first.priceEtherPerKWh, 3)}, ${escapeHtml(PAPER_NAMES[swapped.buyer])} ${milliPrice(second.priceEtherPerKWh, 3)} ${PRICE_UNIT})` : "";
  return `At ${interval.label} the contract matches the paper's trade ${later.trade} before its trade ${swapped.trade} because, once the green stage is done, it serves buyers by bid price, highest first${prices}; the paper lists them the other way round, with the same energies and prices.`;
}

function priceSection(): string {
  return section(
    "prices",
    "Average price per interval",
    `<p class="note">A = Σ Q·G / Σ Q over each interval's trades (the reference price when nothing traded), with the energy traded.</p>
<div class="chart chart-wide"><canvas id="${PRICE_CHART_ID}" role="img" aria-label="Average price and traded energy per interval"></canvas></div>`,
  );
}

interface FigureKind {
  id: string;
  title: string;
  note: string;
  series: [SeriesKind, SeriesKind];
}

type SeriesKind = "declared" | "cleared" | "actual";

const FIGURES = {
  declaredCleared: {
    id: "declared-cleared",
    title: "Declared vs cleared energy (paper Figures A1–A8)",
    note: "Bid energy against energy matched in P2P trading.",
    series: ["declared", "cleared"],
  },
  clearedActual: {
    id: "cleared-actual",
    title: "Cleared vs actual energy (paper Figure 3: balancing)",
    note: "The gap is the deviation settled with the public grid at W′·A (short) or W″·A (long).",
    series: ["cleared", "actual"],
  },
  declaredActual: {
    id: "declared-actual",
    title: "Declared vs actual energy (paper Figure 4: reward and penalty)",
    note: "Consistent energy earns M′·A per kWh from the pool, deviating energy pays M″·A into it.",
    series: ["declared", "actual"],
  },
} satisfies Record<string, FigureKind>;

function figureId(figure: FigureKind, participantIndex: number): string {
  return `fig-${figure.id}-${participantIndex}`;
}

function figureSection(figure: FigureKind, participants: ParticipantInfo[], result: SimulationResult): string {
  const cards = participants.map((p) => {
    const id = figureId(figure, result.participants.indexOf(p));
    const label = escapeHtml(`${p.name}: ${figure.series.join(" vs ")} energy`);
    return `<figure class="card"><figcaption>${escapeHtml(p.name)}${tags(p)}</figcaption><div class="chart"><canvas id="${id}" role="img" aria-label="${label}"></canvas></div></figure>`;
  });
  const note = `<p class="note">${figure.note} Energy in kWh per interval; positive = exported, negative = imported.</p>`;
  return section(figure.id, figure.title, `${note}\n<div class="multiples">${cards.join("\n")}</div>`);
}

function tradesSection(result: SimulationResult): string {
  const rate = result.market.cnyPerEther;
  const head = ["Interval", "#", "Stage", "Seller", "Buyer", "Energy kWh", `Price ${PRICE_UNIT}`, `Amount ${ETH_UNIT}`, "Amount CNY"];
  const bodies = result.intervals.map((interval) =>
    interval.trades.map(
      (t, i) =>
        nameCell(interval.label) +
        `<td>${i + 1}</td>` +
        `<td><span class="tag tag-${t.stage}">${t.stage}</span></td>` +
        nameCell(t.seller) +
        nameCell(t.buyer) +
        num(kWh(t.energyKWh)) +
        num(milliPrice(t.priceEtherPerKWh)) +
        moneyCells(t.amountEther, rate),
    ),
  );
  const rejected = result.intervals.map((interval) =>
    interval.rejectedBids.map((r) => nameCell(interval.label) + nameCell(r.participant) + `<td>${escapeHtml(r.reason)}</td>`),
  );
  return section(
    "trades",
    "Trades",
    table("Trades in matching order (green stage first)", head, 5, bodies) +
      "\n" +
      table("Rejected bids", ["Interval", "Participant", "Reason"], 3, rejected),
  );
}

function balancingSection(result: SimulationResult): string {
  const rate = result.market.cnyPerEther;
  const head = ["Interval", "Participant", "Cleared kWh", "Actual kWh", "Deviation a−c kWh", `Balancing ${ETH_UNIT}`, "Balancing CNY"];
  const bodies = result.intervals.map((interval) =>
    result.participants
      .map((p) => [p.name, outcome(interval, p.name)] as const)
      .filter(([, o]) => !isZero(o.balancingEther))
      .map(
        ([name, o]) =>
          nameCell(interval.label) +
          nameCell(name) +
          num(kWh(o.clearedKWh)) +
          num(kWh(o.actualKWh)) +
          num(roundUnits(toUnits(o.actualKWh) - toUnits(o.clearedKWh), ETHER_SCALE, 3)) +
          moneyCells(o.balancingEther, rate),
      ),
  );
  const note = `<p class="note">Rows with a balancing payment; positive = received from the grid, negative = paid to it.</p>`;
  return section("balancing", "Balancing with the public grid", note + table("Balancing per interval", head, 2, bodies));
}

function incentivesSection(result: SimulationResult): string {
  const rate = result.market.cnyPerEther;
  const head = [
    "Interval", "Participant", "Declared kWh", "Actual kWh",
    `Reward ${ETH_UNIT}`, "Reward CNY", `Penalty ${ETH_UNIT}`, "Penalty CNY", `Net ${ETH_UNIT}`, "Net CNY",
  ];
  const bodies = result.intervals.map((interval) =>
    result.participants
      .map((p) => [p.name, outcome(interval, p.name)] as const)
      .filter(([, o]) => !isZero(o.rewardEther) || !isZero(o.penaltyEther))
      .map(
        ([name, o]) =>
          nameCell(interval.label) +
          nameCell(name) +
          num(kWh(o.declaredKWh)) +
          num(kWh(o.actualKWh)) +
          moneyCells(o.rewardEther, rate) +
          moneyCells(negate(o.penaltyEther), rate) +
          moneyCells(o.incentiveEther, rate),
      ),
  );
  const note = `<p class="note">Money as the participant sees it: the reward is received from the incentive pool, the penalty (negative) is paid into it.</p>`;
  return section("incentives", "Reward and penalty", note + table("Incentives per interval", head, 2, bodies));
}

function walletsSection(result: SimulationResult): string {
  const rate = result.market.cnyPerEther;
  const head = ["Participant", `Wallet ${ETH_UNIT}`, "Wallet CNY", `Owed ${ETH_UNIT}`, "Owed CNY"];
  const rows = result.participants.map(({ name }) => {
    const wallet = result.wallets[name] ?? "0";
    const owed = result.owed[name] ?? "0";
    return nameCell(name) + moneyCells(wallet, rate) + moneyCells(negate(owed), rate);
  });
  const pool = `<td class="name">Incentive pool</td>${moneyCells(result.incentivePoolEther, rate)}<td></td><td></td>`;
  const note = `<p class="note">What each participant holds in its market wallet at the end, and what it still owes (negative).</p>`;
  return section("wallets", "Final wallets and amounts owed", note + table("In-contract balances at the end of the run", head, 1, [rows, [pool]]));
}

// ---------------------------------------------------------------------------------------
// Charts: one Chart.js configuration per canvas id, embedded as JSON.

const PRICE_CHART_ID = "fig-price";

const SERIES_STYLE: Record<SeriesKind, { label: string; color: string; field: keyof ParticipantIntervalResult }> = {
  declared: { label: "Declared", color: "#2563eb", field: "declaredKWh" },
  cleared: { label: "Cleared", color: "#ea580c", field: "clearedKWh" },
  actual: { label: "Actual", color: "#16a34a", field: "actualKWh" },
};

/** At most `xTicks` time labels: 8 or 12 of a day's 96 labels fall on whole hours. */
function axes(yTitle: string, xTicks: number) {
  return {
    x: { ticks: { maxTicksLimit: xTicks, autoSkip: true, maxRotation: 0 }, grid: { display: false } },
    y: { title: { display: true, text: yTitle } },
  };
}

function baseOptions(yTitle: string, xTicks: number) {
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    interaction: { mode: "index", intersect: false },
    elements: { point: { radius: 0, hitRadius: 6 }, line: { borderWidth: 1.5, tension: 0 } },
    plugins: { legend: { position: "bottom", labels: { boxWidth: 14, boxHeight: 2 } } },
    scales: axes(yTitle, xTicks),
  };
}

function energyChart(result: SimulationResult, name: string, kinds: [SeriesKind, SeriesKind]) {
  // Chart.js draws the first dataset on top: the second series is a wide translucent band
  // under the thin first one, so both stay visible where they coincide.
  const datasets = kinds.map((kind, position) => {
    const style = SERIES_STYLE[kind];
    const underlay = position === 1;
    return {
      label: style.label,
      data: result.intervals.map((i) => plotKWh(outcome(i, name)[style.field])),
      borderColor: underlay ? `${style.color}80` : style.color,
      backgroundColor: style.color,
      borderWidth: underlay ? 4 : 1.5,
      stepped: "middle",
    };
  });
  return { type: "line", data: { labels: result.intervals.map((i) => i.label), datasets }, options: baseOptions("kWh", 8) };
}

function priceChart(result: SimulationResult) {
  const labels = result.intervals.map((i) => i.label);
  const options = baseOptions(PRICE_UNIT, 12);
  const scales = { ...options.scales, y2: { position: "right", title: { display: true, text: "kWh traded" }, grid: { display: false } } };
  return {
    type: "bar",
    data: {
      labels,
      datasets: [
        {
          type: "line",
          label: "Average price (10⁻³ eth/kWh)",
          data: result.intervals.map((i) => plotMilli(i.averagePriceEtherPerKWh)),
          borderColor: "#7c3aed",
          backgroundColor: "#7c3aed",
          yAxisID: "y",
        },
        {
          type: "bar",
          label: "Traded energy (kWh)",
          data: result.intervals.map((i) => Number(kWhTraded(i))),
          backgroundColor: "rgba(100, 116, 139, 0.35)",
          yAxisID: "y2",
        },
      ],
    },
    options: { ...options, scales },
  };
}

function kWhTraded(interval: IntervalResult): string {
  return trimZeros(roundUnits(sum(interval.trades.map((t) => t.energyKWh)), ETHER_SCALE, 3));
}

function chartConfigs(result: SimulationResult, participants: ParticipantInfo[]): Record<string, unknown> {
  const configs: Record<string, unknown> = { [PRICE_CHART_ID]: priceChart(result) };
  for (const figure of Object.values(FIGURES)) {
    for (const p of participants) {
      configs[figureId(figure, result.participants.indexOf(p))] = energyChart(result, p.name, figure.series);
    }
  }
  return configs;
}

// ---------------------------------------------------------------------------------------
// The page.

function chartJsSource(): string {
  const umd = path.join(path.dirname(require.resolve("chart.js")), "chart.umd.min.js");
  return readFileSync(umd, "utf8").replace(/<\/script/gi, "<\\/script");
}

const DRAW_CHARTS = `
const configs = JSON.parse(document.getElementById("report-charts").textContent);
Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
Chart.defaults.color = "#334155";
for (const [id, config] of Object.entries(configs)) new Chart(document.getElementById(id), config);
`;

const NAV = [
  ["paper-check", "Paper check"],
  ["summary", "Summary"],
  ["prices", "Prices"],
  ["declared-cleared", "Declared/cleared"],
  ["cleared-actual", "Fig. 3"],
  ["declared-actual", "Fig. 4"],
  ["trades", "Trades"],
  ["balancing", "Balancing"],
  ["incentives", "Incentives"],
  ["wallets", "Wallets"],
];

function page(body: string, charts: Record<string, unknown>, paperCheck: boolean): string {
  const nav = NAV.filter(([id]) => paperCheck || id !== "paper-check")
    .map(([id, label]) => `<a href="#${id}">${label}</a>`)
    .join("");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Market simulation report</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>Market simulation report</h1><p class="lede">Distribution-network retail electricity market, after Han Dong et al. (2019). Money in ${ETH_UNIT} as in the paper, with CNY beside it.</p><nav>${nav}</nav></header>
<main>
${body}
</main>
<script type="application/json" id="report-charts">${scriptJson(charts)}</script>
<script>${chartJsSource()}</script>
<script>${DRAW_CHARTS}</script>
</body>
</html>
`;
}

const STYLE = `
:root { --ink: #0f172a; --muted: #64748b; --line: #e2e8f0; --panel: #f8fafc; --accent: #2563eb; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Helvetica Neue", Arial, sans-serif; }
header, main { max-width: 1280px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; border-bottom: 1px solid var(--line); }
h1 { font-size: 26px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 20px; margin: 40px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--ink); }
.lede, .note { color: var(--muted); margin: 0 0 12px; }
nav { display: flex; flex-wrap: wrap; gap: 4px 16px; padding: 8px 0 12px; }
nav a { color: var(--accent); text-decoration: none; font-weight: 500; }
nav a:hover { text-decoration: underline; }
section { scroll-margin-top: 12px; }
.stats { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: 12px; margin: 16px 0; }
.stat { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.stat-label { color: var(--muted); font-size: 13px; text-transform: uppercase; letter-spacing: 0.04em; }
.stat-value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.stat-value .unit { font-size: 14px; font-weight: 500; color: var(--muted); white-space: nowrap; }
.stat-detail { color: var(--muted); font-size: 13px; }
.multiples { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(380px, 100%), 1fr)); gap: 16px; }
.card { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px 6px; }
.card figcaption { font-weight: 600; margin-bottom: 4px; }
.chart { position: relative; height: 230px; }
.chart-wide { height: 300px; }
.tag { display: inline-block; font-size: 11px; font-weight: 600; padding: 0 6px; border-radius: 999px; vertical-align: middle; background: #e2e8f0; color: #334155; }
.tag-green { background: #dcfce7; color: #166534; }
.tag-grid { background: #e0e7ff; color: #3730a3; }
.tag-all { background: #fef3c7; color: #92400e; }
.table-wrap { max-height: 480px; overflow: auto; border: 1px solid var(--line); border-radius: 8px; margin: 8px 0 16px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
caption { text-align: left; font-weight: 600; padding: 8px 10px; }
th, td { padding: 4px 10px; text-align: left; white-space: nowrap; }
thead th { position: sticky; top: 0; background: var(--panel); border-bottom: 1px solid var(--line); font-weight: 600; }
tbody + tbody { border-top: 1px solid var(--line); }
tbody tr:hover { background: #f1f5f9; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.cny-pos { color: #15803d; }
.cny-neg { color: #b91c1c; }
.cny-zero { color: var(--muted); }
.facts-wrap { display: inline-block; vertical-align: top; max-width: 100%; overflow-x: auto; margin: 0 24px 16px 0; }
.facts { width: auto; }
.facts-wrap .note { max-width: 34em; }
.table-wrap tbody td:first-child, .table-wrap thead th:first-child { position: sticky; left: 0; background: #fff; }
.table-wrap thead th:first-child { background: var(--panel); z-index: 1; }
.facts tbody th { font-weight: 400; color: var(--muted); white-space: normal; }
.gas thead th { color: var(--muted); font-weight: 600; border-bottom: 1px solid var(--line); }
.empty { color: var(--muted); font-style: italic; }
.verdict { font-weight: 600; margin: 8px 0; padding: 8px 12px; border-radius: 8px; display: inline-block; }
.verdict.equal { background: #dcfce7; color: #14532d; }
.verdict.differs { background: #fee2e2; color: #7f1d1d; }
.check-wrap { overflow-x: auto; margin: 8px 0 12px; max-width: 760px; }
.check { border: 1px solid var(--line); border-radius: 8px; }
.check thead th { background: var(--panel); border-bottom: 1px solid var(--line); }
.check tbody th { font-weight: 400; white-space: normal; }
.check tbody tr + tr { border-top: 1px solid var(--line); }
.check td.run { font-weight: 600; }
.check td.paper { color: var(--muted); }
.check .order { color: var(--muted); font-size: 13px; white-space: nowrap; }
.mark.equal { color: #15803d; }
.mark.differs { color: #b91c1c; font-weight: 700; }
@media (max-width: 600px) {
  header, main { padding: 0 12px; }
  header { padding-top: 16px; }
  h1 { font-size: 22px; }
  th, td { padding: 4px 6px; }
  table { font-size: 13px; }
  .facts-wrap { margin-right: 0; }
  .check .mark { font-size: 0; }
  .check .mark::before { font-size: 14px; }
  .check .mark.equal::before { content: "✓"; }
  .check .mark.differs::before { content: "✗"; }
}
`;
