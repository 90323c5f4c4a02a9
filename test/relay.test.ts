/**
 * The relayer over real HTTP against anvil: a prosumer and its meter that never hold ether register,
 * accept a meter, bid in two intervals, post readings, are settled and withdraw to the prosumer's own
 * account, every message signed off-chain and carried by the operator; and every kind of bad input
 * gets a 4xx with one line and changes nothing.
 */
import { expect } from "chai";
import { createServer, Server } from "node:http";
import { HDNodeWallet, JsonRpcProvider, NonceManager, Wallet } from "ethers";
import { DEV_MNEMONIC } from "../hardhat.config";
import { EnergyMarket } from "../typechain-types";
import { PAPER_PARAMS, SealedBid, Side, commitmentOf, deployMarket, newMeter, newSalt } from "../lib/market";
import { Relayer, RelayReceipt } from "../lib/relay";
import { relayHandler } from "../lib/relay-http";
import { Sender } from "../lib/sender";
import { marketDomain, signAcceptance, signCommit, signReading, signRegistration, signWithdrawal } from "../lib/signed";
import { Anvil, delay, freePort, rpcProvider } from "./shared/anvil";

const devKey = (i: number) => HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).privateKey;
const ETH = 10n ** 18n;
const INTERVAL = 30;

/** A market of 30-s intervals from the one the node's clock is in, deployed by `deployer`. */
async function deployTestMarket(provider: JsonRpcProvider, deployer: NonceManager): Promise<EnergyMarket> {
  const now = (await provider.getBlock("latest"))!.timestamp;
  const schedule = { startTime: now - (now % INTERVAL), intervalSeconds: INTERVAL, commitSeconds: 9, revealSeconds: 9, settleOffsetSeconds: 6, readingGraceSeconds: 6 };
  return deployMarket(deployer, schedule, PAPER_PARAMS);
}

