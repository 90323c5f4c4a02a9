/**
 * Renders a simulation result as one self-contained HTML page: the paper's figures drawn
 * with Chart.js (inlined, so the file works offline from file://) and tables with CNY
 * beside ether. The output depends only on the result and the installed Chart.js.
 */
import { readFileSync } from "fs";
import * as path from "path";
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
  const sections = [
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
  return page(sections.join("\n"), chartConfigs(result, figureParticipants));
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

function isZero(value: Decimal): boolean {
  return toUnits(value) === 0n;
}

function sum(values: Decimal[]): bigint {
  return values.reduce((total, value) => total + toUnits(value), 0n);
}

/** Ether in the paper's unit, 10^-3 eth, with three decimals. */
function milli(ether: Decimal): string {
  return roundUnits(toUnits(ether), MILLI_SCALE, 3);
}

/** A price in 10^-3 eth/kWh, exact up to six decimals. */
function milliPrice(etherPerKWh: Decimal): string {
  return trimZeros(roundUnits(toUnits(etherPerKWh), MILLI_SCALE, 6));
}

function exactEther(ether: Decimal): string {
  return trimZeros(roundUnits(toUnits(ether), ETHER_SCALE, ETHER_SCALE));
}

function cny(ether: Decimal, cnyPerEther: Decimal): string {
  return roundUnits(toUnits(ether) * toUnits(cnyPerEther), 2 * ETHER_SCALE, 4);
}

function kWh(energy: Decimal): string {
  return roundUnits(toUnits(energy), ETHER_SCALE, 3);
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

function flattenGas(gas: GasFigures, prefix = ""): [string, number][] {
  return Object.entries(gas).flatMap(([key, value]) =>
    typeof value === "number" ? [[prefix + key, value] as [string, number]] : flattenGas(value, `${prefix}${key}.`),
  );
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

/** 10^-3 eth (exact ether on hover) and CNY beside it. */
function moneyCells(ether: Decimal, cnyPerEther: Decimal): string {
  return num(milli(ether), `${exactEther(ether)} eth`) + `<td class="num cny">${cny(ether, cnyPerEther)}</td>`;
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
    ["Margin", `${milli(m.marginEther)} ${ETH_UNIT}`],
    ["Reference price", `${milliPrice(m.referencePriceEtherPerKWh)} ${PRICE_UNIT}`],
    ["Initial incentive pool", `${milli(m.incentivePoolEther)} ${ETH_UNIT}`],
    ["Exchange rate", `1 eth = ${e(m.cnyPerEther)} CNY`],
  ]);
}

function gasTable(gas: GasFigures): string {
  const rows = flattenGas(gas).map(([key, value]) => [escapeHtml(key), groupDigits(value)]);
  return rows.length === 0 ? "" : definitionTable("Gas", rows);
}

function definitionTable(caption: string, rows: string[][]): string {
  const body = rows.map(([k, v]) => `<tr><th scope="row">${k}</th><td class="num">${v}</td></tr>`).join("");
  return `<table class="facts"><caption>${caption}</caption><tbody>${body}</tbody></table>`;
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
  const head = ["Interval", "#", "Stage", "Seller", "Buyer", "Energy kWh", `Price ${PRICE_UNIT}`, `Amount ${ETH_UNIT}`, "Amount CNY", "Amount eth"];
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
        moneyCells(t.amountEther, rate) +
        `<td class="num exact">${exactEther(t.amountEther)}</td>`,
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
          moneyCells(o.penaltyEther, rate) +
          moneyCells(o.incentiveEther, rate),
      ),
  );
  const note = `<p class="note">Reward is paid from the incentive pool, penalty (a positive amount) is paid into it.</p>`;
  return section("incentives", "Reward and penalty", note + table("Incentives per interval", head, 2, bodies));
}

function walletsSection(result: SimulationResult): string {
  const rate = result.market.cnyPerEther;
  const head = ["Participant", `Wallet ${ETH_UNIT}`, "Wallet CNY", "Wallet eth", `Owed ${ETH_UNIT}`, "Owed CNY"];
  const rows = result.participants.map(({ name }) => {
    const wallet = result.wallets[name] ?? "0";
    const owed = result.owed[name] ?? "0";
    return nameCell(name) + moneyCells(wallet, rate) + `<td class="num exact">${exactEther(wallet)}</td>` + moneyCells(owed, rate);
  });
  const pool = `<td class="name">Incentive pool</td>${moneyCells(result.incentivePoolEther, rate)}<td class="num exact">${exactEther(result.incentivePoolEther)}</td><td></td><td></td>`;
  return section("wallets", "Final wallets and amounts owed", table("In-contract balances at the end of the run", head, 1, [rows, [pool]]));
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

function page(body: string, charts: Record<string, unknown>): string {
  const nav = NAV.map(([id, label]) => `<a href="#${id}">${label}</a>`).join("");
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
.multiples { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 16px; }
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
.cny { color: #9a3412; }
.exact { color: var(--muted); font-size: 13px; }
.facts { width: auto; min-width: 420px; display: inline-table; margin: 0 24px 16px 0; vertical-align: top; }
.facts th { font-weight: 400; color: var(--muted); }
.empty { color: var(--muted); font-style: italic; }
`;
