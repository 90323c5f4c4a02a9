import { expect } from "chai";
import { renderReport } from "../lib/report";
import type { SimulationResult } from "../lib/result";
import { FIXTURE, HOSTILE, HOSTILE_ESCAPED } from "./shared/report-fixture";

const html = renderReport(FIXTURE);

function decode(text: string): string {
  const entities: Record<string, string> = { "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&amp;": "&" };
  return text.replace(/&(lt|gt|quot|#39|amp);/g, (e) => entities[e]);
}

function sectionHtml(id: string): string {
  const match = new RegExp(`<section id="${id}">([\\s\\S]*?)</section>`).exec(html);
  if (!match) throw new Error(`no section ${id}`);
  return match[1];
}

/** The body rows of a section's tables as arrays of cell texts. */
function rows(sectionId: string): string[][] {
  const body = sectionHtml(sectionId).replace(/<thead>[\s\S]*?<\/thead>/g, "");
  return [...body.matchAll(/<tr[^>]*>([\s\S]*?)<\/tr>/g)].map(([, row]) =>
    [...row.matchAll(/<t[dh][^>]*>([\s\S]*?)<\/t[dh]>/g)].map(([, cell]) => decode(cell.replace(/<[^>]+>/g, "").trim())),
  );
}

interface ChartConfig {
  type: string;
  data: { labels: string[]; datasets: { label: string; data: number[] }[] };
}

function charts(): Record<string, ChartConfig> {
  const match = /<script type="application\/json" id="report-charts">([\s\S]*?)<\/script>/.exec(html);
  if (!match) throw new Error("no chart data");
  return JSON.parse(match[1]);
}

function series(chartId: string): Record<string, number[]> {
  const config = charts()[chartId];
  return Object.fromEntries(config.data.datasets.map((d) => [d.label, d.data]));
}

describe("report.html", function () {
  it("is one offline file: Chart.js inlined, nothing fetched from the network", function () {
    expect(html.startsWith("<!DOCTYPE html>")).to.equal(true);
    expect(html).to.match(/<script>\/\*!\s*\n \* Chart\.js v4/);
    expect(html).not.to.match(/<script[^>]*\ssrc=/i);
    expect(html).not.to.match(/<link\b/i);
    expect(html).not.to.match(/<(img|iframe)\b/i);
    expect(html).not.to.match(/(href|src)="(https?:)?\/\//i);
    expect(html).not.to.match(/@import|url\(\s*['"]?https?:/i);
  });

  it("shows every participant's name escaped, never as markup", function () {
    for (const { name } of FIXTURE.participants) {
      if (name !== HOSTILE) expect(html).to.include(`<td class="name">${name}</td>`);
    }
    expect(html).to.include(`<td class="name">${HOSTILE_ESCAPED}</td>`);
    expect(html).to.include(HOSTILE_ESCAPED);
    expect(html).not.to.include(`<script>alert`);
    expect(html).to.include("wallet &lt;margin&gt; cannot cover energy × price");
  });

  it("summarises the run: intervals, participants, trades, energy, average price, pool, gas", function () {
    const summary = sectionHtml("summary");
    const stat = (label: string) =>
      new RegExp(`stat-label">${label}</div><div class="stat-value">(.*?)</div>`).exec(summary)?.[1].replace(/<[^>]+>/g, "");
    expect(stat("Intervals")).to.equal("3");
    expect(stat("Participants")).to.equal("6");
    expect(stat("Trades")).to.equal("8");
    expect(stat("Traded energy")).to.equal("2.490 kWh");
    expect(stat("Average price")).to.equal("0.6471 10⁻³ eth/kWh");
    expect(stat("Incentive pool")).to.equal("999.9500 10⁻³ eth");
    expect(summary).to.include("5 prosumers · 1 grid · 2 green");
    expect(summary).to.include("03:00 – 18:30, 15 min each");
    expect(rows("summary")).to.deep.include.members([
      ["Exchange rate", "1 eth = 626.2 CNY"],
      ["All transactions", "", "4,123,456", ""],
      ["Per interval: Settlement", "", "250,000", ""],
    ]);
  });

  it("lists each trade with energy, price, 10^-3 eth and CNY (exact ether on hover)", function () {
    const trades = rows("trades");
    expect(trades).to.deep.include.members([
      ["03:00", "1", "green", "wind", "ev", "0.840", "0.5320", "0.4469", "0.2798"],
      ["03:00", "2", "all", "controllable", "conventional", "0.100", "0.4880", "0.0488", "0.0306"],
      ["14:00", "2", "all", "wind", "conventional", "0.180", "0.7620", "0.1372", "0.0859"],
      ["18:30", "2", "all", "controllable", "conventional", "0.600", "0.7230", "0.4338", "0.2716"],
      ["14:00", HOSTILE, "wallet <margin> cannot cover energy × price"],
    ]);
    expect(trades.filter((r) => r.length === 9)).to.have.length(8);
    expect(sectionHtml("trades")).to.include(`title="0.00044688 eth">0.4469</td>`);
  });

  it("shows the balancing payments: 14:00 short pays 0.7079, 18:30 long receives 0.0521", function () {
    const balancing = rows("balancing");
    expect(balancing).to.deep.include.members([
      ["14:00", "conventional", "-0.300", "-1.150", "-0.850", "-0.7079", "-0.4433"],
      ["18:30", "conventional", "-0.600", "-0.520", "0.080", "0.0521", "0.0326"],
      ["14:00", "grid", "0.000", "0.000", "0.000", "0.7079", "0.4433"],
    ]);
    const afterNight = balancing.filter(([label]) => label !== "03:00").map(([, name]) => name);
    expect(afterNight).to.deep.equal(["conventional", "grid", "conventional", "grid"], "only rows with a payment");
  });

  it("shows the 14:00 incentive: reward 0.0077, penalty paid 0.0049, net 0.0028", function () {
    expect(rows("incentives")).to.deep.include([
      "14:00", "conventional", "-1.020", "-1.150", "0.0077", "0.0048", "-0.0049", "-0.0031", "0.0028", "0.0018",
    ]);
  });

  it("shows final wallets and owed amounts (negative) with CNY", function () {
    expect(rows("wallets")).to.deep.include.members([
      ["conventional", "998.0000", "624.9476", "-0.0120", "-0.0075"],
      ["grid", "100000.6730", "62620.4214", "0.0000", "0.0000"],
      ["Incentive pool", "999.9500", "626.1687", "", ""],
    ]);
  });

  it("opens with the paper check: Table 1, the balancing with A and the reward/penalty beside the paper's numbers, each row marked", function () {
    expect(html.indexOf(`<section id="paper-check">`)).to.be.lessThan(html.indexOf(`<section id="summary">`));
    expect(html).to.include(`<a href="#paper-check">Paper check</a>`);
    const check = rows("paper-check");
    expect(check).to.deep.include.members([
      ["03:00 total supply", "1.53", "1.53", "", "", "✓ equal"],
      ["03:00 total demand", "1.04", "1.04", "", "", "✓ equal"],
      ["1. wind → EV", "0.84", "0.84", "0.532", "0.532", "✓ equal"],
      ["2. controllable → EV (matched 3rd)", "0.10", "0.10", "0.484", "0.484", "✓ equal"],
      ["3. controllable → conventional (matched 2nd)", "0.10", "0.10", "0.488", "0.488", "✓ equal"],
      ["14:00 total demand", "1.27", "1.27", "", "", "✓ equal"],
      ["6. controllable → conventional", "0.12", "0.12", "0.779", "0.779", "✓ equal"],
      ["14:00 average price A, 10⁻³ eth/kWh", "0.757", "0.757", "✓ equal"],
      ["14:00 deviation |a − c|, kWh", "0.85", "0.85", "✓ equal"],
      ["14:00 paid to the grid (|a − c| · A · W′), 10⁻³ eth", "-0.708", "-0.708", "✓ equal"],
      ["18:30 average price A, 10⁻³ eth/kWh", "0.723", "0.723", "✓ equal"],
      ["18:30 received from the grid (|a − c| · A · W″), 10⁻³ eth", "0.052", "0.052", "✓ equal"],
      ["consistent energy min(|b|, |a|), kWh", "1.02", "1.02", "✓ equal"],
      ["deviating energy |b − a|, kWh", "0.13", "0.13", "✓ equal"],
      ["reward (consistent · A · M′), 10⁻³ eth", "0.008", "0.008", "✓ equal"],
      ["penalty (deviating · A · M″), 10⁻³ eth", "0.005", "0.005", "✓ equal"],
      ["net, 10⁻³ eth", "0.003", "0.003", "✓ equal"],
    ]);
    expect(sectionHtml("paper-check")).to.include("All 21 rows equal the paper&#39;s numbers.".replace("&#39;", "'"));
    expect(decode(sectionHtml("paper-check"))).to.include(
      "At 03:00 the contract matches the paper's trade 3 before its trade 2 because, once the green stage is done, it serves buyers by bid price, highest first (conventional bid 0.568, EV 0.560 10⁻³ eth/kWh); the paper lists them the other way round, with the same energies and prices.",
    );
  });

  it("marks a row that differs from the paper, and says how many do", function () {
    const changed = structuredClone(FIXTURE);
    changed.intervals[1].trades[1].priceEtherPerKWh = "0.000763";
    const page = renderReport(changed);
    expect(page).to.include("1 of 21 rows differ from the paper");
    expect(page).to.match(/5\. wind → conventional<\/th><td class="num run">0\.18<\/td><td class="num paper">0\.18<\/td><td class="num run">0\.763<\/td><td class="num paper">0\.762<\/td><td class="mark differs"/);
  });

  it("has no paper check for a run of another scenario", function () {
    const other: SimulationResult = { ...structuredClone(FIXTURE), intervals: FIXTURE.intervals.slice(0, 2) };
    const page = renderReport(other);
    expect(page).not.to.include(`id="paper-check"`);
    expect(page).not.to.include(`href="#paper-check"`);
  });

  it("gives every column one precision, colours CNY by sign, and never shows 0 in eth beside a non-zero CNY", function () {
    for (const id of ["trades", "balancing", "incentives", "wallets"]) {
      const table = /<thead><tr>([\s\S]*?)<\/tr><\/thead>/.exec(sectionHtml(id))![1];
      const columns = [...table.matchAll(/<th[^>]*>/g)].length;
      const body = rows(id).filter((r) => r.length === columns);
      for (let c = 0; c < columns; c++) {
        const decimals = new Set(body.map((r) => r[c]).filter((v) => /^-?\d+\.\d+$/.test(v)).map((v) => v.split(".")[1].length));
        expect(decimals.size, `${id} column ${c}: ${[...decimals]}`).to.be.at.most(1);
      }
    }
    const pairs = [...html.matchAll(/<td class="num" title="[^"]*">([^<]*)<\/td><td class="num cny cny-(pos|neg|zero)">([^<]*)<\/td>/g)];
    expect(pairs.length).to.be.greaterThan(50);
    for (const [, eth, sign, yuan] of pairs) {
      expect(sign, `${eth} / ${yuan}`).to.equal(yuan.startsWith("-") ? "neg" : /[1-9]/.test(yuan) ? "pos" : "zero");
      if (/[1-9]/.test(yuan)) expect(eth, `${eth} eth beside ${yuan} CNY`).to.match(/[1-9]/);
    }
  });

  it("tells the run's gas in words an analyst reads", function () {
    const run = renderReport({
      ...FIXTURE,
      gas: { commit: { total: 68_282, transactions: 1 }, settleBeforeFirst: { total: 135_328, transactions: 1 }, postReading: { total: 121_828, transactions: 2 }, perParticipantPerInterval: 265_000 },
    });
    const summary = /<section id="summary">([\s\S]*?)<\/section>/.exec(run)![1];
    expect(summary).to.include("<th scope=\"row\">Sealed-bid commits</th><td class=\"num\">1</td><td class=\"num\">68,282</td><td class=\"num\">68,282</td>");
    expect(summary).to.include("<th scope=\"row\">Closing the intervals before the first traded one (clearing and settlement)</th>");
    expect(summary).to.include("<th scope=\"row\">Meter readings</th><td class=\"num\">2</td><td class=\"num\">121,828</td><td class=\"num\">60,914</td>");
    expect(summary).to.include("One trading cycle (commit, reveal, clearing, meter reading, settlement) costs 265,000 gas per prosumer per interval.");
    expect(summary).not.to.match(/settleBeforeFirst|\.transactions|\.total/);
  });

  it("draws declared vs cleared (A1–A8), Figure 3 and Figure 4 for every prosumer", function () {
    const prosumers = FIXTURE.participants.filter((p) => !p.grid);
    for (const figure of ["declared-cleared", "cleared-actual", "declared-actual"]) {
      prosumers.forEach((p) => {
        const index = FIXTURE.participants.indexOf(p);
        expect(html).to.include(`<canvas id="fig-${figure}-${index}"`);
        expect(charts()[`fig-${figure}-${index}`].data.labels).to.deep.equal(["03:00", "14:00", "18:30"]);
      });
    }
    expect(html).not.to.include(`fig-declared-cleared-5`, "the grid did not bid");
    expect(series("fig-declared-cleared-2")).to.deep.equal({ Declared: [-0.94, -0.25, -0.3], Cleared: [-0.94, -0.25, -0.3] });
    expect(series("fig-cleared-actual-3")).to.deep.equal({ Cleared: [-0.1, -0.3, -0.6], Actual: [-0.11, -1.15, -0.52] });
    expect(series("fig-declared-actual-3")).to.deep.equal({ Declared: [-0.1, -1.02, -0.6], Actual: [-0.11, -1.15, -0.52] });
    expect(series("fig-declared-cleared-1")).to.deep.equal({ Declared: [0.69, 0.12, 0.6], Cleared: [0.2, 0.12, 0.6] });
  });

  it("draws the average price per interval with the traded energy", function () {
    expect(html).to.include(`<canvas id="fig-price"`);
    expect(series("fig-price")).to.deep.equal({
      "Average price (10⁻³ eth/kWh)": [0.523153846153846, 0.757072727272727, 0.723],
      "Traded energy (kWh)": [1.04, 0.55, 0.9],
    });
  });

  it("renders the same input to the same bytes", function () {
    expect(renderReport(structuredClone(FIXTURE))).to.equal(html);
  });
});