describe("the relayer over HTTP (anvil)", function () {
  this.timeout(600_000); // the first test waits for two 30-s intervals and their settlement: 220 s here
  let anvil: Anvil;
  let provider: JsonRpcProvider;
  let market: EnergyMarket;
  let relayer: Relayer;
  let server: Server;
  let base: string;
  let domain: ReturnType<typeof marketDomain>;
  let operator: Wallet;
  /** The operator's one nonce counter for the whole file: a second counter would ask anvil for the
   * pending nonce again, which can lag by one while a block is being mined ("nonce too low"). */
  let asOperator: EnergyMarket;

  before(async function () {
    anvil = await Anvil.start(["--hardfork", "london", "--block-time", "1"]);
    provider = rpcProvider(anvil.url);
    operator = new Wallet(devKey(0), provider);
    const operatorNonces = new NonceManager(operator);
    market = await deployTestMarket(provider, operatorNonces);
    asOperator = market.connect(operatorNonces);
    await (await asOperator.registerGrid(operator.address, "grid")).wait();
    await (await asOperator.deposit({ value: 100n * ETH })).wait();
    await (await asOperator.fundPool({ value: ETH })).wait();
    domain = marketDomain(31337n, await market.getAddress());
    const events: Record<string, unknown>[] = [];
    const sender = new Sender(new Wallet(devKey(1), provider), provider, { pollMs: 200, receiptTimeoutMs: 10_000, log: (e) => relayer.onSenderEvent(e) });
    relayer = new Relayer({ market: market.connect(provider), sender, domain, flushMs: 300, log: (e) => events.push(e) });
    const handle = relayHandler(relayer, { ratePerMinute: 1000 });
    server = createServer((req, res) => {
      void handle(req, res).then((served) => {
        if (!served) res.writeHead(404).end();
      });
    });
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
    base = `http://127.0.0.1:${port}/relay`;
  });

  after(async () => {
    relayer?.stop();
    if (server) {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    provider?.destroy();
    await anvil?.stop();
  });

  async function post(kind: string, body: unknown, init: { raw?: string; contentType?: string } = {}) {
    const res = await fetch(`${base}/${kind}`, {
      method: "POST",
      headers: { "content-type": init.contentType ?? "application/json" },
      body: init.raw ?? JSON.stringify(body, (_k, v) => (typeof v === "bigint" ? v.toString() : v)),
    });
    return { status: res.status, body: (await res.json()) as RelayReceipt & { error?: string } };
  }

  /** Submit, then poll the receipt until it is included (or fail with what it says). */
  async function relay(kind: string, body: unknown): Promise<RelayReceipt> {
    const { status, body: receipt } = await post(kind, body);
    expect(status, `${kind}: ${receipt.error}`).to.equal(202);
    for (const end = Date.now() + 30_000; Date.now() < end; await delay(200)) {
      const r = (await (await fetch(`${base}/receipt/${receipt.id}`)).json()) as RelayReceipt;
      if (r.status === "included") return r;
      if (r.status === "skipped" || r.status === "failed") throw new Error(`${kind} ${r.status}: ${r.reason} (${r.error})`);
    }
    throw new Error(`${kind} not included in 30 s`);
  }

  const chainTime = async () => (await provider.getBlock("latest"))!.timestamp;
  async function untilChainTime(t: bigint | number) {
    while ((await chainTime()) < Number(t)) await delay(250);
  }

  it("carries a prosumer and a meter that never hold ether from registration to a withdrawal to the prosumer's account", async function () {
    const prosumer = Wallet.createRandom(provider);
    const meter = Wallet.createRandom(provider);
    expect(await provider.getBalance(prosumer.address)).to.equal(0n);

    await relay("registration", await signRegistration(prosumer, domain, "zero-ether", true));
    const id = await market.idOf(prosumer.address);
    expect(id).to.be.greaterThan(0n);

    // The operator authorizes it and proposes its meter; a neighbour pays in its deposit.
    const op = asOperator;
    await (await op.authorize(id, true)).wait();
    await (await op.proposeMeter(id, newMeter(777000000001n, meter.address, 200_000))).wait();
    const neighbour = new Wallet(devKey(2), provider);
    await (await market.connect(neighbour).depositFor(id, { value: ETH / 10n })).wait();
    const [proposal] = await market.meterProposalOf(id);
    await relay("acceptance", { participant: id, proposal, ...(await signAcceptance(prosumer, domain, { participant: id, proposal })) });
    expect((await market.meterOf(id)).account).to.equal(meter.address);

    // A counterparty that sends its own transactions buys what the prosumer sells.
    const buyer = new Wallet(devKey(3), provider);
    const asBuyer = market.connect(new NonceManager(buyer));
    await (await asBuyer.register("buyer", true)).wait();
    const buyerId = await market.idOf(buyer.address);
    await (await asBuyer.deposit({ value: ETH })).wait();
    await (await op.authorize(buyerId, true)).wait();
    await (await op.proposeMeter(buyerId, newMeter(777000000002n, new Wallet(devKey(4)).address, 200_000))).wait();
    await (await asBuyer.acceptMeter((await market.meterProposalOf(buyerId))[0])).wait();

    const intervals: number[] = [];
    for (let round = 0; round < 2; round++) {
      const d = round === 0 ? Number(await market.currentInterval()) + 2 : intervals[round - 1] + 1;
      const view = await market.intervalOf(d);
      await untilChainTime(view.commitStart);
      const bid: SealedBid = { interval: d, side: Side.Sell, energyWh: 1000n, priceWeiPerKWh: 6n * 10n ** 14n, salt: newSalt() };
      const commitment = commitmentOf(31337n, await market.getAddress(), prosumer.address, bid);
      const committed = await relay("commit", { interval: d, ...(await signCommit(prosumer, domain, { participant: id, interval: d, commitment })) });
      expect(committed.hash).to.match(/^0x[0-9a-f]{64}$/);
      const buy: SealedBid = { interval: d, side: Side.Buy, energyWh: 1000n, priceWeiPerKWh: 8n * 10n ** 14n, salt: newSalt() };
      await (await asBuyer.commitBid(d, commitmentOf(31337n, await market.getAddress(), buyer.address, buy))).wait();
      await untilChainTime(view.revealStart);
      await relay("reveal", { interval: d, participant: id, side: "sell", energyWh: bid.energyWh, priceWeiPerKWh: bid.priceWeiPerKWh, salt: bid.salt });
      await (await asBuyer.revealBid(d, buy.side, buy.energyWh, buy.priceWeiPerKWh, buy.salt, 0)).wait();
      intervals.push(d);
    }
    const last = intervals[intervals.length - 1];
    // The meter signs its readings; the buyer's meter posts its own.
    const buyerMeter = market.connect(new NonceManager(new Wallet(devKey(4), provider)));
    await untilChainTime((await market.intervalOf(last)).settleStart);
    const from = Number((await market.settlementOf(id)).nextInterval);
    const buyerFrom = Number((await market.settlementOf(buyerId)).nextInterval);
    let exportWh = 0n;
    let importWh = 0n;
    for (let k = from; k <= last; k++) {
      if (intervals.includes(k)) {
        exportWh += 1000n;
        importWh += 1000n;
      }
      await relay("reading", await signReading(meter, domain, { meterNumber: 777000000001n, interval: k, importWh: 0n, exportWh }));
      if (k >= buyerFrom) await (await buyerMeter.postReading(777000000002n, k, importWh, 0n)).wait();
      // settled as it goes, as cycle:run would: a participant's ring holds four intervals
      if (Number((await market.intervalOf(k)).stage) !== 4) await (await op.clear(k, 100)).wait();
      await (await op.settle(k, [id, buyerId])).wait();
    }
    const settled = await market.queryFilter(market.filters.ParticipantSettled(undefined, id));
    expect(settled.filter((s) => intervals.includes(Number(s.args.interval))).map((s) => [s.args.clearedWh, s.args.actualWh])).to.deep.equal(
      intervals.map(() => [1000n, 1000n]),
    );

    // It withdraws what it may to its own account, still without ether for gas.
    const amount = (await market.walletOf(id)).withdrawable;
    expect(amount).to.be.greaterThan(0n);
    await relay("withdrawal", { participant: id, amount, nonce: 0, ...(await signWithdrawal(prosumer, domain, { participant: id, amount, nonce: 0 })) });
    expect(await provider.getBalance(prosumer.address)).to.equal(amount);
    expect(await provider.getTransactionCount(prosumer.address), "the prosumer never sent a transaction").to.equal(0);
    expect(await provider.getTransactionCount(meter.address), "nor did its meter").to.equal(0);
    expect(await provider.getBalance(meter.address)).to.equal(0n);

    // The same signed withdrawal again changes nothing.
    const replay = await post("withdrawal", { participant: id, amount, nonce: 0, ...(await signWithdrawal(prosumer, domain, { participant: id, amount, nonce: 0 })) });
    expect(replay.status).to.equal(409);
    expect(replay.body.error).to.match(/nonce 0 is not the participant's next one \(1\)/);
  });

  it("refuses bad input with a 4xx and one line, sending nothing", async function () {
    const before = await provider.getTransactionCount(new Wallet(devKey(1)).address);
    const stranger = Wallet.createRandom();
    const victim = Wallet.createRandom(provider);
    const d = Number(await market.currentInterval()) + 1;
    const commitment = "0x" + "ab".repeat(32);
    const cases: [string, string, unknown, number, RegExp, { raw?: string; contentType?: string }?][] = [
      ["not JSON", "commit", undefined, 400, /not valid JSON/, { raw: "{oops" }],
      ["an array", "commit", [1, 2], 400, /one JSON object/],
      ["not JSON content", "commit", {}, 400, /must be JSON/, { contentType: "text/plain" }],
      ["an unknown kind", "bribe", {}, 400, /unknown message kind "bribe"/],
      ["a missing field", "commit", { interval: d, participant: 1, commitment }, 400, /bad commit: r: .*; vs: /],
      ["an extra field", "registration", { account: victim.address, name: "x", green: true, r: commitment, vs: commitment, admin: true }, 400, /bad registration/],
      ["a number too large", "commit", { interval: 2 ** 40, participant: 1, commitment, r: commitment, vs: commitment }, 400, /interval: expected a number below 2\^32/],
      ["an oversized body", "commit", undefined, 413, /at most 16384/, { raw: JSON.stringify({ pad: "x".repeat(20_000) }) }],
      ["a registration signed by another key", "registration", { ...(await signRegistration(stranger, domain, "x", true)), account: victim.address }, 403, /not by the participant's account/],
      ["a registration for another chain", "registration", await signRegistration(victim, { ...domain, chainId: 1n }, "x", true), 403, /signed by 0x/],
      ["a registration for another market", "registration", await signRegistration(victim, { ...domain, verifyingContract: stranger.address }, "x", true), 403, /signed by 0x/],
      ["a reading signed by no meter's key", "reading", await signReading(stranger, domain, { meterNumber: 777000000001n, interval: 1, importWh: 0n, exportWh: 0n }), 403, /no bound meter's key/],
      ["a commit for an unknown participant", "commit", { interval: d, ...(await signCommit(stranger, domain, { participant: 999, interval: d, commitment })) }, 409, /no participant with ID 999/],
    ];
    for (const [what, kind, body, status, message, init] of cases) {
      const got = await post(kind, body, init);
      expect(got.status, what).to.equal(status);
      expect(got.body.error, what).to.match(message);
      expect(String(got.body.error).split("\n"), what).to.have.length(1);
    }
    await delay(1000);
    expect(await provider.getTransactionCount(new Wallet(devKey(1)).address), "the relayer sent nothing").to.equal(before);
  });

  it("refuses a reveal of another bidder's commitment, and a replayed commit, with the market's reason", async function () {
    const op = asOperator;
    const victim = new Wallet(devKey(5), provider);
    const asVictim = market.connect(new NonceManager(victim));
    await (await asVictim.register("victim", false)).wait();
    const id = await market.idOf(victim.address);
    await (await asVictim.deposit({ value: ETH })).wait();
    await (await op.authorize(id, true)).wait();
    await (await op.proposeMeter(id, newMeter(777000000005n, new Wallet(devKey(6)).address, 200_000))).wait();
    await (await asVictim.acceptMeter((await market.meterProposalOf(id))[0])).wait();
    const d = Number(await market.currentInterval()) + 2;
    const view = await market.intervalOf(d);
    await untilChainTime(view.commitStart);
    const bid: SealedBid = { interval: d, side: Side.Sell, energyWh: 500n, priceWeiPerKWh: 6n * 10n ** 14n, salt: newSalt() };
    const signed = await signCommit(victim, domain, { participant: id, interval: d, commitment: commitmentOf(31337n, await market.getAddress(), victim.address, bid) });
    await relay("commit", { interval: d, ...signed });
    const replay = await post("commit", { interval: d, ...signed });
    expect(replay.status).to.equal(409);
    expect(replay.body.error).to.match(/already held for this interval/);
    await untilChainTime(view.revealStart);
    const forged = await post("reveal", { interval: d, participant: id, side: "buy", energyWh: 9999n, priceWeiPerKWh: 1n, salt: newSalt() });
    expect(forged.status).to.equal(409);
    expect(forged.body.error).to.match(/^the market refuses it: .*\(BadReveal\)$/);
    expect((await market.bidOf(d, id)).committed, "the victim's bid is still sealed").to.equal(true);
  });

  it("limits how many messages one client submits a minute (429)", async function () {
    const limited = relayHandler(relayer, { ratePerMinute: 2 });
    const s = createServer((req, res) => void limited(req, res));
    const port = await freePort();
    await new Promise<void>((r) => s.listen(port, "127.0.0.1", r));
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await fetch(`http://127.0.0.1:${port}/relay/commit`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status);
      expect(statuses).to.deep.equal([400, 400, 429]);
    } finally {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });
});

describe("the relayer's batches (anvil, mined by hand)", function () {
  this.timeout(120_000);
  let anvil: Anvil;
  let provider: JsonRpcProvider;

  before(async () => {
    anvil = await Anvil.start(["--hardfork", "london"]);
    provider = rpcProvider(anvil.url);
  });

  after(async () => {
    provider?.destroy();
    await anvil?.stop();
  });

  /** Poll `done` every 50 ms for up to 15 s; the error names `what` and the state `state` describes. */
  async function until(done: () => boolean, what: string, state: () => string) {
    for (const end = Date.now() + 15_000; !done(); await delay(50)) {
      if (Date.now() > end) throw new Error(`not within 15 s: ${what}; ${state()}`);
    }
  }

  /** A market deployed with automine on; afterwards blocks are mined only by the test. */
  async function deployThenMineByHand(deployerKey: number) {
    await provider.send("evm_setAutomine", [true]);
    const market = await deployTestMarket(provider, new NonceManager(new Wallet(devKey(deployerKey), provider)));
    await provider.send("evm_setAutomine", [false]);
    return market;
  }

  it("messages that arrive while a batch is being mined leave together in one full batch", async function () {
    const market = await deployThenMineByHand(0);
    const domain = marketDomain(31337n, await market.getAddress());
    const sender = new Sender(new Wallet(devKey(1), provider), provider, { pollMs: 100, receiptTimeoutMs: 60_000, log: (e) => relayer.onSenderEvent(e) });
    const relayer = new Relayer({ market: market.connect(provider), sender, domain, flushMs: 100 });
    try {
      const register = async () => (await relayer.submit("registration", await signRegistration(Wallet.createRandom(), domain, "p", true))).id;
      const statusOf = (id: string) => relayer.receipt(id)!.status;
      const state = () => `the 20 later ones: ${JSON.stringify(later.map(statusOf))} in ${new Set(later.map((id) => relayer.receipt(id)!.hash).filter(Boolean)).size} transaction(s)`;

      // the first registration's batch is sent and waits for a block
      const first = await register();
      const later: string[] = [];
      await until(() => statusOf(first) === "sent", "the first batch sent", state);
      // 20 more arrive over a second, far longer than the 100-ms flush timer
      for (let i = 0; i < 20; i++) {
        later.push(await register());
        await delay(50);
      }
      expect(later.map(statusOf), "queued behind the batch in flight").to.deep.equal(later.map(() => "queued"));
      await provider.send("evm_mine", []);
      await until(() => statusOf(first) === "included" && statusOf(later[0]) === "sent", "the first included, the next batch sent", state);
      await provider.send("evm_mine", []);
      await until(() => later.every((id) => statusOf(id) === "included"), "the 20 included after a second block", state);

      const hashes = new Set(later.map((id) => relayer.receipt(id)!.hash));
      expect(hashes.size, "one transaction for the 20").to.equal(1);
      expect(later.map((id) => relayer.receipt(id)!.index)).to.deep.equal([...later.keys()]);
      expect(await market.participantCount()).to.equal(21n);
    } finally {
      relayer.stop();
    }
  });

  it("a queue that fills a whole batch leaves at once, while the batches before it wait for their block", async function () {
    const market = await deployThenMineByHand(2);
    const domain = marketDomain(31337n, await market.getAddress());
    const sender = new Sender(new Wallet(devKey(3), provider), provider, { pollMs: 100, receiptTimeoutMs: 60_000, log: (e) => relayer.onSenderEvent(e) });
    // no timer flush during the test: the full batches leave by themselves, the rest at the flush below
    const relayer = new Relayer({ market: market.connect(provider), sender, domain, flushMs: 600_000, maxBatch: 5 });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 13; i++) ids.push((await relayer.submit("registration", await signRegistration(Wallet.createRandom(), domain, "p", true))).id);
      const receipts = () => ids.map((id) => relayer.receipt(id)!);
      const rest = relayer.flush();
      const state = () => JSON.stringify(receipts().map((r) => r.status));
      await until(() => receipts().filter((r) => r.status === "sent").length >= 10, "two full batches sent", state);
      // no block yet: the two full batches are both in the pool, the last three wait for them
      expect(receipts().map((r) => r.status)).to.deep.equal([...Array(10).fill("sent"), "queued", "queued", "queued"]);
      expect(new Set(receipts().slice(0, 10).map((r) => r.hash)).size, "two transactions in flight together").to.equal(2);
      expect(await provider.send("txpool_status", []).then((p: { pending: string }) => Number(p.pending)), "both in the node's pool").to.equal(2);
      await provider.send("evm_mine", []);
      await until(() => receipts().filter((r) => r.status === "included").length === 10 && receipts()[12].status === "sent", "both included, the rest sent", state);
      expect(new Set(receipts().slice(0, 10).map((r) => r.block)).size, "both in one block").to.equal(1);
      await provider.send("evm_mine", []);
      await until(() => receipts().every((r) => r.status === "included"), "all included", state);
      await rest;
      expect(await market.participantCount()).to.equal(13n);
    } finally {
      relayer.stop();
    }
  });
});
