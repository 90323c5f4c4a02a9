/**
 * The page signs, the platform carries, in headless Chromium against anvil with the portal's
 * relayer paying the gas: a prosumer whose account never holds ether registers, accepts its meter,
 * commits and reveals a sealed bid, is settled and withdraws to its own account, every step a
 * message signed in the page and carried by the relayer, its receipt (transaction hash, block) on
 * the page. When the relayer stops, the page says why nothing was sent (no ether), or sends the
 * prosumer's own transaction and says so.
 */
import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { JsonRpcProvider, NonceManager, Wallet, encryptKeystoreJson, parseEther } from "ethers";
import type { Browser, Page } from "playwright-core";
import { Side, clearUntilDone, commitmentOf, newMeter, newSalt } from "../../lib/market";
import { weiToEther } from "../../lib/units";
import type { EnergyMarket } from "../../typechain-types";
import { Anvil, freePort } from "./support/anvil";
import { DESKTOP, PHONE, launch, layoutProblems, shot } from "./support/browser";
import { Counterparty, TestMarket, counterparty, deployTestMarket, devKey, fund, provider, times, warp } from "./support/market";
import { OUTPUT, WEB_ROOT } from "./support/paths";
import { startPortal } from "../server/portal";

const PASSWORD = "relayed prosumer";
const RELAYER = new Wallet(devKey(2));

let anvil: Anvil;
let p: JsonRpcProvider;
let m: TestMarket;
let port: number;
let portal: Awaited<ReturnType<typeof startPortal>>;
const portalLog: string[] = [];
let browser: Browser;
let page: Page;
let keystore: string;
let id = 0;
let bot: Counterparty;
const prosumer = Wallet.createRandom();
const meter = Wallet.createRandom();

const serve = (relayer: boolean) =>
  startPortal({
    deployment: m.deployment,
    rpcUrl: anvil.url,
    distDir: path.join(WEB_ROOT, "dist"),
    port,
    log: (l) => portalLog.push(l),
    relayer: relayer ? { wallet: RELAYER, flushMs: 300 } : undefined,
  });

/** The receipt `testid` shows once included: carried by `via`, its transaction on chain in the block it names. */
async function included(testid: string, via: "relayer" | "direct", not?: string) {
  const receipt = page.locator(`[data-testid=${testid}][data-status=included]${not ? `:not([data-hash="${not}"])` : ""}`);
  await receipt.waitFor({ timeout: 30_000 });
  assert.equal(await receipt.getAttribute("data-via"), via, `${testid} was carried by the ${via}`);
  const hash = (await receipt.getAttribute("data-hash"))!;
  const block = Number(await receipt.getAttribute("data-block"));
  const tx = (await p.getTransactionReceipt(hash))!;
  assert.equal(tx.blockNumber, block, "the block shown is the transaction's");
  assert.equal(tx.status, 1);
  assert.equal(tx.from, via === "relayer" ? RELAYER.address : prosumer.address, "who paid the gas");
  assert.equal(tx.to, m.deployment.market);
  assert.equal(await receipt.getByTestId(`${testid}-hash`).getAttribute("title"), hash, "the hash shown is the transaction's");
  assert.match(await receipt.getByTestId(`${testid}-block`).innerText(), new RegExp(`Included in block ${block}`));
  return { hash, block, receipt };
}

