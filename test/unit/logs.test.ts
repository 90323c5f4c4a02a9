/**
 * LogDecoder: decodes the market's raw logs by topic, and reads integer fields straight from a
 * log's words (the portal's bulk read of a day of settlements) exactly as the full decode does.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { LogDecoder, RawEventLog, clearUntilDone } from "../../lib/market";
import { buy, paperFixture, placeBids, sell, settleThrough, toSettlement, loadFixture } from "../shared/fixtures";
import { postAt } from "./helpers";

const D = 2;
const P = 10n ** 12n;

describe("LogDecoder", function () {
  /** A settled interval with a long seller, a buyer and a short participant without a bid. */
  async function settledFixture() {
    const f = await paperFixture();
    const { market, actors } = f;
    const { wind, ev, conventional } = actors;
    await placeBids(market, D, [sell(wind, 1000n, 600n * P), buy(ev, 600n, 800n * P)]);
    await clearUntilDone(market, D);
    for (const a of [wind, ev, conventional]) await postAt(market, a, 1, 0n, 0n);
    await postAt(market, wind, D, 0n, 800n);
    await postAt(market, ev, D, 650n, 0n);
    await postAt(market, conventional, D, 300n, 0n);
    await settleThrough(market, 1, [wind.id, ev.id, conventional.id]);
    await toSettlement(market, D);
    await market.settle(D, [wind.id, ev.id, conventional.id]);
    const raw: RawEventLog[] = await ethers.provider.send("eth_getLogs", [{ address: await market.getAddress(), fromBlock: "0x0", toBlock: "latest" }]);
    return { ...f, raw, decoder: new LogDecoder(market.interface) };
  }

  it("decodes every market log as Interface.parseLog does, and returns null for another contract's topic", async function () {
    const { market, raw, decoder } = await loadFixture(settledFixture);
    expect(raw.length).to.be.greaterThan(20);
    for (const log of raw) {
      const mine = decoder.decode(log)!;
      const theirs = market.interface.parseLog(log)!;
      expect([mine.name, mine.topic, mine.args.toArray()]).to.deep.equal([theirs.name, theirs.topic, theirs.args.toArray()]);
    }
    expect(decoder.decode({ topics: [ethers.id("Transfer(address,address,uint256)")], data: "0x" })).to.equal(null);
  });

  it("reads every integer field of ParticipantSettled from topics and data words, negative values included", async function () {
    const { market, raw, decoder } = await loadFixture(settledFixture);
    const topic = market.interface.getEvent("ParticipantSettled").topicHash;
    const settled = raw.filter((l) => l.topics[0] === topic);
    expect(settled).to.have.length(6); // interval 1 and interval D, three participants each
    const fields = ["interval", "id", "declaredWh", "clearedWh", "actualWh", "balancingWei", "rewardWei", "incentiveWei"];
    const readers = fields.map((f) => decoder.intField("ParticipantSettled", f));
    const read = settled.map((l) => readers.map((r) => r(l)));
    const decoded = settled.map((l) => fields.map((f) => BigInt(market.interface.parseLog(l)!.args[f])));
    expect(read).to.deep.equal(decoded);
    // the buyer's negative declared and cleared energy, and some negative balancing, came through
    expect(read.some((row) => row[2] < 0n && row[3] < 0n)).to.equal(true);
    expect(read.some((row) => row[5] < 0n)).to.equal(true);
  });

  it("refuses a field that is not an integer, or an unknown event or field, when the reader is made", async function () {
    const { decoder } = await loadFixture(settledFixture);
    expect(() => decoder.intField("ParticipantSettled", "readingMissing")).to.throw("ParticipantSettled.readingMissing is not an integer field");
    expect(() => decoder.intField("ParticipantSettled", "nope")).to.throw("ParticipantSettled.nope is not an integer field");
    expect(() => decoder.intField("ParticipantRegistered", "name")).to.throw("ParticipantRegistered.name is not an integer field");
    expect(() => decoder.intField("NoSuchEvent", "x")).to.throw();
  });
});
