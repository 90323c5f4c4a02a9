/**
 * The operator's and prosumers' tasks, run as Hardhat tasks on the in-process network: what they
 * print, what they change, and the one-line errors for bad arguments.
 */
import { expect } from "chai";
import hre from "hardhat";
import { mkdtempSync, readFileSync, existsSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Wallet } from "ethers";
import { attachMarket } from "../lib/market";
import { weiToEther } from "../lib/units";
import { CliError } from "../tasks/cli";

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

/** Run a task with text output; returns what it printed on stdout and stderr. */
async function text(name: string, args: Record<string, unknown> = {}): Promise<{ out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const write = process.stderr.write;
  console.log = (...xs: unknown[]) => out.push(xs.join(" "));
  process.stderr.write = ((chunk: string) => (err.push(String(chunk)), true)) as unknown as typeof process.stderr.write;
  try {
    await hre.run(name, { json: false, ...args });
  } finally {
    console.log = log;
    process.stderr.write = write;
  }
  return { out: out.join("\n"), err: err.join("") };
}

/** Run a task expecting a user error: one line meant for the user, never a stack. Returns it. */
async function refused(name: string, args: Record<string, unknown> = {}): Promise<string> {
  try {
    await run(name, args);
  } catch (e) {
    expect(e, String((e as Error).stack)).to.be.instanceOf(CliError);
    expect((e as Error).message, "one line").not.to.include("\n");
    return (e as Error).message;
  }
  throw new Error(`${name} did not refuse ${JSON.stringify(args)}`);
}

const deploymentFile = () => JSON.parse(readFileSync(process.env.MARKET_DEPLOYMENT!, "utf8"));
const chainTime = async () => (await hre.ethers.provider.getBlock("latest"))!.timestamp;
async function warp(t: bigint | number) {
  if (BigInt(await chainTime()) >= BigInt(t)) return;
  await hre.network.provider.send("evm_setNextBlockTimestamp", [Number(t)]);
  await hre.network.provider.send("evm_mine", []);
}
const localTime = (t: bigint | number) => new Date(Number(t) * 1000).toLocaleTimeString("en-GB", { hour12: false });

