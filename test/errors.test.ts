/**
 * lib/errors.ts, the market's custom errors in words: every error of the contract's ABI has its
 * sentence (a new error fails here until it gets one), amounts read in ether and kWh, phases by
 * name and interval windows in local time.
 */
import { expect } from "chai";
import { EnergyMarket__factory } from "../typechain-types";
import { MARKET_ERRORS, explainMarketError, explainRevert } from "../lib/errors";
import { localTime, windowsOf } from "../lib/clock";

const schedule = { startTime: 1_700_000_100, intervalSeconds: 900, commitSeconds: 120, revealSeconds: 60, settleOffsetSeconds: 600, readingGraceSeconds: 300 };

describe("the market's errors in words", function () {
  it("has a sentence for every custom error of the contract", function () {
    const abi: string[] = [];
    EnergyMarket__factory.createInterface().forEachError((e) => abi.push(e.name));
    expect(abi.length).to.be.greaterThan(30);
    expect(abi.filter((name) => !(name in MARKET_ERRORS)), "errors without words").to.deep.equal([]);
  });

  it("gives every error a sentence without raw wei or phase numbers, whatever its arguments", function () {
    const iface = EnergyMarket__factory.createInterface();
    iface.forEachError((e) => {
      // wei amounts and prices are uint256/uint128, energies and meter numbers uint64, IDs and intervals uint32, phases uint8
      const value: Record<string, unknown> = { address: "0x" + "12".repeat(20), uint256: 1234567890123456789n, uint128: 1234567890123456789n, uint64: 840n, uint32: 7n, uint8: 2n };
      const args = e.inputs.map((i) => value[i.type]);
      const words = explainRevert({ name: e.name, args }, { schedule });
      expect(words, e.name).to.match(/^[A-Z0-9].*\.$/);
      expect(words, e.name).not.to.include("1234567890123456789", "an amount in wei");
      expect(words, e.name).not.to.match(/phase \d/);
      expect(words, e.name).not.to.match(/\w+\(.*\)\.$/);
    });
  });

  it("reads amounts in ether and kWh, names participants and phases, and gives windows in local time", function () {
    expect(explainRevert({ name: "InsufficientFunds", args: [3n, 5n * 10n ** 18n, 0n] })).to.equal("Not enough free funds in the market wallet of participant #3: this needs 5 ether, 0 ether is free.");
    expect(explainRevert({ name: "HasDebt", args: [4n, 12n * 10n ** 12n] }, { name: (id) => (id === 4 ? "conventional" : undefined) })).to.equal(
      "Conventional (#4) owes 0.000012 ether from earlier settlements: deposit to pay it before bidding.",
    );
    expect(explainRevert({ name: "ImplausibleReading", args: [840n, 555n] })).to.match(/^The reading rises by 0\.84 kWh, more than .* \(at most 0\.555 kWh\)/);
    const w = windowsOf(schedule, 7);
    expect(explainRevert({ name: "WrongPhase", args: [7n, 2n] }, { schedule })).to.equal(
      `Interval 7 is revealing its bids (its sealed bids are taken ${localTime(w.commitStart)}–${localTime(w.revealStart)} and revealed until ${localTime(w.revealEnd)}, local time): this is not possible now.`,
    );
    expect(explainRevert({ name: "PriceTooHigh", args: [2n * 10n ** 18n, 10n ** 18n] }, { ether: (wei) => `${Number(wei) / 1e18} ETH` })).to.equal(
      "2 ETH per kWh is above the market's highest price of 1 ETH per kWh.",
    );
  });

  it("decodes a revert however the provider reported it, and leaves other errors alone", function () {
    const data = EnergyMarket__factory.createInterface().encodeErrorResult("ZeroAmount", []);
    expect(explainMarketError({ data })).to.equal("The amount must be more than zero.");
    expect(explainMarketError({ message: "reverted with custom error 'ZeroAmount()'" })).to.equal("The amount must be more than zero.");
    expect(explainMarketError(new Error("socket hang up"))).to.equal(undefined);
  });

  it("names an error it has no words for with its arguments, so nothing is hidden", function () {
    expect(explainRevert({ name: "SomethingNew", args: [1n, "x"] })).to.equal("The market refused: SomethingNew(1, x).");
  });
});
