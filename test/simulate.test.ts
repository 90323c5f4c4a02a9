/**
 * Scenario files and the simulator: errors that name the field, results equal to the reference
 * model, and the same results on a real node in real time as on the in-process network.
 */
import { expect } from "chai";
import hre from "hardhat";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { InProcessClock } from "../lib/chain";
import { PAPER_PARAMS } from "../lib/market";
import { ModelBid, averagePrice, balancingPrice, clearBook, positionOf, settleParticipant } from "../lib/model";
import { ScenarioError, parseScenario } from "../lib/scenario";
import { meterRatingW, simulate } from "../lib/simulator";
import { kWhToWh, etherToWei, weiToEther, whToKWh } from "../lib/units";
import { Anvil } from "./shared/anvil";

const run = promisify(execFile);

/**
 * Five prosumers and the grid, without meter ratings: they are sized from the scenario (and raised where
 * a bid needs more), so the same file replays with 16-second intervals. "home" deposits its 36 kW meter's
 * security (0.02484 ether) and the margin and a little more, so its 9 kWh buy cannot be covered.
 */
const participants = [
  { name: "wind", green: true, depositEther: "1" },
  { name: "solar", green: true, depositEther: "1" },
  { name: "chp", depositEther: "1" },
  { name: "ev", green: true, depositEther: "1" },
  { name: "home", depositEther: "0.027" },
  { name: "grid", grid: true, depositEther: "10" },
];

/** Three intervals with crossing books, a bid the wallet cannot cover, and forecast errors. */
function smallScenario(market: Record<string, unknown> = {}) {
  return {
    market,
    participants: participants.map((p) => ({ ...p })),
    intervals: [
      {
        label: "a",
        bids: [
          { participant: "wind", side: "sell", energyKWh: "0.84", priceEtherPerKWh: "0.000504" },
          { participant: "ev", side: "buy", energyKWh: "0.94", priceEtherPerKWh: "0.00056" },
          { participant: "chp", side: "sell", energyKWh: "0.69", priceEtherPerKWh: "0.000408" },
          { participant: "home", side: "buy", energyKWh: "0.1", priceEtherPerKWh: "0.000568" },
        ],
        metered: { wind: { exportKWh: "0.8" }, ev: { importKWh: "0.95" }, chp: { exportKWh: "0.3" }, home: { importKWh: "0.12" } },
      },
      {
        label: "b",
        bids: [
          { participant: "solar", side: "sell", energyKWh: "0.5", priceEtherPerKWh: "0.0006" },
          { participant: "wind", side: "sell", energyKWh: "0.5", priceEtherPerKWh: "0.0006" },
          { participant: "ev", side: "buy", energyKWh: "0.7", priceEtherPerKWh: "0.0008" },
          { participant: "home", side: "buy", energyKWh: "9", priceEtherPerKWh: "0.0009" },
        ],
        metered: { solar: { exportKWh: "0.45" }, wind: { exportKWh: "0.52" }, ev: { importKWh: "0.7" }, home: { importKWh: "2" } },
      },
      { label: "c", bids: [], metered: { home: { importKWh: "0.2" } } },
    ],
  };
}

