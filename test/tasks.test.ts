/**
 * The operator's and prosumers' tasks, run as Hardhat tasks on the in-process network: what they
 * print, what they change, and the one-line errors for bad arguments.
 */
import { expect } from "chai";
import hre from "hardhat";
import { mkdtempSync, readFileSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HardhatPluginError } from "hardhat/plugins";
import { attachMarket } from "../lib/market";

/** Run a task with --json and return what it printed, parsed. */
async function run(name: string, args: Record<string, unknown> = {}): Promise<any> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...xs: unknown[]) => lines.push(xs.join(" "));
  try {
    await hre.run(name, { json: true, ...args });
  } finally {
    console.log = log;
  }
  return JSON.parse(lines.join("\n"));
}

/** Run a task expecting a user error; returns its message. */
async function refused(name: string, args: Record<string, unknown> = {}): Promise<string> {
  try {
    await run(name, args);
  } catch (e) {
    expect(e, String(e)).to.be.instanceOf(HardhatPluginError);
    return (e as Error).message;
  }
  throw new Error(`${name} did not refuse ${JSON.stringify(args)}`);
}

describe("operations tasks (in-process network)", function () {
  const dir = mkdtempSync(join(tmpdir(), "tasks-"));
  const saltDir = join(dir, "salts");
  before(() => {
    process.env.MARKET_DEPLOYMENT = join(dir, "deployment.json");
  });
  after(() => {
    delete process.env.MARKET_DEPLOYMENT;
  });

  it("status before any deployment says how to deploy", async function () {
    expect(await refused("status")).to.match(/no market deployed on "hardhat".*npx hardhat deploy/);
  });

  it("deploy writes the deployment file with the market, libraries and schedule", async function () {
    const out = await run("deploy", { interval: 900 });
    const file = JSON.parse(readFileSync(process.env.MARKET_DEPLOYMENT!, "utf8"));
    expect(file.market).to.equal(out.market);
    expect(await hre.ethers.provider.getCode(file.market)).to.not.equal("0x");
    expect(await hre.ethers.provider.getCode(file.libraries.Clearing)).to.not.equal("0x");
    expect(file.schedule).to.include({ intervalSeconds: 900, commitSeconds: 120, revealSeconds: 60, settleOffsetSeconds: 600, readingGraceSeconds: 300 });
    expect(file.schedule.startTime % 900).to.equal(0);
  });

  it("deploy refuses bad parameters with the field named", async function () {
    expect(await refused("deploy", { interval: 900, short: "1.1.1" })).to.match(/balancingShortRatio/);
    expect(await refused("deploy", { interval: 900, commit: 800, reveal: 200 })).to.match(/commitSeconds \+ market.revealSeconds/);
  });

  it("registers, authorizes, binds meters, funds wallets, bids sealed and reveals, and shows it in status and history", async function () {
    const signers = await hre.ethers.getSigners();
    const seller = await run("register", { name: "wind", green: true, account: 2 });
    const buyer = await run("register", { name: "ev", green: true, account: 3 });
    expect([seller.id, buyer.id]).to.deep.equal(["1", "2"]);
    expect((await run("grid:register", { address: signers[4].address })).id).to.equal("3");
    for (const [who, meter, account] of [[1, "100000000001", 10], [2, "100000000002", 11]] as const) {
      expect((await run("authorize", { participant: String(who) })).authorized).to.equal(true);
      await run("meter:propose", { participant: String(who), meter, account: signers[account].address, ratedKw: "50" });
    }
    // a 50 kW meter keeps 2 × 12.5 kWh × 0.0012 ether/kWh × 1.15 in the wallet: deposit before accepting it
    expect(await refused("meter:accept", { account: 2 })).to.equal("the meter's security is 0.0345 ether and the wallet has 0 ether free: deposit 0.0345 ether first");
    const dep = await run("deposit", { amount: "1.5", account: 3 });
    expect(dep.balanceWei).to.equal((15n * 10n ** 17n).toString());
    await run("deposit", { amount: "1", account: 2 });
    for (const [account, meter] of [[2, "100000000001"], [3, "100000000002"]] as const) {
      expect((await run("meter:accept", { account })).meter).to.equal(meter);
    }
    expect(await refused("meter:accept", { account: 2 })).to.match(/no meter proposal waits for participant 1 \(the operator proposes one with meter:propose\)/);

    const market = attachMarket(JSON.parse(readFileSync(process.env.MARKET_DEPLOYMENT!, "utf8")).market, signers[0]);
    // the commit window of the next interval: start of the current one
    const [start, len] = await market.schedule();
    const now = BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp);
    await hre.network.provider.send("evm_setNextBlockTimestamp", [Number(start + ((now - start) / len + 1n) * len)]);
    await hre.network.provider.send("evm_mine", []);

    const sold = await run("bid", { side: "sell", energy: "0.43", price: "0.0007", account: 2, saltDir });
    const d = sold.interval;
    expect(sold.reveal.tx).to.match(/^0x/);
    expect((await market.bidOf(d, 1)).revealed).to.equal(true);
    // a second bidder can no longer commit (reveal window): a one-line refusal naming the contract error
    expect(await refused("bid", { side: "buy", energy: "0.3", price: "0.0009", account: 3, saltDir })).to.match(/WrongPhase/);

    const status = await run("status");
    expect(status.intervals.map((i: { interval: number; phase: string }) => [i.interval, i.phase])).to.deep.include([d, "Reveal"]);
    expect(readdirSync(saltDir)).to.deep.equal([]);
  });

  it("a bid committed without reveal is revealed later from the salt file by bid:reveal", async function () {
    const signers = await hre.ethers.getSigners();
    const market = attachMarket(JSON.parse(readFileSync(process.env.MARKET_DEPLOYMENT!, "utf8")).market, signers[0]);
    const d = Number(await market.currentInterval()) + 2;
    await hre.network.provider.send("evm_setNextBlockTimestamp", [Number((await market.intervalOf(d)).commitStart)]);
    await hre.network.provider.send("evm_mine", []);
    const bought = await run("bid", { side: "buy", energy: "0.3", price: "0.0009", account: 3, saltDir, noReveal: true });
    expect(bought.interval).to.equal(d);
    expect(readdirSync(saltDir)).to.have.length(1);
    expect((await market.bidOf(d, 2)).committed).to.equal(true);
    const revealed = await run("bid:reveal", { account: 3, saltDir });
    expect(revealed.map((r: { interval: number }) => r.interval)).to.deep.equal([d]);
    expect((await market.bidOf(d, 2)).revealed).to.equal(true);
    expect(existsSync(join(saltDir, `${signers[3].address.toLowerCase()}-${d}.json`))).to.equal(false);
  });

  it("history lists an interval's trades from the events", async function () {
    const signers = await hre.ethers.getSigners();
    const market = attachMarket(JSON.parse(readFileSync(process.env.MARKET_DEPLOYMENT!, "utf8")).market, signers[0]);
    const d = Number(await market.currentInterval()) + 2;
    await hre.network.provider.send("evm_setNextBlockTimestamp", [Number((await market.intervalOf(d)).commitStart)]);
    await hre.network.provider.send("evm_mine", []);
    await run("bid", { side: "sell", energy: "0.25", price: "0.0007", account: 2, saltDir, noReveal: true });
    await run("bid", { side: "buy", energy: "0.25", price: "0.000786", account: 3, saltDir, noReveal: true });
    await run("bid:reveal", { account: 2, saltDir });
    await run("bid:reveal", { account: 3, saltDir });
    await hre.network.provider.send("evm_setNextBlockTimestamp", [Number((await market.intervalOf(d)).revealEnd)]);
    await hre.network.provider.send("evm_mine", []);
    await market.clear(d, 50);
    const h = await run("history", { interval: d });
    expect(h.trades.map((t: Record<string, string>) => [t.stage, t.seller, t.buyer, t.energyKWh, t.priceEtherPerKWh])).to.deep.equal([
      ["green", "wind", "ev", "0.25", "0.000743"],
    ]);
    const mine = await run("history", { participant: "2" });
    expect(mine.trades).to.have.length(1);
  });

  it("bad arguments get a message naming them, never a stack trace", async function () {
    expect(await refused("bid", { side: "hold", energy: "1", price: "0.0007", account: 2, saltDir })).to.match(/--side/);
    expect(await refused("bid", { side: "sell", energy: "0.0001", price: "0.0007", account: 2, saltDir })).to.match(/--energy: at most 3 decimals/);
    expect(await refused("deposit", { amount: "lots", account: 2 })).to.match(/--amount: expected a decimal string/);
    expect(await refused("deposit", { amount: "1" })).to.match(/exactly one of --key-file, --keystore .* or --account/);
    expect(await refused("deposit", { amount: "1", account: 99 })).to.match(/--account 99: there are 40 development accounts/);
    expect(await refused("history")).to.match(/give --interval, --participant or both/);
    expect(await refused("authorize", { participant: "42" })).to.match(/no participant with ID 42/);
    expect(await refused("meter:propose", { participant: "1", meter: "12ab", account: "0x0" })).to.match(/--meter/);
    expect(await refused("meter:propose", { participant: "1", meter: "42", account: hre.ethers.ZeroAddress.replace(/0$/, "1"), openImportKwh: "-1" })).to.match(/--open-import-kwh/);
    expect(await refused("meter:accept", { account: 9 })).to.match(/is not registered/);
    expect(await refused("withdraw", { amount: "1000", account: 2 })).to.match(/InsufficientFunds/);
    expect(await refused("register", { name: "wind", account: 2 })).to.match(/AlreadyRegistered/);
  });
});