describe("the portal's relayer in a browser", { timeout: 240_000 }, () => {
  before(async () => {
    anvil = await Anvil.start(["--hardfork", "london"]);
    p = provider(anvil.url);
    m = await deployTestMarket(p);
    port = await freePort();
    portal = await serve(true);
    mkdirSync(path.join(OUTPUT, "keystores"), { recursive: true });
    keystore = path.join(OUTPUT, "keystores", "zero-ether.json");
    writeFileSync(keystore, await encryptKeystoreJson({ address: prosumer.address, privateKey: prosumer.privateKey }, PASSWORD, { scrypt: { N: 1 << 10 } }));
    await fund(p, meter.address, "1");
    bot = await counterparty(p, m, "ev-buyer", 7, 10);
    browser = await launch();
    page = await browser.newPage({ viewport: DESKTOP });
    await page.goto(`${portal.url}#/prosumer`);
    await page.getByTestId("keystore-file").setInputFiles(keystore);
    await page.getByTestId("keystore-password").fill(PASSWORD);
    await page.getByTestId("keystore-submit").click();
    await page.getByTestId("signed-in").waitFor();
  });

  afterEach(async () => {
    await page?.screenshot({ path: path.join(OUTPUT, "last-relayed.png"), fullPage: true }).catch(() => undefined);
  });

  after(async () => {
    await browser?.close();
    await portal?.close();
    p?.destroy();
    await anvil?.stop();
  });

  test("a prosumer whose account holds no ether registers, accepts its meter, bids sealed, is settled and withdraws, all carried by the relayer", async () => {
    assert.equal(await p.getBalance(prosumer.address), 0n);
    await page.getByTestId("register-name").fill("balcony-pv");
    await page.getByTestId("register-green").check();
    await page.getByTestId("register-submit").click();
    await included("register-receipt", "relayer");
    await page.getByTestId("authorization").getByText("waiting for the operator's authorization").waitFor();
    id = Number(await m.market.idOf(prosumer.address));
    assert.equal((await m.market.participant(id)).name, "balcony-pv");

    // the operator authorizes it and proposes its meter; a neighbour deposits for it
    m.operator.reset();
    await (await m.market.connect(m.operator).authorize(id, true)).wait();
    await (await m.market.connect(m.operator).proposeMeter(id, newMeter(42, meter.address, 10_000))).wait();
    await page.getByTestId("meter-offer").getByTestId("meter-accept").click();
    await page.getByTestId("meter-msg").getByText("your account holds no ether, so ask the operator or a neighbour to deposit 0.0069 ETH for you").waitFor();
    await page.getByTestId("deposit-for-hint").getByText(`deposit for you as participant #${id}`).waitFor();
    const neighbour = new Wallet(devKey(3), p);
    await (await m.market.connect(neighbour).depositFor(id, { value: parseEther("0.05") })).wait();
    await page.getByTestId("wallet-balance").getByText("0.05 ETH").waitFor();
    await page.getByTestId("meter-offer").getByTestId("meter-accept").click();
    await included("meter-receipt", "relayer");
    await page.getByTestId("meter").getByText("000000000042 (10 kW)").waitFor();
    assert.equal((await m.market.meterOf(id)).account, meter.address);

    // a sealed bid, then another that replaces it (the signed commit names the one it replaces):
    // each salt is in this browser before the signed commit leaves it
    const d = Number(await m.market.currentInterval()) + 2;
    const t = await times(m.market, d);
    await warp(p, t.commitStart + 1);
    await page.locator(`[data-testid=phase-clock][data-phase=commit][data-interval="${d - 1}"]`).waitFor();
    const storedAtSubmit: string[] = [];
    await page.route("**/relay/commit", async (route) => {
      storedAtSubmit.push(await page.evaluate(() => Object.keys(localStorage).map((k) => localStorage.getItem(k) ?? "").join("")));
      await route.continue();
    });
    await page.getByTestId("bid-sell").check();
    await page.getByTestId("bid-energy").fill("0.4");
    await page.getByTestId("bid-price").fill("0.0005");
    await page.getByTestId("bid-submit").click();
    const first = await included("bid-receipt", "relayer");
    await page.getByTestId("bid-energy").fill("0.5");
    await page.getByTestId("bid-price").fill("0.0005");
    await page.getByTestId("bid-submit").click();
    const commit = await included("bid-receipt", "relayer", first.hash);
    await page.getByTestId("bid-msg").getByText(`Sealed bid committed for interval ${d}.`).waitFor();
    await page.unroute("**/relay/commit");
    assert.equal(storedAtSubmit.length, 2);
    const stored = (energyWh: number) => new RegExp(`"interval":${d},"side":0,"energyWh":"${energyWh}","priceWeiPerKWh":"${parseEther("0.0005")}","salt":"0x[0-9a-f]{64}"`);
    assert.match(storedAtSubmit[0], stored(400), "the salt was stored before the commit was submitted");
    assert.match(storedAtSubmit[1], stored(500), "the replacing bid's salt too");
    assert.match(storedAtSubmit[1], /"previous":\[\{"side":0,"energyWh":"400"/, "and the replaced one's, until the chain shows which it holds");
    const committed = await m.market.queryFilter(m.market.filters.BidCommitted(d, id));
    assert.deepEqual(
      committed.map((e) => e.transactionHash),
      [first.hash, commit.hash],
      "both commits were carried by the relayer, the second replacing the first",
    );
    assert.equal((await m.market.bidOf(d, id)).committed, true);
    await page.locator(`[data-testid=my-bids] tr[data-interval="${d}"] [data-testid=commit-receipt][data-hash="${commit.hash}"]`).waitFor();
    await shot(page, "relayed-commit");
    await page.setViewportSize(PHONE);
    await page.waitForTimeout(200);
    assert.deepEqual(await layoutProblems(page), [], "the receipts at 390 px");
    await shot(page, "relayed-commit");
    await page.setViewportSize(DESKTOP);

    // the counterparty buys; the page reveals through the relayer in the reveal window
    const buy = { interval: d, side: Side.Buy, energyWh: 500n, priceWeiPerKWh: parseEther("0.0007"), salt: newSalt() };
    await (await m.market.connect(bot.wallet).commitBid(d, commitmentOf(31337n, m.deployment.market, bot.address, buy))).wait();
    await warp(p, t.revealStart + 1);
    const revealed = page.locator(`[data-testid=my-bids] tr[data-interval="${d}"][data-state=revealed] [data-testid=reveal-receipt][data-via=relayer]`);
    await revealed.waitFor({ timeout: 30_000 });
    const revealTx = (await p.getTransactionReceipt((await revealed.getAttribute("data-hash"))!))!;
    assert.equal(revealTx.from, RELAYER.address);
    assert.equal(revealTx.blockNumber, Number(await revealed.getAttribute("data-block")));
    assert.equal((await m.market.bidOf(d, id)).revealed, true);
    await (await m.market.connect(bot.wallet).revealBid(d, buy.side, buy.energyWh, buy.priceWeiPerKWh, buy.salt, 0)).wait();

    // cleared, delivered (the meters post), settled: what the cycle daemon and the bridge do
    await warp(p, t.revealEnd + 1);
    m.operator.reset();
    await clearUntilDone(m.market.connect(m.operator) as EnergyMarket, d);
    await warp(p, t.end + 1);
    const from = async (who: number) => Math.max(d - 2, Number((await m.market.settlementOf(who)).nextInterval));
    const meterSigner = new NonceManager(meter.connect(p));
    for (let k = await from(id); k <= d; k++) await (await m.market.connect(meterSigner).postReading(42, k, 0, k === d ? 500 : 0)).wait();
    for (let k = await from(bot.id); k <= d; k++) await (await m.market.connect(bot.meter).postReading(7, k, k === d ? 500 : 0, 0)).wait();
    await warp(p, t.settleStart + 1);
    for (const who of [id, bot.id]) {
      for (let k = Number((await m.market.settlementOf(who)).nextInterval); k <= d; k++) {
        await clearUntilDone(m.market.connect(m.operator) as EnergyMarket, k);
        await (await m.market.connect(m.operator).settle(k, [who])).wait();
      }
    }
    await page.getByTestId(`hist-trades-${d}`).getByText(`sold 0.5 kWh to #${bot.id}`).waitFor();
    await page.getByTestId(`hist-incentive-${d}`).waitFor();

    // it withdraws to its own account, still without ether
    const withdrawable = (await m.market.walletOf(id)).withdrawable;
    assert.ok(withdrawable >= parseEther("0.01"));
    await page.getByTestId("wallet-amount").fill("0.01");
    await page.getByTestId("withdraw").click();
    await page.getByTestId("wallet-msg").getByText("Withdrew 0.01 ETH").waitFor();
    await included("wallet-receipt", "relayer");
    assert.equal(await p.getBalance(prosumer.address), parseEther("0.01"), "the ether is in the prosumer's own account");
    assert.equal(await p.getTransactionCount(prosumer.address), 0, "the prosumer never sent a transaction");
    assert.equal(await page.getByTestId("wallet-receipt").locator(".receipt-gas").innerText(), "The relayer paid the gas: your account paid nothing.");
    await shot(page, "relayed-withdrawal");
  });

  test("when the relayer stops, the page says why nothing was sent without ether, and with ether sends the prosumer's own transaction and says so", async () => {
    // the operator restarts the portal without a relayer key; the open page still thinks it has one
    await portal.close();
    portal = await serve(false);
    const before = await m.market.walletOf(id);
    const withdrawn = await p.getBalance(prosumer.address);
    await fund(p, prosumer.address, "0"); // as if it had spent the ether it withdrew
    await page.getByTestId("wallet-amount").fill("0.001");
    await page.getByTestId("withdraw").click();
    await page.getByTestId("wallet-msg").getByText("The portal's relayer is not running. Your account holds no ether to send it itself, so nothing was sent.").waitFor();
    assert.equal((await m.market.walletOf(id)).balance, before.balance, "nothing changed");
    assert.equal(await p.getTransactionCount(prosumer.address), 0);

    // with ether in its account (a neighbour sent some) it pays for its own transaction
    await fund(p, prosumer.address, weiToEther(withdrawn));
    await page.getByTestId("wallet-amount").fill("0.001");
    await page.getByTestId("withdraw").click();
    await page.getByTestId("wallet-msg").getByText("Withdrew 0.001 ETH").waitFor();
    const { receipt } = await included("wallet-receipt", "direct");
    assert.equal(await receipt.getByTestId("wallet-receipt-fallback").innerText(), "The portal's relayer is not running: sent from your own account instead.");
    assert.equal(await receipt.locator(".receipt-gas").innerText(), "Your account paid the gas.");
    assert.equal((await m.market.walletOf(id)).balance, before.balance - parseEther("0.001"));
    assert.equal(await p.getTransactionCount(prosumer.address), 1, "one transaction of its own");
    await shot(page, "relayed-fallback");
    await page.setViewportSize(PHONE);
    await page.waitForTimeout(200);
    assert.deepEqual(await layoutProblems(page), [], "the fallback receipt at 390 px");
    await shot(page, "relayed-fallback");
    assert.deepEqual(
      portalLog.filter((l) => l.includes("/rpc refused")),
      [],
      "the page asked /rpc only for served methods",
    );
  });
});
