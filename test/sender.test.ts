/**
 * lib/sender.ts against a real anvil node: replacement of stuck and dropped transactions, nonces
 * across reverts and restarts, a node that is down, and decoded custom errors.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { HDNodeWallet, JsonRpcProvider, Network, NonceManager, Wallet } from "ethers";
import { DEV_MNEMONIC } from "../hardhat.config";
import { PAPER_PARAMS, attachMarket, deployMarket, scheduleFor } from "../lib/market";
import { RevertError, SendAborted, Sender, SenderEvent, SenderOptions } from "../lib/sender";
import { Anvil, delay, freePort, rpcProvider } from "./shared/anvil";

const OTHER = "0x000000000000000000000000000000000000dEaD";

const provider = rpcProvider;
const devKey = (i: number) => HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).privateKey;

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await delay(50)) {
    const v = probe();
    if (v !== undefined) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("Sender (lib/sender.ts) against anvil", function () {
  this.timeout(120_000);
  const nodes: Anvil[] = [];
  const providers: JsonRpcProvider[] = [];
  let dir: string;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "sender-test-"));
  });
  afterEach(async () => {
    providers.splice(0).forEach((p) => p.destroy());
    await Promise.all(nodes.splice(0).map((n) => n.stop()));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function node(args: string[], port?: number): Promise<Anvil> {
    const n = new Anvil(port ?? (await freePort()), args);
    nodes.push(n);
    await n.start();
    return n;
  }

  function senderOn(url: string, key: number, options: SenderOptions = {}) {
    const p = provider(url);
    providers.push(p);
    const events: SenderEvent[] = [];
    const sender = new Sender(new Wallet(devKey(key), p), p, { receiptTimeoutMs: 1500, pollMs: 100, maxBackoffMs: 500, log: (e) => events.push(e), ...options });
    return { sender, events, provider: p };
  }

  const mine = (p: JsonRpcProvider) => p.send("evm_mine", []);
  const transfer = { to: OTHER, data: "0x", value: 1n };
  const eventOf = (events: SenderEvent[], name: string) => () => events.find((e) => e.event === name);

  for (const [hardfork, mode] of [
    ["london", "EIP-1559"],
    ["berlin", "legacy"],
  ] as const) {
    it(`replaces a stuck ${mode} transaction with the same nonce and fees raised by at least 12.5 %, mined once`, async () => {
      const anvil = await node(["--hardfork", hardfork, "--no-mining"]);
      const { sender, events, provider: p } = senderOn(anvil.url, 1);
      const nonceBefore = await p.getTransactionCount(sender.address, "latest");

      const sending = sender.send(transfer, { action: "test" });
      const replaced = await until("a replacement", eventOf(events, "replaced"));
      await mine(p);
      const sent = await sending;

      const first = events.find((e) => e.event === "sent")!;
      expect(events.find((e) => e.event === "stuck")).to.include({ tx: first.tx });
      expect(replaced).to.include({ replaces: first.tx, nonce: nonceBefore });
      expect(sent).to.include({ hash: replaced.tx, nonce: nonceBefore });
      expect(sent.replaced).to.deep.equal([first.tx]);
      const feeKeys = mode === "legacy" ? ["gasPrice"] : ["maxFeePerGas", "maxPriorityFeePerGas"];
      for (const k of feeKeys) expect(BigInt(replaced[k] as string) * 1000n).to.be.gte(BigInt(first[k] as string) * 1125n, k);
      expect(sent.receipt.type).to.equal(mode === "legacy" ? 0 : 2);
      expect(await p.getTransactionReceipt(first.tx as string)).to.equal(null);
      expect(await p.getTransactionCount(sender.address, "latest")).to.equal(nonceBefore + 1);
    });
  }

  it("decodes the market's custom errors at estimation, sends nothing for them, and keeps nonces gap-free", async () => {
    const anvil = await node(["--hardfork", "london"]);
    const p = provider(anvil.url);
    providers.push(p);
    const market = await deployMarket(new NonceManager(new Wallet(devKey(0), p)), scheduleFor(30, Math.floor(Date.now() / 1000)));
    const errors = market.interface;
    const s = senderOn(anvil.url, 0, { errors }).sender;
    const to = await market.getAddress();
    const nonceBefore = await p.getTransactionCount(s.address, "latest");

    const zeroSteps = await s.send({ to, data: errors.encodeFunctionData("clear", [1, 0]) }).catch((e) => e);
    expect(zeroSteps).to.be.instanceOf(RevertError);
    expect(zeroSteps.revert).to.deep.equal({ name: "ZeroSteps", args: [] });
    const early = await s.send({ to, data: errors.encodeFunctionData("settle", [5, [1]]) }).catch((e) => e);
    expect(early.revert.name).to.equal("WrongPhase");
    expect(early.revert.args.map(Number)).to.deep.equal([5, 0]); // Upcoming
    expect(await p.getTransactionCount(s.address, "latest")).to.equal(nonceBefore, "no transaction sent for a revert at estimation");

    const funded = await s.send({ to, data: errors.encodeFunctionData("fundPool"), value: 5n });
    expect(funded.nonce).to.equal(nonceBefore);
    expect(funded.receipt.status).to.equal(1);
    expect((await attachMarket(to, p).pool()).balance).to.equal(5n);
  });

  it("dispatches batches that wait for their block together, in nonce order, and a later send takes the next nonce", async () => {
    const anvil = await node(["--hardfork", "london", "--no-mining"]);
    const { sender, provider: p } = senderOn(anvil.url, 1, { receiptTimeoutMs: 60_000 });
    const nonceBefore = await p.getTransactionCount(sender.address, "latest");
    const first = await sender.dispatchMany([transfer, transfer]);
    const second = await sender.dispatchMany([transfer]); // not waiting for the first two's block
    const third = sender.send(transfer);
    const pending = async () => Number((await p.send("txpool_status", [])).pending);
    for (const end = Date.now() + 10_000; (await pending()) < 4 && Date.now() < end; ) await delay(50);
    expect(await pending(), "all four broadcast before any block").to.equal(4);
    await mine(p);
    const results = [...(await first.results), ...(await second.results), await third];
    expect(results.map((r) => (r instanceof Error ? r.message : r.nonce))).to.deep.equal([0, 1, 2, 3].map((i) => nonceBefore + i));
    expect(await p.getTransactionCount(sender.address, "latest")).to.equal(nonceBefore + 4);
  });

  it("stops a dispatch at a transaction the node refuses, leaving no nonce gap", async () => {
    const anvil = await node(["--hardfork", "london", "--gas-limit", "50000"]);
    const { sender, provider: p } = senderOn(anvil.url, 1);
    const nonceBefore = await p.getTransactionCount(sender.address, "latest");
    // 1,000 bytes of calldata: estimated at 37,000 gas, sent with a limit above the block's 50,000
    const heavy = { to: OTHER, data: "0x" + "ff".repeat(1000), value: 1n };
    const { results } = await sender.dispatchMany([transfer, heavy, transfer]);
    const [a, b, c] = await results;
    expect(a).to.not.be.instanceOf(Error);
    expect((a as { nonce: number }).nonce).to.equal(nonceBefore);
    expect(b).to.be.instanceOf(Error);
    expect(c, "not sent after the refusal").to.equal(b);
    const next = await sender.send(transfer);
    expect(next.nonce, "the refused one's nonce is used next").to.equal(nonceBefore + 1);
    expect(await p.getTransactionCount(sender.address, "latest")).to.equal(nonceBefore + 2);
  });

  it("reports a transaction that reverted on chain with its decoded error, and counts its nonce", async () => {
    const anvil = await node(["--hardfork", "london"]);
    const p = provider(anvil.url);
    providers.push(p);
    const market = await deployMarket(new NonceManager(new Wallet(devKey(0), p)), scheduleFor(30, Math.floor(Date.now() / 1000)));
    const s = senderOn(anvil.url, 0, { errors: market.interface });
    const to = await market.getAddress();
    const nonceBefore = await p.getTransactionCount(s.sender.address, "latest");
    const earliest = Number(await market.currentInterval()) + 2;
    const schedule = { to, data: market.interface.encodeFunctionData("scheduleParams", [PAPER_PARAMS, earliest]) };

    // Valid when estimated; mined one interval later, when `earliest` is no longer in the future.
    await p.send("evm_setAutomine", [false]);
    const rejected = s.sender.send(schedule).catch((e) => e);
    await until("the send", eventOf(s.events, "sent"));
    await p.send("evm_setNextBlockTimestamp", [(await p.getBlock("latest"))!.timestamp + 30]);
    await mine(p);
    const e = await rejected;

    expect(e).to.be.instanceOf(RevertError);
    expect(e.receipt).to.include({ status: 0 });
    expect(e.receipt.gasUsed).to.be.greaterThan(0n);
    expect(e.revert.name).to.equal("ParamsNotInFuture");
    expect(e.revert.args.map(Number)).to.deep.equal([earliest, earliest + 1]);
    await p.send("evm_setAutomine", [true]);
    expect((await s.sender.send(transfer)).nonce).to.equal(nonceBefore + 1);
  });

  it("waits for a node that is down, then sends once it is up", async () => {
    const port = await freePort();
    const { sender, events, provider: p } = senderOn(`http://127.0.0.1:${port}`, 3);
    const sending = sender.send(transfer);
    await until("the outage to be noticed", eventOf(events, "node-unreachable"));
    await delay(1000);
    await node(["--hardfork", "london"], port);
    const sent = await sending;
    expect(sent.receipt.status).to.equal(1);
    expect(events.map((e) => e.event)).to.include.members(["node-unreachable", "node-back", "sent"]);
    expect(await p.getTransactionCount(sender.address, "latest")).to.equal(sent.nonce + 1);
  });

  it("sends again, with raised fees, a transaction the node dropped when it restarted", async () => {
    const port = await freePort();
    const state = path.join(dir, "dropped.json");
    let anvil = await node(["--hardfork", "london", "--no-mining", "--state", state], port);
    const { sender, events, provider: p } = senderOn(anvil.url, 4);
    const nonceBefore = await p.getTransactionCount(sender.address, "latest");

    const sending = sender.send(transfer);
    const first = await until("the first send", eventOf(events, "sent"));
    await anvil.stop(); // the pending transaction is not part of the saved state
    anvil = await node(["--hardfork", "london", "--state", state], port);
    const sent = await sending;

    expect(events.find((e) => e.event === "dropped")).to.include({ tx: first.tx });
    expect(sent.hash).to.not.equal(first.tx);
    expect(sent.nonce).to.equal(nonceBefore);
    expect(await p.getTransactionCount(sender.address, "latest")).to.equal(nonceBefore + 1);
  });

  it("on restart waits for the earlier run's pending transaction instead of sending on top of it", async () => {
    const anvil = await node(["--hardfork", "london", "--no-mining"]);
    const abort = new AbortController();
    const before = senderOn(anvil.url, 5, { signal: abort.signal, receiptTimeoutMs: 60_000 });
    const nonceBefore = await before.provider.getTransactionCount(before.sender.address, "latest");
    const killed = before.sender.send(transfer).catch((e) => e);
    const pendingTx = await until("the first send", eventOf(before.events, "sent"));
    abort.abort(); // the process dies between sending and mining
    expect(await killed).to.be.instanceOf(SendAborted).and.include({ hash: pendingTx.tx });

    const after = senderOn(anvil.url, 5, { receiptTimeoutMs: 10_000 });
    const starting = after.sender.start();
    await until("the pending transaction to be found", eventOf(after.events, "pending-found"));
    await mine(after.provider);
    await starting;
    expect(await after.provider.getTransactionReceipt(pendingTx.tx as string)).to.have.property("status", 1);
    expect(after.events.map((e) => e.event)).to.not.include("cancelled");

    const sending = after.sender.send(transfer);
    await until("the next send", eventOf(after.events, "sent"));
    await mine(after.provider);
    expect((await sending).nonce).to.equal(nonceBefore + 1);
  });

  it("on restart cancels an earlier run's transaction that stays stuck, so the next send is not blocked", async () => {
    const anvil = await node(["--hardfork", "london", "--no-mining"]);
    const abort = new AbortController();
    const before = senderOn(anvil.url, 6, { signal: abort.signal });
    const nonceBefore = await before.provider.getTransactionCount(before.sender.address, "latest");
    const killed = before.sender.send(transfer).catch((e) => e);
    const stuck = await until("the first send", eventOf(before.events, "sent"));
    abort.abort();
    await killed;

    const after = senderOn(anvil.url, 6);
    const starting = after.sender.start();
    const cancel = await until("the cancellation", () => after.events.find((e) => e.event === "sent" && e.action === "cancel"));
    await mine(after.provider);
    await starting;
    expect(after.events.find((e) => e.event === "cancelled")).to.include({ nonce: nonceBefore });
    expect(await after.provider.getTransactionReceipt(stuck.tx as string)).to.equal(null);
    const receipt = await after.provider.getTransactionReceipt(cancel.tx as string);
    expect(receipt).to.include({ status: 1, to: after.sender.address });
    expect(await after.provider.getTransactionCount(after.sender.address, "latest")).to.equal(nonceBefore + 1);
  });

  it("notices transactions a reorg dropped after they were confirmed, logs the depth, and sends each once again in nonce order", async () => {
    const anvil = await node(["--hardfork", "london"]);
    // no response cache: a receipt read just before the re-sent transaction was mined is not served again
    const p = new JsonRpcProvider(anvil.url, Network.from(31337), { staticNetwork: true, cacheTimeout: -1 });
    providers.push(p);
    const events: SenderEvent[] = [];
    const sender = new Sender(new Wallet(devKey(7), p), p, { pollMs: 100, log: (e) => events.push(e) });
    const first = await sender.send(transfer, { action: "first" });
    const second = await sender.send(transfer, { action: "second" });
    for (let i = 0; i < 3; i++) await mine(p);
    const head = Number(await p.send("eth_blockNumber", []));
    await p.send("evm_setAutomine", [false]);
    // drop every block from the one holding the first transfer: a reorg of head - first + 1 blocks
    await p.send("anvil_reorg", [head - first.receipt.blockNumber + 1, []]);
    expect(await p.getTransactionReceipt(first.hash)).to.equal(null);

    const resent = await sender.checkReorgs();
    expect(resent).to.deep.equal([first.hash, second.hash]);
    const reorgs = events.filter((e) => e.event === "reorg");
    expect(reorgs.map((e) => [e.tx, e.action])).to.deep.equal([
      [first.hash, "first"],
      [second.hash, "second"],
    ]);
    // anvil forgets the blocks it reorganized away, so the depth is a lower bound here (exact on Geth: test/geth)
    for (const e of reorgs) expect(String(e.depth)).to.match(/^>= 1 /);
    expect(events.filter((e) => e.event === "resent").map((e) => e.tx)).to.deep.equal([first.hash, second.hash]);
    await p.send("evm_setAutomine", [true]);
    await mine(p);
    // each mined again exactly once: the same hashes, nonces unchanged, the next send continues after them
    const third = await sender.send(transfer, { action: "third" });
    const again = await Promise.all([first.hash, second.hash].map((h) => p.getTransactionReceipt(h)));
    expect(again.map((r) => r?.status)).to.deep.equal([1, 1]);
    expect(third.nonce).to.equal(second.nonce + 1);
    expect(await p.getTransactionCount(sender.address, "latest")).to.equal(third.nonce + 1);
    // each step names what the transaction was (the caller's label), so the log says what was re-sent
    expect(events.filter((e) => e.event === "mined-again").map((e) => [e.tx, e.action])).to.deep.equal([
      [first.hash, "first"],
      [second.hash, "second"],
    ]);
    expect(events.filter((e) => e.event === "resent").map((e) => e.action)).to.deep.equal(["first", "second"]);
  });
});