describe("scenario files", function () {
  const cases: [string, unknown, RegExp][] = [
    ["a missing participants list", { intervals: [] }, /^participants: expected an array/],
    ["a duplicate name", { participants: [{ name: "a" }, { name: "a" }], intervals: [{}] }, /participants\[1\]\.name: "a" appears twice/],
    ["an unknown bidder", { participants: [{ name: "a" }], intervals: [{ bids: [{ participant: "b" }] }] }, /intervals\[0\]\.bids\[0\]\.participant: unknown participant "b"/],
    ["a bad side", { participants: [{ name: "a" }], intervals: [{ bids: [{ participant: "a", side: "hold" }] }] }, /intervals\[0\]\.bids\[0\]\.side/],
    [
      "energy finer than 1 Wh",
      { participants: [{ name: "a" }], intervals: [{ bids: [{ participant: "a", side: "buy", energyKWh: "0.0001", priceEtherPerKWh: "1" }] }] },
      /intervals\[0\]\.bids\[0\]\.energyKWh: at most 3 decimals/,
    ],
    ["a number for a decimal", { participants: [{ name: "a", depositEther: 1 }], intervals: [{}] }, /participants\[0\]\.depositEther: expected a decimal string/],
    ["an unknown market field", { market: { speed: 1 }, participants: [{ name: "a" }], intervals: [{}] }, /market\.speed: unknown field/],
    ["a bad ratio", { market: { rewardRatio: "x" }, participants: [{ name: "a" }], intervals: [{}] }, /market\.rewardRatio/],
    ["windows longer than the interval", { market: { intervalSeconds: 60, commitSeconds: 50, revealSeconds: 20 }, participants: [{ name: "a" }], intervals: [{}] }, /commitSeconds/],
    ["a metered grid", { participants: [{ name: "g", grid: true }], intervals: [{ metered: { g: { importKWh: "1" } } }] }, /intervals\[0\]\.metered\.g: the grid has no meter/],
    ["two bids of one participant", { participants: [{ name: "a" }], intervals: [{ bids: [{ participant: "a", side: "buy", energyKWh: "1", priceEtherPerKWh: "1" }, { participant: "a" }] }] }, /already bid/],
  ];
  for (const [what, json, message] of cases) {
    it(`refuses ${what}, naming the field`, function () {
      expect(() => parseScenario(json)).to.throw(ScenarioError, message);
    });
  }

  it("sizes a meter's default rating from the scenario: 1.5 times its highest interval power, in whole kW", function () {
    const scenario = (intervalSeconds: number, ratedPowerKW?: string) =>
      parseScenario({ market: { intervalSeconds, commitSeconds: 3, revealSeconds: 3, settleOffsetSeconds: 3, readingGraceSeconds: 2 }, participants: [{ name: "wind", ratedPowerKW }, { name: "grid", grid: true }], intervals: [{ metered: { wind: { exportKWh: "0.84" } } }, { metered: { wind: { importKWh: "0.1" } } }] });
    // 0.84 kWh in 900 s is 3.36 kW: rated 6 kW (5.04 rounded up); in 20 s it is 151.2 kW: rated 227 kW
    expect(scenario(900).participants[0].ratedPowerW).to.equal(6000n);
    expect(scenario(20).participants[0].ratedPowerW).to.equal(227_000n);
    expect(scenario(900).participants[1].ratedPowerW).to.equal(0n, "the grid has no meter");
    expect(() => scenario(20, "100")).to.throw(
      ScenarioError,
      "intervals[0].metered.wind: 0.84 kWh in a 20-s interval needs a meter rated at least 151.2 kW, but participants[0].ratedPowerKW is 100 (leave it out to size it from the scenario)",
    );
    expect(scenario(20, "152").participants[0].ratedPowerW).to.equal(152_000n);
    expect(() => scenario(20, "0")).to.throw(ScenarioError, "participants[0].ratedPowerKW: expected a power above 0 kW");
  });

  it("fills the paper's values where the market block is silent", function () {
    const s = parseScenario({ participants: [{ name: "a" }], intervals: [{}] });
    expect(s.market).to.include({ intervalSeconds: 900, commitSeconds: 120, revealSeconds: 60, balancingShortRatio: "1.1", penaltyRatio: "0.05", cnyPerEther: "626.2" });
    // short intervals for a real-time replay: windows of a few seconds, not the 2 s and 1 s of 2/15 and 1/15
    const short = parseScenario({ market: { intervalSeconds: 20 }, participants: [{ name: "a" }], intervals: [{}] });
    expect(short.market).to.include({ commitSeconds: 3, revealSeconds: 3 });
  });

  it("ships scenarios/paper-day.json: five users, 96 intervals, valid", function () {
    const s = parseScenario(JSON.parse(readFileSync("scenarios/paper-day.json", "utf8")));
    expect(s.participants.map((p) => p.name)).to.deep.equal(["wind", "controllable", "ev", "conventional", "grid"]);
    expect(s.intervals).to.have.length(96);
    expect(s.intervals[56].label).to.equal("14:00");
  });
});

