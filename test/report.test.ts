import { expect } from "chai";
import { renderReport } from "../lib/report";
import type { ParticipantIntervalResult, SimulationResult } from "../lib/result";

/** A name that breaks the page if it is not escaped. */
const HOSTILE = `O'Neil <script>alert("x")</script> & Co`;
const HOSTILE_ESCAPED = "O&#39;Neil &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co";

function outcome(
  declaredKWh: string,
  clearedKWh: string,
  actualKWh: string,
  balancingEther = "0",
  rewardEther = "0",
  penaltyEther = "0",
  incentiveEther = "0",
): ParticipantIntervalResult {
  return { declaredKWh, clearedKWh, actualKWh, balancingEther, rewardEther, penaltyEther, incentiveEther };
}

/** The paper's 03:00, 14:00 and 18:30 intervals, settled with W' 1.1, W'' 0.9, M' 0.01, M'' 0.05. */
const FIXTURE: SimulationResult = {
  market: {
    intervalSeconds: 900,
    commitSeconds: 120,
    revealSeconds: 60,
    balancingShortRatio: "1.1",
    balancingLongRatio: "0.9",
    rewardRatio: "0.01",
    penaltyRatio: "0.05",
    marginEther: "0.001",
    referencePriceEtherPerKWh: "0.0007",
    incentivePoolEther: "1",
    cnyPerEther: "626.2",
  },
  participants: [
    { name: "wind", green: true, grid: false },
    { name: "controllable", green: false, grid: false },
    { name: "ev", green: true, grid: false },
    { name: "conventional", green: false, grid: false },
    { name: HOSTILE, green: false, grid: false },
    { name: "grid", green: false, grid: true },
  ],
  intervals: [
    {
      label: "03:00",
      averagePriceEtherPerKWh: "0.000523153846153846",
      trades: [
        { stage: "green", seller: "wind", buyer: "ev", energyKWh: "0.84", priceEtherPerKWh: "0.000532", amountEther: "0.00044688" },
        { stage: "all", seller: "controllable", buyer: "conventional", energyKWh: "0.1", priceEtherPerKWh: "0.000488", amountEther: "0.0000488" },
        { stage: "all", seller: "controllable", buyer: "ev", energyKWh: "0.1", priceEtherPerKWh: "0.000484", amountEther: "0.0000484" },
      ],
      rejectedBids: [],
      participants: {
        wind: outcome("0.84", "0.84", "0.83", "-0.000005754692307692", "0.000004342176923076", "0.000000261576923076", "0.0000040806"),
        controllable: outcome("0.69", "0.2", "0.2", "0", "0.000001046307692307", "0.000012817269230769", "-0.000011770961538462"),
        ev: outcome("-0.94", "-0.94", "-0.95", "-0.000005754692307692", "0.000004917646153846", "0.000000261576923076", "0.00000465606923077"),
        conventional: outcome("-0.1", "-0.1", "-0.11", "-0.000005754692307692", "0.000000523153846153", "0.000000261576923076", "0.000000261576923077"),
        [HOSTILE]: outcome("0", "0", "0"),
        grid: outcome("0", "0", "0", "0.000017264076923076"),
      },
    },
    {
      label: "14:00",
      averagePriceEtherPerKWh: "0.000757072727272727",
      trades: [
        { stage: "green", seller: "wind", buyer: "ev", energyKWh: "0.25", priceEtherPerKWh: "0.000743", amountEther: "0.00018575" },
        { stage: "all", seller: "wind", buyer: "conventional", energyKWh: "0.18", priceEtherPerKWh: "0.000762", amountEther: "0.00013716" },
        { stage: "all", seller: "controllable", buyer: "conventional", energyKWh: "0.12", priceEtherPerKWh: "0.000779", amountEther: "0.00009348" },
      ],
      rejectedBids: [{ participant: HOSTILE, reason: "wallet <margin> cannot cover energy × price" }],
      participants: {
        wind: outcome("0.43", "0.43", "0.43", "0", "0.000003255412727272", "0", "0.000003255412727272"),
        controllable: outcome("0.12", "0.12", "0.12", "0", "0.000000908487272727", "0", "0.000000908487272727"),
        ev: outcome("-0.25", "-0.25", "-0.25", "0", "0.000001892681818181", "0", "0.000001892681818181"),
        conventional: outcome("-1.02", "-0.3", "-1.15", "-0.000707862999999999", "0.000007722141818181", "0.000004920972727272", "0.000002801169090909"),
        [HOSTILE]: outcome("0", "0", "0"),
        grid: outcome("0", "0", "0", "0.000707862999999999"),
      },
    },
    {
      label: "18:30",
      averagePriceEtherPerKWh: "0.000723",
      trades: [
        { stage: "green", seller: "wind", buyer: "ev", energyKWh: "0.3", priceEtherPerKWh: "0.000723", amountEther: "0.0002169" },
        { stage: "all", seller: "controllable", buyer: "conventional", energyKWh: "0.6", priceEtherPerKWh: "0.000723", amountEther: "0.0004338" },
      ],
      rejectedBids: [],
      participants: {
        wind: outcome("0.3", "0.3", "0.3", "0", "0.000002169", "0", "0.000002169"),
        controllable: outcome("0.6", "0.6", "0.6", "0", "0.000004338", "0", "0.000004338"),
        ev: outcome("-0.3", "-0.3", "-0.3", "0", "0.000002169", "0", "0.000002169"),
        conventional: outcome("-0.6", "-0.6", "-0.52", "0.000052056", "0.0000037596", "0.000002892", "0.0000008676"),
        [HOSTILE]: outcome("0", "0", "0"),
        grid: outcome("0", "0", "0", "-0.000052056"),
      },
    },
  ],
  wallets: {
    wind: "1.000796716",
    controllable: "1.00017568",
    ev: "0.99950357",
    conventional: "0.998",
    [HOSTILE]: "0.5",
    grid: "100.000673",
  },
  incentivePoolEther: "0.99995",
  owed: { conventional: "0.000012" },
  gas: { total: 4_123_456, perInterval: { commit: 61_000, settle: 250_000 } },
};

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
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map(([, row]) =>
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
    expect(stat("Average price")).to.equal("0.647056 10⁻³ eth/kWh");
    expect(stat("Incentive pool")).to.equal("999.950 10⁻³ eth");
    expect(summary).to.include("5 prosumers · 1 grid · 2 green");
    expect(summary).to.include("03:00 – 18:30, 15 min each");
    expect(rows("summary")).to.deep.include.members([
      ["Exchange rate", "1 eth = 626.2 CNY"],
      ["total", "4,123,456"],
      ["perInterval.settle", "250,000"],
    ]);
  });

  it("lists each trade with energy, price, 10^-3 eth, CNY and exact ether", function () {
    const trades = rows("trades");
    expect(trades).to.deep.include.members([
      ["03:00", "1", "green", "wind", "ev", "0.840", "0.532", "0.447", "0.2798", "0.00044688"],
      ["03:00", "2", "all", "controllable", "conventional", "0.100", "0.488", "0.049", "0.0306", "0.0000488"],
      ["14:00", "2", "all", "wind", "conventional", "0.180", "0.762", "0.137", "0.0859", "0.00013716"],
      ["18:30", "2", "all", "controllable", "conventional", "0.600", "0.723", "0.434", "0.2716", "0.0004338"],
      ["14:00", HOSTILE, "wallet <margin> cannot cover energy × price"],
    ]);
    expect(trades.filter((r) => r.length === 10)).to.have.length(8);
  });

  it("shows the paper's balancing payments: 14:00 short pays 0.708, 18:30 long receives 0.052", function () {
    const balancing = rows("balancing");
    expect(balancing).to.deep.include.members([
      ["14:00", "conventional", "-0.300", "-1.150", "-0.850", "-0.708", "-0.4433"],
      ["18:30", "conventional", "-0.600", "-0.520", "0.080", "0.052", "0.0326"],
      ["14:00", "grid", "0.000", "0.000", "0.000", "0.708", "0.4433"],
    ]);
    const afterNight = balancing.filter(([label]) => label !== "03:00").map(([, name]) => name);
    expect(afterNight).to.deep.equal(["conventional", "grid", "conventional", "grid"], "only rows with a payment");
  });

  it("shows the paper's 14:00 incentive: reward 0.008, penalty 0.005, net 0.003", function () {
    expect(rows("incentives")).to.deep.include([
      "14:00", "conventional", "-1.020", "-1.150", "0.008", "0.0048", "0.005", "0.0031", "0.003", "0.0018",
    ]);
  });

  it("shows final wallets and owed amounts with CNY", function () {
    expect(rows("wallets")).to.deep.include.members([
      ["conventional", "998.000", "624.9476", "0.998", "0.012", "0.0075"],
      ["grid", "100000.673", "62620.4214", "100.000673", "0.000", "0.0000"],
      ["Incentive pool", "999.950", "626.1687", "0.99995", "", ""],
    ]);
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