describe("operations tasks (in-process network)", function () {
  const dir = mkdtempSync(join(tmpdir(), "tasks-"));
  const saltDir = join(dir, "salts");
  before(() => {
    process.env.MARKET_DEPLOYMENT = join(dir, "deployment.json");
  });
  after(() => {
    delete process.env.MARKET_DEPLOYMENT;
  });
  const market = async () => attachMarket(deploymentFile().market, (await hre.ethers.getSigners())[0]);

  it("status before any deployment says how to deploy", async function () {
    expect(await refused("status")).to.match(/no market deployed on "hardhat".*npx hardhat deploy/);
  });

  it("deploy writes the deployment file with the market, libraries, schedule and what identifies the chain", async function () {
    const out = await run("deploy", { interval: 900 });
    const file = deploymentFile();
    expect(file.market).to.equal(out.market);
    expect(await hre.ethers.provider.getCode(file.market)).to.not.equal("0x");
    expect(await hre.ethers.provider.getCode(file.libraries.Clearing)).to.not.equal("0x");
    expect(file.schedule).to.include({ intervalSeconds: 900, commitSeconds: 120, revealSeconds: 60, settleOffsetSeconds: 600, readingGraceSeconds: 300 });
    expect(file.schedule.startTime % 900).to.equal(0);
    expect(file.genesisHash).to.equal((await hre.ethers.provider.getBlock(0))!.hash);
    expect(file.codeHash).to.equal(hre.ethers.keccak256(await hre.ethers.provider.getCode(file.market)));
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
    const m0 = await market();
    for (const [who, meter, account] of [[1, "100000000001", 10], [2, "100000000002", 11]] as const) {
      expect((await run("authorize", { participant: String(who) })).authorized).to.equal(true);
      await run("meter:propose", { participant: String(who), meter, account: signers[account].address, ratedKw: "50" });
    }
    expect((await m0.meterOf(1)).meterNumber).to.equal(0n, "proposed, not bound");
    // a 50 kW meter keeps 2 × 12.5 kWh × 0.0012 ether/kWh × 1.15 in the wallet: deposit before accepting it
    expect(await refused("meter:accept", { meter: "100000000001", account: 2 })).to.equal(
      `meter 100000000001 (account ${signers[10].address}, rated 50 kW) keeps a security of 0.0345 ether in the market wallet of participant 1 (wind), which has 0 ether free: deposit 0.0345 ether first (\`npx hardhat deposit\`)`,
    );
    const dep = await run("deposit", { amount: "1.5", account: 3 });
    expect(dep.balanceWei).to.equal((15n * 10n ** 17n).toString());
    await run("deposit", { amount: "1", account: 2 });
    expect(await refused("meter:accept", { meter: "100000000002", account: 2 })).to.equal(
      `the operator proposed meter 100000000001 (account ${signers[10].address}, rated 50 kW) to participant 1 (wind), not meter 100000000002: nothing was accepted`,
    );
    for (const [account, meter] of [[2, "100000000001"], [3, "100000000002"]] as const) {
      const accepted = await run("meter:accept", { meter, account });
      expect([accepted.meter, accepted.securityWei]).to.deep.equal([meter, (345n * 10n ** 14n).toString()]);
    }
    expect((await m0.meterOf(1)).meterNumber).to.equal(100000000001n);
    expect(await refused("meter:accept", { meter: "100000000001", account: 2 })).to.equal("no meter proposal waits for participant 1 (wind): the operator proposes one first (`npx hardhat meter:propose`)");

    const m = await market();
    // the commit window of the next interval: start of the current one
    const [start, len] = await m.schedule();
    const now = BigInt(await chainTime());
    await warp(start + ((now - start) / len + 1n) * len);

    // 12.5 kWh in an interval at most for a 50 kW meter
    expect(await refused("bid", { side: "sell", energy: "13", price: "0.0007", account: 2, saltDir, noWait: true })).to.equal("--energy: the meter of participant 1 (wind) is rated 50 kW, at most 12.5 kWh in one interval, not 13");
    const sold = await run("bid", { side: "sell", energy: "0.43", price: "0.0007", account: 2, saltDir });
    const d = sold.interval;
    expect(sold.reveal.tx).to.match(/^0x/);
    expect((await m.bidOf(d, 1)).revealed).to.equal(true);
    // in the reveal window, --no-wait does not commit and says when the next window opens, in local time
    const next = await m.intervalOf(d + 1);
    const message = await refused("bid", { side: "buy", energy: "0.3", price: "0.0009", account: 3, saltDir, noWait: true });
    expect(message).to.equal(
      `sealed bids for interval ${d} were taken ${localTime((await m.intervalOf(d)).commitStart)}–${localTime((await m.intervalOf(d)).revealStart)} local time; the next window, for interval ${d + 1}, opens at ${localTime(next.commitStart)} (in ${message.match(/\(in ([^)]+)\)/)![1]}): run without --no-wait to wait for it`,
    );
    expect((await m.bidOf(d, 2)).committed).to.equal(false);

    const status = await run("status");
    expect(status.intervals.map((i: { interval: number; phase: string }) => [i.interval, i.phase])).to.deep.include([d, "Reveal"]);
    expect(readdirSync(saltDir)).to.deep.equal([]);
  });

  it("bid outside the commit window waits for the next one, saying when it opens, then commits and reveals", async function () {
    const m = await market();
    const current = Number(await m.currentInterval());
    await warp((await m.intervalOf(current + 1)).revealEnd); // past this interval's window
    const expected = current + 2;
    const opens = (await m.intervalOf(expected)).commitStart;
    const { out, err } = await text("bid", { side: "buy", energy: "0.3", price: "0.0009", account: 3, saltDir });
    expect(err).to.match(new RegExp(`sealed bids for interval ${expected} open at ${localTime(opens)} local time, in \\d+ min \\d+ s: waiting`));
    expect(out).to.include(`committed a sealed buy of 0.3 kWh at 0.0009 ether per kWh for interval ${expected}`);
    expect(out).to.match(/revealed \(tx 0x/);
    expect((await m.bidOf(expected, 2)).revealed).to.equal(true);
  });

  it("a bid committed without reveal is revealed later from the salt file by bid:reveal", async function () {
    const signers = await hre.ethers.getSigners();
    const m = await market();
    const d = Number(await m.currentInterval()) + 2;
    await warp((await m.intervalOf(d)).commitStart);
    const bought = await run("bid", { side: "buy", energy: "0.3", price: "0.0009", account: 3, saltDir, noReveal: true });
    expect(bought.interval).to.equal(d);
    expect(readdirSync(saltDir)).to.have.length(1);
    expect((await m.bidOf(d, 2)).committed).to.equal(true);
    const revealed = await run("bid:reveal", { account: 3, saltDir });
    expect(revealed.map((r: { interval: number }) => r.interval)).to.deep.equal([d]);
    expect((await m.bidOf(d, 2)).revealed).to.equal(true);
    expect(existsSync(join(saltDir, `${signers[3].address.toLowerCase()}-${d}.json`))).to.equal(false);
  });

  it("bid:reveal after the reveal window says the bid was forfeited and how much, fails, and keeps the file", async function () {
    const signers = await hre.ethers.getSigners();
    const m = await market();
    const d = Number(await m.currentInterval()) + 2;
    await warp((await m.intervalOf(d)).commitStart);
    await run("bid", { side: "sell", energy: "0.2", price: "0.0007", account: 2, saltDir, noReveal: true });
    await warp((await m.intervalOf(d)).revealEnd);
    const file = join(saltDir, `${signers[2].address.toLowerCase()}-${d}.json`);
    expect(await refused("bid:reveal", { account: 2, saltDir })).to.match(
      new RegExp(`^the sealed bid for interval ${d} was not revealed in its window \\(.*local time\\): it is forfeited, 0\\.01575 ether goes from the wallet to the incentive pool; its salt stays in .*${d}\\.json$`),
    );
    expect(JSON.parse(readFileSync(file, "utf8"))).to.include({ interval: d, forfeitedWei: "15750000000000000" }); // 12.5 kWh × 0.0012 ether/kWh × 1.05
    expect(await run("bid:reveal", { account: 2, saltDir })).to.deep.equal([], "told once; the file stays");
    expect(existsSync(file)).to.equal(true);
  });

  it("history lists an interval's trades from the events; status says it in words", async function () {
    const m = await market();
    const d = Number(await m.currentInterval()) + 2;
    await warp((await m.intervalOf(d)).commitStart);
    // a participant keeps four intervals of bids, so wind and ev bid for d once d - 4 and before are settled:
    // cleared and settled here as the cycle daemon does (no readings: the grace periods are over)
    for (let k = 1; k <= d - 4; k++) {
      await run("clear", { interval: String(k) });
      const settled = await run("settle", { interval: String(k) });
      expect(settled.rejected, `interval ${k}`).to.deep.equal([]);
    }
    // nothing is sent for an id the market would skip
    await run("clear", { interval: String(d - 2) });
    const operatorNonce = await hre.ethers.provider.getTransactionCount((await hre.ethers.getSigners())[0].address);
    expect(await refused("settle", { interval: "1", ids: "1" })).to.equal("--ids: participant 1 is already settled for interval 1");
    expect(await refused("settle", { interval: String(d - 2), ids: "2" })).to.equal(`--ids: participant 2 is settled interval after interval, and interval ${d - 3} comes first`);
    expect(await hre.ethers.provider.getTransactionCount((await hre.ethers.getSigners())[0].address)).to.equal(operatorNonce);
    await run("bid", { side: "sell", energy: "0.25", price: "0.0007", account: 2, saltDir, noReveal: true });
    await run("bid", { side: "buy", energy: "0.25", price: "0.000786", account: 3, saltDir, noReveal: true });
    await run("bid:reveal", { account: 2, saltDir });
    await run("bid:reveal", { account: 3, saltDir });
    await warp((await m.intervalOf(d)).revealEnd);
    await m.clear(d, 50);
    const h = await run("history", { interval: d });
    expect(h.trades.map((t: Record<string, string>) => [t.stage, t.seller, t.buyer, t.energyKWh, t.priceEtherPerKWh])).to.deep.equal([
      ["green", "wind", "ev", "0.25", "0.000743"],
    ]);
    const mine = await run("history", { participant: "2" });
    expect(mine.trades).to.have.length(1);

    const { out } = await text("status", { interval: d });
    expect(out).to.match(new RegExp(`interval ${d} \\(delivered \\d\\d:\\d\\d–\\d\\d:\\d\\d\\): cleared, 1 trade, 0\\.25 kWh at 0\\.000743 ether/kWh on average; delivery starts at \\d\\d:\\d\\d:\\d\\d, settlement opens at \\d\\d:\\d\\d:\\d\\d`));
    // the penalties of the settled intervals (wind's sale was never metered) went into the pool
    const [pool] = await m.pool();
    expect(pool).to.be.greaterThan(0n);
    expect(out).to.include(`incentive pool ${weiToEther(pool)} ether`);
    expect(out).not.to.match(/#\d+ at \d+|NotStarted|Clearing,/);
  });

  it("status says who is behind in settlement, in words", async function () {
    const m = await market();
    await warp((await m.intervalOf(Number(await m.currentInterval()) + 3)).commitStart);
    const { out } = await text("status");
    expect(out).to.match(/settlement behind: wind \(#1\) next settles interval \d+; ev \(#2\) next settles interval \d+/);
  });

  it("meter:propose takes a meter number of exactly 12 digits, proposes replacing a bound meter only with --replace, and binds nothing until meter:accept", async function () {
    const signers = await hre.ethers.getSigners();
    const m = await market();
    const nonce = await hre.ethers.provider.getTransactionCount(signers[0].address);
    expect(await refused("meter:propose", { participant: "1", meter: "12345", account: signers[12].address })).to.equal(
      '--meter: a meter number is exactly 12 digits (its DL/T 645 address, e.g. 000000000042), got "12345"',
    );
    expect(await refused("meter:propose", { participant: "1", meter: "000000000000", account: signers[12].address })).to.match(/not a meter number/);
    expect(await refused("meter:propose", { participant: "1", meter: "100000000009", account: signers[12].address })).to.equal(
      `participant 1 (wind) already has meter 100000000001 (account ${signers[10].address}) bound; give --replace to propose replacing it`,
    );
    expect(await refused("meter:propose", { participant: "1", meter: "100000000001", account: signers[12].address })).to.match(/already has meter 100000000001 .* bound; give --replace/);
    expect(await refused("meter:propose", { participant: "1", meter: "100000000009", account: signers[12].address, replace: true })).to.equal(
      "replacing meter 100000000001 needs its closing registers, --close-import-kwh and --close-export-kwh (it read 0 and 0 kWh when it was bound)",
    );
    expect(await refused("meter:propose", { participant: "1", meter: "100000000001", account: signers[10].address, ratedKw: "60", openImportKwh: "5" })).to.match(
      /^meter 100000000001 already serves participant 1 \(wind\) and goes on with its register series: leave out the opening and closing registers$/,
    );
    expect(await refused("meter:propose", { participant: "3", meter: "100000000003", account: signers[13].address })).to.equal("participant 3 (grid) is the public grid, which has no meter");
    expect(await refused("meter:propose", { participant: "1", meter: "100000000009", account: signers[12].address, ratedKw: "10001" })).to.equal("--rated-kw: the market takes meters rated up to 10000 kW, not 10001 kW");
    // a meter and its account serve one participant: ev's meter cannot be proposed to home
    await run("register", { name: "home", account: 5 });
    const release = "a meter serves one participant: the operator releases it there first (`npx hardhat meter:release`), once everything it measured is settled";
    expect(await refused("meter:propose", { participant: "4", meter: "100000000002", account: signers[13].address })).to.equal(`meter 100000000002 serves participant 2 (ev); ${release}`);
    expect(await refused("meter:propose", { participant: "4", meter: "100000000004", account: signers[11].address })).to.equal(`account ${signers[11].address} is the meter account of participant 2 (ev); ${release}`);
    expect(await hre.ethers.provider.getTransactionCount(signers[0].address)).to.equal(nonce, "nothing was sent");

    const proposed = await run("meter:propose", { participant: "1", meter: "100000000009", account: signers[12].address, ratedKw: "50", replace: true, closeImportKwh: "0", closeExportKwh: "0" });
    expect(proposed).to.include({ meter: "100000000009", securityWei: (345n * 10n ** 14n).toString(), replacedProposal: false });
    expect((await m.meterOf(1)).meterNumber).to.equal(100000000001n, "nothing is bound before the prosumer accepts");
    const accepted = await run("meter:accept", { meter: "100000000009", account: 2 });
    expect(accepted.proposal).to.equal(proposed.proposal);
    expect((await m.meterOf(1)).meterNumber).to.equal(100000000009n);
    // released once settled: wind still has bids to settle
    expect(await refused("meter:release", { participant: "1" })).to.match(/^Participant #1 still has bids or readings to settle from interval \d+ on: its meter is released once they are settled\.$/);
  });

  it("reading:post posts a meter's registers signed by the meter account, and explains a refusal in words", async function () {
    const m = await market();
    const d = Number(await m.currentInterval()) - 1;
    const posted = await run("reading:post", { meter: "100000000002", importKwh: "1.5", exportKwh: "0", interval: String(d), account: 11 });
    expect(posted).to.include({ meter: "100000000002", interval: d, alreadyPosted: false });
    const r = await m.readingOf(2, d);
    expect([r.posted, r.importWh, r.exportWh]).to.deep.equal([true, 1500n, 0n]);
    expect((await run("reading:post", { meter: "100000000002", importKwh: "1.5", exportKwh: "0", interval: String(d), account: 11 })).alreadyPosted).to.equal(true);
    expect(await refused("reading:post", { meter: "100000000002", importKwh: "1.6", exportKwh: "0", interval: String(d), account: 11 })).to.equal(
      `A different reading of participant #2 for interval ${d} was already posted.`,
    );
    expect(await refused("reading:post", { meter: "100000000002", importKwh: "1.6", exportKwh: "0", interval: String(d), account: 12 })).to.match(/is not the meter bound to this meter account/);
  });

  it("keystore:new writes an encrypted keystore that --keystore signs with, funds it on a development network, never overwrites", async function () {
    const out = join(dir, "wind.json");
    const pw = join(dir, "wind.pw");
    writeFileSync(pw, "a long secret\n");
    const made = await run("keystore:new", { out, passwordFile: pw, fund: "2" });
    expect(Wallet.fromEncryptedJsonSync(readFileSync(out, "utf8"), "a long secret").address).to.equal(made.address);
    expect(await hre.ethers.provider.getBalance(made.address)).to.equal(2n * 10n ** 18n);
    expect(await refused("keystore:new", { out, passwordFile: pw })).to.match(/exists already/);
    const reg = await run("register", { name: "keyholder", keystore: out, passwordFile: pw });
    expect(reg.account).to.equal(made.address);
  });

  it("bad arguments get one line naming them, in the user's units, and send nothing", async function () {
    const signers = await hre.ethers.getSigners();
    const nonce = await hre.ethers.provider.getTransactionCount(signers[2].address);
    expect(await refused("bid", { side: "hold", energy: "1", price: "0.0007", account: 2, saltDir })).to.match(/--side/);
    expect(await refused("bid", { energy: "1", price: "0.0007", account: 2, saltDir })).to.equal("--side is required: sell or buy");
    expect(await refused("bid", { side: "sell", energy: "0.0001", price: "0.0007", account: 2, saltDir })).to.match(/--energy: at most 3 decimals/);
    expect(await refused("bid", { side: "sell", energy: "-0.5", price: "0.0007", account: 2, saltDir })).to.equal("--energy: expected an amount of energy above 0 kWh, got -0.5");
    expect(await refused("bid", { side: "sell", energy: "0.5", price: "-0.0006", account: 2, saltDir })).to.equal("--price: expected an amount above 0 ether per kWh, got -0.0006");
    expect(await refused("bid", { side: "buy", energy: "5000", price: "0.0007", account: 2, saltDir })).to.equal("--energy: the market takes at most 1000 kWh per bid, not 5000");
    expect(await refused("bid", { side: "buy", energy: "100", price: "0.5", account: 2, saltDir })).to.equal("--energy: the meter of participant 1 (wind) is rated 50 kW, at most 12.5 kWh in one interval, not 100");
    expect(await refused("bid", { side: "buy", energy: "10", price: "0.5", account: 2, saltDir })).to.match(
      /^buying 10 kWh at 0\.5 ether per kWh can cost 5 ether; beyond the 0\.001 ether margin and the meter's 0\.0345 ether security, the market wallet of participant 1 \(wind\) has [\d.]+ ether free: deposit more or bid less$/,
    );
    expect(await refused("deposit", { amount: "lots", account: 2 })).to.match(/--amount: expected a decimal string/);
    expect(await refused("deposit", { amount: "-1", account: 2 })).to.equal("--amount: expected an amount above 0 ether, got -1");
    expect(await refused("deposit", { amount: "1" })).to.match(/exactly one of --key-file, --keystore .* or --account/);
    expect(await refused("deposit", { amount: "1", keyFile: join(dir, "nope.key") })).to.equal(`cannot read key file ${join(dir, "nope.key")}`);
    expect(await refused("deposit", { amount: "1", account: 99 })).to.match(/--account 99: there are 40 development accounts/);
    expect(await refused("deposit", { amount: "1", account: 6 })).to.equal(`Account ${signers[6].address} is not registered in the market: register it first.`);
    expect(await refused("history")).to.match(/give --interval, --participant or both/);
    expect(await refused("authorize", { participant: "42" })).to.match(/no participant with ID 42/);
    expect(await refused("meter:propose", { participant: "1", meter: "12ab", account: "0x0" })).to.match(/--meter/);
    expect(await refused("meter:propose", { participant: "4", meter: "000000000042", account: signers[14].address, openImportKwh: "-1" })).to.equal("--open-import-kwh: a register reading is not negative, got -1");
    expect(await refused("meter:propose", { participant: "4", meter: "000000000042", account: signers[14].address, ratedKw: "0" })).to.equal("--rated-kw: expected a power above 0 kW, got 0");
    expect(await refused("meter:accept", { meter: "000000000042", account: 9 })).to.equal(`account ${signers[9].address} is not registered in the market: register it first (\`npx hardhat register\`)`);
    expect(await refused("meter:accept", { account: 2 })).to.equal("--meter is required: the meter's 12-digit number (its DL/T 645 address)");
    expect(await refused("withdraw", { amount: "1000", account: 2 })).to.match(/^Not enough free funds in the market wallet of participant #1: this needs 1000 ether, [\d.]+ ether is free\.$/);
    expect(await refused("register", { name: "wind", account: 2 })).to.equal(`Account ${signers[2].address} is already registered.`);
    expect(await hre.ethers.provider.getTransactionCount(signers[2].address)).to.equal(nonce, "nothing was sent");
  });

  it("a deployment file of another chain or another contract is refused, saying which", async function () {
    const file = deploymentFile();
    const other = join(dir, "other.json");
    process.env.MARKET_DEPLOYMENT = other;
    try {
      writeFileSync(other, JSON.stringify({ ...file, chainId: 1337 }));
      expect(await refused("status")).to.match(new RegExp(`^${other} is for chain 1337, but the "hardhat" node is chain 31337: deploy again`));
      writeFileSync(other, JSON.stringify({ ...file, genesisHash: "0x" + "11".repeat(32) }));
      expect(await refused("status")).to.match(/was written for another chain with ID 31337: the "hardhat" node has a different first block/);
      writeFileSync(other, JSON.stringify({ ...file, codeHash: "0x" + "22".repeat(32) }));
      expect(await refused("status")).to.match(/is not the market recorded in .*other\.json \(its code differs\)/);
      writeFileSync(other, JSON.stringify({ ...file, market: Wallet.createRandom().address }));
      expect(await refused("status")).to.match(/has no contract at 0x[0-9a-fA-F]{40}, the market in/);
    } finally {
      process.env.MARKET_DEPLOYMENT = join(dir, "deployment.json");
    }
  });
});