describe("the simulator", function () {
  it("runs a scenario through the contract with the reference model's trades, settlements and wallets", async function () {
    const scenario = parseScenario(smallScenario());
    const [operator] = await hre.ethers.getSigners();
    const result = await simulate(scenario, { clock: new InProcessClock(hre.network.provider), operator });
    expect(result.intervals.map((i) => i.label)).to.deep.equal(["a", "b", "c"]);

    const wallets = new Map(participants.map((p) => [p.name, etherToWei(p.depositEther)]));
    let pool = etherToWei("1");
    const ids = new Map(participants.map((p, i) => [p.name, i + 1]));
    for (const [j, spec] of scenario.intervals.entries()) {
      const got = result.intervals[j];
      // the poor home cannot cover 9 kWh: its reveal is refused, and the commit forfeits
      const firm = spec.bids.filter((b) => !got.rejectedBids.some((r) => r.participant === b.participant));
      const bids: ModelBid[] = firm.map((b) => ({ id: ids.get(b.participant)!, side: b.side, green: participants.find((p) => p.name === b.participant)!.green ?? false, energyWh: b.energyWh, priceWeiPerKWh: b.priceWeiPerKWh }));
      const model = clearBook(bids);
      const name = (id: number) => participants[id - 1].name;
      expect(got.trades.map((t) => [t.stage, t.seller, t.buyer, t.energyKWh, t.priceEtherPerKWh, t.amountEther])).to.deep.equal(
        model.trades.map((t) => [t.stage, name(t.sellerId), name(t.buyerId), whToKWh(t.energyWh), weiToEther(t.priceWeiPerKWh), weiToEther(t.amountWei)]),
      );
      for (const t of model.trades) {
        wallets.set(name(t.sellerId), wallets.get(name(t.sellerId))! + t.amountWei);
        wallets.set(name(t.buyerId), wallets.get(name(t.buyerId))! - t.amountWei);
      }
      expect(got.averagePriceEtherPerKWh).to.equal(weiToEther(averagePrice(model, etherToWei("0.0007"))));
      // balancing and incentives use the banded price: the paper's band, the reference price 0.0007
      const A = balancingPrice(model, {
        referencePriceWeiPerKWh: etherToWei("0.0007"),
        floorPriceWeiPerKWh: BigInt(PAPER_PARAMS.floorPriceWeiPerKWh),
        capPriceWeiPerKWh: BigInt(PAPER_PARAMS.capPriceWeiPerKWh),
        minVolumeWh: BigInt(PAPER_PARAMS.minVolumeWh),
      });
      for (const p of participants.filter((x) => !x.grid)) {
        const position = positionOf(model, bids.find((b) => b.id === ids.get(p.name)));
        const e = spec.metered.get(p.name);
        const actual = (e?.exportWh ?? 0n) - (e?.importWh ?? 0n);
        const s = settleParticipant(position, actual, A, { shortRatioPpm: 1_100_000n, longRatioPpm: 900_000n, rewardRatioPpm: 10_000n, penaltyRatioPpm: 50_000n });
        expect(got.participants[p.name], `${p.name} in ${spec.label}`).to.deep.equal({
          declaredKWh: whToKWh(position?.declaredWh ?? 0n),
          clearedKWh: whToKWh(position?.clearedWh ?? 0n),
          actualKWh: whToKWh(actual),
          balancingEther: weiToEther(s.balancingWei),
          rewardEther: weiToEther(s.rewardWei),
          penaltyEther: weiToEther(s.penaltyWei),
          incentiveEther: weiToEther(s.incentiveWei),
        });
      }
    }
    // refused in words: home cannot cover 9 kWh at 0.0009 ether per kWh (0.0081 ether) plus the 0.001 ether margin
    expect(result.intervals[1].rejectedBids).to.have.length(1);
    expect(result.intervals[1].rejectedBids[0].participant).to.equal("home");
    expect(result.intervals[1].rejectedBids[0].reason, result.intervals[1].rejectedBids[0].reason).to.match(/^Not enough free funds in the market wallet of home \(#5\): this needs 0\.0081 ether, [\d.]+ ether is free\.$/);
    expect(Number(kWhToWh(result.intervals[0].trades[0].energyKWh))).to.equal(840);
    expect(pool).to.be.greaterThan(0n);
    expect(result.gas.perParticipantPerInterval).to.be.a("number");
  });

  it("binds each meter at the scenario's rating, raised only where a bid is above its energy per interval", function () {
    // sized from the metered flows (1.5 x the highest interval power, whole kW); chp's 0.69 kWh sale needs
    // 2.76 kW in 900 s and home's 9 kWh buy 36 kW, more than their flows size
    const at900 = parseScenario(smallScenario());
    const rated900 = Object.fromEntries(at900.participants.filter((p) => !p.grid).map((p) => [p.name, meterRatingW(p, at900)]));
    expect(rated900).to.deep.equal({ wind: 5_000n, solar: 3_000n, chp: 2_760n, ev: 6_000n, home: 36_000n });
    // 16-second intervals: chp's 0.69 kWh needs 155.25 kW, home's 9 kWh 2,025 kW; the others' flows size more
    const at16 = parseScenario(smallScenario({ intervalSeconds: 16, commitSeconds: 6, revealSeconds: 5, settleOffsetSeconds: 3, readingGraceSeconds: 2 }));
    const rated = new Map(at16.participants.filter((p) => !p.grid).map((p) => [p.name, meterRatingW(p, at16)]));
    expect(Object.fromEntries(rated)).to.deep.equal({ wind: 270_000n, solar: 152_000n, chp: 155_250n, ev: 321_000n, home: 2_025_000n });
    for (const [name, w] of rated) {
      const largest = at16.intervals.flatMap((i) => i.bids).filter((b) => b.participant === name).reduce((m, b) => (b.energyWh > m ? b.energyWh : m), 0n);
      expect((w * 16n) / 3600n, name).to.be.greaterThanOrEqual(largest);
    }
  });

  it("refuses a scenario whose deposit does not cover a meter's security, naming the participant", async function () {
    const json = smallScenario();
    json.participants[4] = { name: "home", depositEther: "0.02" };
    const [operator] = await hre.ethers.getSigners();
    let error: unknown;
    await simulate(parseScenario(json), { clock: new InProcessClock(hre.network.provider), operator }).catch((e) => (error = e));
    expect(error).to.be.instanceOf(ScenarioError);
    expect((error as Error).message).to.equal(
      'participants[4] ("home"): its meter cannot be bound: depositEther must cover the security of its 36 kW meter, 0.02484 ether (two intervals of its rated energy short at the cap price)',
    );
  });

  it("gives identical results on a real node in real time (anvil, 16-second intervals)", async function () {
    this.timeout(240_000);
    const dir = mkdtempSync(join(tmpdir(), "sim-"));
    const market = { intervalSeconds: 16, commitSeconds: 6, revealSeconds: 5, settleOffsetSeconds: 3, readingGraceSeconds: 2 };
    const file = join(dir, "scenario.json");
    writeFileSync(file, JSON.stringify(smallScenario(market)));
    const anvil = await Anvil.start(["--hardfork", "london", "--block-time", "1"]);
    try {
      const env = { ...process.env, LOCALHOST_RPC_URL: anvil.url };
      await run("npx", ["hardhat", "simulate", "--network", "localhost", "--scenario", file, "--out", join(dir, "live"), "--quiet"], { env, timeout: 200_000 });
      await run("npx", ["hardhat", "simulate", "--scenario", file, "--out", join(dir, "inprocess"), "--quiet"], { timeout: 120_000 });
    } finally {
      await anvil.stop();
    }
    const live = JSON.parse(readFileSync(join(dir, "live", "result.json"), "utf8"));
    const local = JSON.parse(readFileSync(join(dir, "inprocess", "result.json"), "utf8"));
    expect(live.intervals.flatMap((i: { trades: unknown[] }) => i.trades)).to.have.length.greaterThan(3);
    for (const k of ["market", "participants", "intervals", "wallets", "incentivePoolEther", "owed"]) {
      expect(live[k], k).to.deep.equal(local[k]);
    }
  });
});
