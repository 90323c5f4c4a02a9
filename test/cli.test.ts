/**
 * The tasks at the command line, as a user runs them (`npx hardhat <task> --network localhost`)
 * against anvil: every failure is ONE line, exit code 1, no stack trace, amounts in the units the
 * user typed, and nothing sent (the account's nonce is unchanged).
 */
import { expect } from "chai";
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HDNodeWallet, JsonRpcProvider, NonceManager, Wallet, encryptKeystoreJsonSync, parseEther } from "ethers";
import { Side, attachMarket, bindMeter, commitmentOf, newMeter, newSalt } from "../lib/market";
import { SaltStore } from "../lib/saltstore";
import type { EnergyMarket } from "../typechain-types";
import { Anvil, freePort, rpcProvider } from "./shared/anvil";

const MNEMONIC = "test test test test test test test test test test test junk";
const dev = (i: number) => HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`);
const HARDHAT = require.resolve("hardhat/internal/cli/cli.js");

interface Ran {
  code: number | null;
  lines: string[];
}

describe("the tasks at the command line (anvil)", function () {
  this.timeout(300_000);
  const dir = mkdtempSync(join(tmpdir(), "cli-"));
  const deploymentFile = join(dir, "deployment.json");
  let anvil: Anvil;
  let provider: JsonRpcProvider;
  let market: EnergyMarket;
  let env: Record<string, string>;

  /** `npx hardhat <args> --network localhost`, as a user types it. */
  function hardhat(args: string[], extraEnv: Record<string, string> = {}): Promise<Ran> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [HARDHAT, ...args, "--network", "localhost"], { env: { ...process.env, ...env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] });
      let text = "";
      child.stdout.on("data", (c) => (text += c));
      child.stderr.on("data", (c) => (text += c));
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, lines: text.split("\n").filter((l) => l.trim() !== "") }));
    });
  }

  /** Run a command that must fail: exactly one line, exit 1, no stack, and no transaction from `who`. */
  async function fails(args: string[], who: string[], extraEnv: Record<string, string> = {}): Promise<string> {
    const nonces = await Promise.all(who.map((a) => provider.getTransactionCount(a, "pending")));
    const r = await hardhat(args, extraEnv);
    expect(r.lines, `${args.join(" ")} printed:\n${r.lines.join("\n")}`).to.have.length(1);
    expect(r.code, args.join(" ")).to.equal(1);
    expect(r.lines[0]).not.to.match(/^\s+at |Error HH|HardhatError|stack/);
    expect(await Promise.all(who.map((a) => provider.getTransactionCount(a, "pending"))), "nothing was sent").to.deep.equal(nonces);
    return r.lines[0];
  }

  before(async function () {
    anvil = await Anvil.start(["--hardfork", "london", "--block-time", "1"]);
    provider = rpcProvider(anvil.url);
    env = { LOCALHOST_RPC_URL: anvil.url, MARKET_DEPLOYMENT: deploymentFile };
    // a 15-minute market whose interval began 7.5 minutes ago: the next commit window is minutes away
    const now = (await provider.getBlock("latest"))!.timestamp;
    const deployed = await hardhat(["deploy", "--interval", "900", "--start", String(now - 450)]);
    expect(deployed.code, deployed.lines.join("\n")).to.equal(0);
    const operator = new NonceManager(new Wallet(dev(0).privateKey, provider));
    market = attachMarket(JSON.parse(readFileSync(deploymentFile, "utf8")).market, operator);
    // wind (account 2) and ev (account 3): registered, authorized, 1 and 0.1 ether deposited, then a 50 kW
    // meter proposed and accepted (its security, 0.0345 ether, stays in the wallet)
    for (const [i, name, ether] of [[2, "wind", "1"], [3, "ev", "0.1"]] as const) {
      const who = new NonceManager(new Wallet(dev(i).privateKey, provider));
      await (await (market.connect(who) as EnergyMarket).register(name, true)).wait();
      const id = await market.idOf(dev(i).address);
      await (await market.authorize(id, true)).wait();
      await (await (market.connect(who) as EnergyMarket).deposit({ value: parseEther(ether) })).wait();
      await bindMeter(market, who, id, newMeter(100000000000n + id, dev(10 + i).address, 50_000));
    }
  });

  after(async function () {
    provider?.destroy();
    await anvil?.stop();
  });

  it("a negative energy or price in a bid, or a negative deposit: one line naming the option", async function () {
    const lines = await Promise.all([
      fails(["bid", "--side", "sell", "--energy", "-0.5", "--price", "0.0007", "--account", "2"], [dev(2).address]),
      fails(["bid", "--side", "buy", "--energy", "0.5", "--price", "-0.0006", "--account", "2"], [dev(2).address]),
      fails(["deposit", "--amount", "-1", "--account", "2"], [dev(2).address]),
    ]);
    expect(lines).to.deep.equal([
      "--energy: expected an amount of energy above 0 kWh, got -0.5",
      "--price: expected an amount above 0 ether per kWh, got -0.0006",
      "--amount: expected an amount above 0 ether, got -1",
    ]);
  });

  it("withdrawing more than the wallet holds is refused before sending, in ether (with --account or --keystore)", async function () {
    const keystore = join(dir, "ev.json");
    writeFileSync(keystore, encryptKeystoreJsonSync({ address: dev(3).address, privateKey: dev(3).privateKey }, "a long secret", { scrypt: { N: 1 << 12 } }));
    writeFileSync(join(dir, "ev.pw"), "a long secret\n");
    const lines = await Promise.all([
      fails(["withdraw", "--amount", "5", "--account", "3"], [dev(3).address]),
      fails(["withdraw", "--amount", "5", "--keystore", keystore, "--password-file", join(dir, "ev.pw")], [dev(3).address]),
    ]);
    expect(lines).to.deep.equal(Array(2).fill("Not enough free funds in the market wallet of participant #2: this needs 5 ether, 0.0655 ether is free."));
  });

  it("a deposit from an unregistered account is refused before sending", async function () {
    expect(await fails(["deposit", "--amount", "1", "--account", "6"], [dev(6).address])).to.equal(`Account ${dev(6).address} is not registered in the market: register it first.`);
  });

  it("a key file that does not exist, and usage errors, are one line", async function () {
    const lines = await Promise.all([
      fails(["deposit", "--amount", "1", "--key-file", "nope.key"], []),
      fails(["bid", "--side", "hold", "--energy", "1", "--price", "0.0007", "--account", "2"], [dev(2).address]),
      fails(["bid", "--energy", "1", "--price", "0.0007", "--account", "2"], [dev(2).address]),
      fails(["bid", "--side", "sell", "--energy", "1", "--price", "0.0007", "--account", "2", "--colour", "red"], []),
      fails(["deposit", "--amount", "1", "--account", "two"], []),
      fails(["clear"], []),
    ]);
    expect(lines).to.deep.equal([
      "cannot read key file nope.key",
      '--side: expected "sell" or "buy", got "hold"',
      "--side is required: sell or buy",
      "bid has no option --colour (see `npx hardhat help bid`)",
      '--account: expected a whole number, got "two"',
      "--interval is required: delivery interval (see `npx hardhat help clear`)",
    ]);
  });

  it("a node that is down: one line naming its URL", async function () {
    const url = `http://127.0.0.1:${await freePort()}`;
    const down = `cannot reach the node of network "localhost" at ${url}: start one (\`npx anvil --hardfork london --block-time 1\`) or set LOCALHOST_RPC_URL`;
    const lines = await Promise.all([fails(["status"], [], { LOCALHOST_RPC_URL: url }), fails(["deposit", "--amount", "1", "--account", "2"], [dev(2).address], { LOCALHOST_RPC_URL: url })]);
    expect(lines).to.deep.equal([down, down]);
  });

  it("bid --no-wait outside the commit window says when the next one opens, in local time", async function () {
    const line = await fails(["bid", "--side", "sell", "--energy", "0.5", "--price", "0.0007", "--account", "2", "--no-wait"], [dev(2).address]);
    expect(line).to.match(/^sealed bids for interval 1 were taken \d\d:\d\d:\d\d–\d\d:\d\d:\d\d local time; the next window, for interval 2, opens at \d\d:\d\d:\d\d \(in \d+ min \d+ s\): run without --no-wait to wait for it$/);
  });

  it("meter:propose and meter:accept: a number of fewer than 12 digits, replacing a bound meter without --replace, accepting another meter than proposed, are refused and nothing sent", async function () {
    const operator = dev(0).address;
    const [short, replacing, unproposed] = await Promise.all([
      fails(["meter:propose", "--participant", "2", "--meter", "12345", "--account", dev(15).address], [operator]),
      fails(["meter:propose", "--participant", "2", "--meter", "000000012345", "--account", dev(15).address], [operator]),
      fails(["meter:accept", "--meter", "000000012345", "--account", "3"], [dev(3).address]),
    ]);
    expect(short).to.equal('--meter: a meter number is exactly 12 digits (its DL/T 645 address, e.g. 000000000042), got "12345"');
    expect(replacing).to.equal(`participant 2 (ev) already has meter 100000000002 (account ${dev(13).address}) bound; give --replace to propose replacing it`);
    expect(unproposed).to.equal("no meter proposal waits for participant 2 (ev): the operator proposes one first (`npx hardhat meter:propose`)");
    expect((await market.meterOf(2)).meterNumber).to.equal(100000000002n);
  });

  it("a deployment file of another chain is refused, saying so", async function () {
    const other = join(dir, "other.json");
    copyFileSync(deploymentFile, other);
    writeFileSync(other, JSON.stringify({ ...JSON.parse(readFileSync(other, "utf8")), genesisHash: "0x" + "ab".repeat(32) }));
    expect(await fails(["status"], [], { MARKET_DEPLOYMENT: other })).to.equal(
      `${other} was written for another chain with ID 31337: the node at ${anvil.url} has a different first block (a restarted node?); deploy again (\`npx hardhat deploy --network localhost\`) or point "localhost" at the node it was deployed on`,
    );
  });

  it("bid:reveal after the reveal window says the bid was forfeited and how much, exits 1 and keeps the salt file", async function () {
    // wind commits for interval 2 in its window (block time moved there), the salt kept as `bid` keeps it
    const saltDir = join(dir, "salts");
    const wind = new NonceManager(new Wallet(dev(2).privateKey, provider));
    const v = await market.intervalOf(2);
    await provider.send("evm_setNextBlockTimestamp", [Number(v.commitStart) + 1]);
    await provider.send("evm_mine", []);
    const bid = { interval: 2, side: Side.Sell, energyWh: 500n, priceWeiPerKWh: parseEther("0.0007"), salt: newSalt() };
    new SaltStore(saltDir).save(await market.getAddress(), dev(2).address, bid);
    await (await (market.connect(wind) as EnergyMarket).commitBid(2, commitmentOf(31337n, await market.getAddress(), dev(2).address, bid))).wait();
    await provider.send("evm_setNextBlockTimestamp", [Number(v.revealEnd) + 1]);
    await provider.send("evm_mine", []);
    const file = new SaltStore(saltDir).path(dev(2).address, 2);
    const line = await fails(["bid:reveal", "--account", "2", "--salt-dir", saltDir], [dev(2).address]);
    // the forfeit of a 50 kW meter's bidder: 12.5 kWh at the 0.0012 ether/kWh cap with M'' (more than the 0.0001 ether floor)
    expect(line).to.match(/^the sealed bid for interval 2 was not revealed in its window \(\d\d:\d\d:\d\d–\d\d:\d\d:\d\d local time\): it is forfeited, 0\.01575 ether goes from the wallet to the incentive pool; its salt stays in /);
    expect(existsSync(file)).to.equal(true);
  });
});
