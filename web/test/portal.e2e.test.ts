/**
 * The portal in headless Chromium against anvil: a new prosumer signs in with a keystore, registers,
 * is authorized, is proposed a meter by the operator through the portal, deposits and accepts it, bids (sealed),
 * reloads, sees the bid revealed by the page, cleared and paid; the operator view shows the
 * interval's results and draws its charts; bad inputs get a clear message and change nothing.
 * Block time is moved forward with anvil's evm_setNextBlockTimestamp, so the day runs in seconds.
 *
 * With PORTAL_E2E_GETH=1 the same runs once against Geth: a two-node Clique chain (1.13.15, a block
 * a second) from scripts/geth/chain.ts, the portal proxying both nodes, a market of 60-second
 * intervals, and time that passes for real (about four minutes).
 */
import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { JsonRpcProvider, NonceManager, Wallet, encryptKeystoreJson, parseEther } from "ethers";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { Side, clearUntilDone, commitmentOf, newSalt } from "../../lib/market";
import { weiToEther } from "../../lib/units";
import type { EnergyMarket } from "../../typechain-types";
import { Anvil } from "./support/anvil";
import { DESKTOP, PHONE, launch, layoutProblems, shot } from "./support/browser";
import { Counterparty, TestMarket, botBuys, counterparty, deployTestMarket, fund, provider, times, warp } from "./support/market";
import { OUTPUT, WEB_ROOT } from "./support/paths";
import { startPortal } from "../server/portal";
import { Chain, startChain, stopChain } from "../../scripts/geth/chain";

const GETH = process.env.PORTAL_E2E_GETH === "1";
let geth: Chain | undefined;
/**
 * Meters' rated power: 2.5 kWh in one interval on both chains (10 kW for 15 minutes on anvil, 150 kW
 * for the minute of an interval on Geth), so the security and the limits the page states are the same.
 */
const RATED_KW = GETH ? 150 : 10;

const PASSWORD = "correct horse battery staple";
const KEYS = path.join(OUTPUT, "keystores");

let anvil: Anvil;
let p: JsonRpcProvider;
let m: TestMarket;
let portal: Awaited<ReturnType<typeof startPortal>>;
let browser: Browser;
let prosumerCtx: BrowserContext;
let operatorCtx: BrowserContext;
let prosumer: Page;
let operator: Page;
/** What the portal's server said: which node it used, and any /rpc request it refused. */
const portalLog: string[] = [];

const prosumerWallet = Wallet.createRandom();
const meterWallet = Wallet.createRandom();
let prosumerKeystore: string;
let operatorKeystore: string;
let prosumerId = 0;
/** the buyer on the other side, driven from here */
let bot: Counterparty;
let d = 0; // the delivery interval the prosumer trades

async function keystoreFile(name: string, key: string): Promise<string> {
  mkdirSync(KEYS, { recursive: true });
  // a light scrypt cost keeps the test fast; the page decrypts any standard keystore
  const w = new Wallet(key);
  const json = await encryptKeystoreJson({ address: w.address, privateKey: w.privateKey }, PASSWORD, { scrypt: { N: 1 << 10 } });
  const file = path.join(KEYS, `${name}.json`);
  writeFileSync(file, json);
  return file;
}

async function signIn(page: Page, file: string, password = PASSWORD, scope = page.locator("body")) {
  await scope.getByTestId("keystore-file").first().setInputFiles(file);
  await scope.getByTestId("keystore-password").first().fill(password);
  await scope.getByTestId("keystore-submit").first().click();
}

const chainBalance = async (id: number) => (await m.market.walletOf(id)).balance;

describe(`the portal in a browser${GETH ? " on Geth Clique" : ""}`, { timeout: GETH ? 600_000 : 240_000 }, () => {
  before(async () => {
    if (GETH) {
      geth = await startChain({ engine: "clique", nodes: 2, period: 1, dir: path.join(OUTPUT, "geth"), log: () => undefined });
      p = provider(geth.rpcUrls[0], geth.chainId);
      const operatorKey = Wallet.fromEncryptedJsonSync(readFileSync(geth.operator.keystore, "utf8"), readFileSync(geth.operator.passwordFile, "utf8").trim()).privateKey;
      // real time: windows long enough for a person (and a loaded CI machine) to act in
      m = await deployTestMarket(p, 60, { operatorKey, windows: { commitSeconds: 24, revealSeconds: 12, settleOffsetSeconds: 10, readingGraceSeconds: 10 } });
    } else {
      anvil = await Anvil.start(["--hardfork", "london"]);
      p = provider(anvil.url);
      m = await deployTestMarket(p);
    }
    portal = await startPortal({ deployment: m.deployment, rpcUrl: geth ? geth.rpcUrls : anvil.url, distDir: path.join(WEB_ROOT, "dist"), log: (l) => portalLog.push(l) });
    await fund(p, prosumerWallet.address, "10");
    await fund(p, meterWallet.address, "1");
    prosumerKeystore = await keystoreFile("prosumer", prosumerWallet.privateKey);
    operatorKeystore = await keystoreFile("operator", m.operatorKey);
    bot = await counterparty(p, m, "ev-buyer", 7, RATED_KW);

    browser = await launch();
    prosumerCtx = await browser.newContext({ viewport: PHONE });
    operatorCtx = await browser.newContext({ viewport: DESKTOP });
    prosumer = await prosumerCtx.newPage();
    operator = await operatorCtx.newPage();
    await prosumer.goto(`${portal.url}#/prosumer`);
    await operator.goto(`${portal.url}#/operator`);
  });

  afterEach(async () => {
    // the state each test left, for a look when one fails
    await prosumer?.screenshot({ path: path.join(OUTPUT, "last-prosumer.png"), fullPage: true }).catch(() => undefined);
    await operator?.screenshot({ path: path.join(OUTPUT, "last-operator.png"), fullPage: true }).catch(() => undefined);
  });

  after(async () => {
    await browser?.close();
    await portal?.close();
    p?.destroy();
    await anvil?.stop();
    if (geth) await stopChain(geth.dir);
  });

  test("a malformed keystore and a wrong password get a clear message and sign nobody in", async () => {
    const err = prosumer.getByTestId("sign-in-error");
    await prosumer.getByTestId("keystore-file").setInputFiles({ name: "notes.json", mimeType: "application/json", buffer: Buffer.from("this is not json") });
    await prosumer.getByTestId("keystore-password").fill("x");
    await prosumer.getByTestId("keystore-submit").click();
    await err.getByText("not a keystore: it is not valid JSON").waitFor();
    await prosumer.getByTestId("keystore-file").setInputFiles({ name: "other.json", mimeType: "application/json", buffer: Buffer.from('{"address":"0x12"}') });
    await prosumer.getByTestId("keystore-submit").click();
    await err.getByText("not an encrypted keystore").waitFor();
    await signIn(prosumer, prosumerKeystore, "wrong password");
    await err.getByText("Wrong password for this keystore. Nothing was signed in.").waitFor();
    await shot(prosumer, "sign-in-wrong-password");
    assert.equal(await prosumer.getByTestId("signed-in").count(), 0);
    await signIn(prosumer, prosumerKeystore);
    await prosumer.getByTestId("signed-in").waitFor();
    assert.match(await prosumer.getByTestId("signed-in").innerText(), new RegExp(prosumerWallet.address.slice(0, 6)));
  });

  test("the prosumer registers; the operator authorizes and proposes a meter in the portal; the prosumer deposits and accepts it", async () => {
    await prosumer.getByTestId("register-name").fill("rooftop-solar");
    await prosumer.getByTestId("register-green").check();
    await shot(prosumer, "register");
    await prosumer.getByTestId("register-submit").click();
    await prosumer.getByTestId("authorization").getByText("waiting for the operator's authorization").waitFor();
    prosumerId = Number(await m.market.idOf(prosumerWallet.address));
    assert.ok(prosumerId > 0);

    const card = operator.getByTestId("participants");
    await card.getByTestId(`participant-${prosumerId}`).waitFor();
    assert.ok(await card.getByTestId(`authorize-${prosumerId}`).isDisabled(), "actions need the operator's account");
    await signIn(operator, operatorKeystore, PASSWORD, card);
    await operator.getByTestId("session-chip").waitFor();
    await card.getByTestId(`authorize-${prosumerId}`).click();
    await card.getByTestId("participants-msg").getByText(`#${prosumerId} rooftop-solar is authorized to trade`).waitFor();
    await card.getByTestId(`bind-${prosumerId}`).click();
    await operator.getByTestId("bind-number").fill("000000000042");
    await operator.getByTestId("bind-account").fill("not an address");
    await operator.getByTestId("bind-kw").fill(String(RATED_KW));
    await operator.getByTestId("bind-submit").click();
    await operator.getByTestId("bind-msg").getByText("must be an Ethereum address").waitFor();
    await operator.getByTestId("bind-account").fill(meterWallet.address);
    await operator.getByTestId("bind-submit").click();
    await operator.getByTestId("bind-form").waitFor({ state: "detached" });
    await operator.getByTestId("propose-notice").getByText(`Meter 000000000042 proposed to #${prosumerId} rooftop-solar: it is bound when rooftop-solar accepts it`).waitFor();
    await card.getByTestId(`meter-${prosumerId}`).getByText("none (proposal waits)").waitFor();
    const [, proposed] = await m.market.meterProposalOf(prosumerId);
    assert.equal(proposed.meterNumber, 42n);
    assert.equal((await m.market.meterOf(prosumerId)).meterNumber, 0n, "nothing is bound before the prosumer accepts");
    assert.equal((await m.market.participant(prosumerId)).authorized, true);

    // the prosumer sees the proposal; a meter of 2.5 kWh an interval keeps 2 × 2.5 kWh × 0.0012 ETH/kWh × 1.15 = 0.0069 ETH
    await prosumer.getByTestId("authorization").getByText("authorized to trade").waitFor();
    const offer = prosumer.getByTestId("meter-offer");
    await offer.getByText(`The operator proposes meter 000000000042 (rated ${RATED_KW} kW`).waitFor();
    await offer.getByTestId("meter-accept").click();
    await prosumer.getByTestId("meter-msg").getByText("This meter keeps a security of 0.0069 ETH in your market wallet, which has 0 ETH free: deposit 0.0069 ETH more first. Nothing was sent.").waitFor();
    assert.equal((await m.market.meterOf(prosumerId)).meterNumber, 0n);
    await shot(prosumer, "meter-offer");
    await prosumer.getByTestId("wallet-amount").fill("0.05");
    await prosumer.getByTestId("deposit").click();
    await prosumer.getByTestId("wallet-msg").getByText("Deposited 0.05 ETH").waitFor();
    await prosumer.getByTestId("wallet-balance").getByText("0.05 ETH").waitFor();
    assert.equal(await chainBalance(prosumerId), parseEther("0.05"));
    await offer.getByTestId("meter-accept").click();
    await prosumer.getByTestId("meter-msg").getByText("Meter 000000000042 is bound to you; its security of 0.0069 ETH stays in your market wallet while it is bound.").waitFor();
    await prosumer.getByTestId("meter").getByText(`000000000042 (${RATED_KW} kW)`).waitFor();
    await prosumer.getByTestId("wallet-security").getByText("0.0069 ETH").waitFor();
    assert.equal((await m.market.meterOf(prosumerId)).meterNumber, 42n);
    await card.getByTestId(`meter-${prosumerId}`).getByText("000000000042").waitFor();
  });

  test("a bid above the wallet, or with a malformed quantity, gets a clear message and changes nothing", async () => {
    const current = Number(await m.market.currentInterval());
    d = current + 2;
    await warp(p, (await times(m.market, d)).commitStart + 1);
    await prosumer.locator(`[data-testid=phase-clock][data-phase=commit][data-interval="${d - 1}"]`).waitFor();
    await prosumer.getByTestId("bid-buy").check();
    await prosumer.getByTestId("bid-energy").fill("3");
    await prosumer.getByTestId("bid-price").fill("0.025");
    await prosumer.getByTestId("bid-submit").click();
    const msg = prosumer.getByTestId("bid-msg");
    await msg.getByText(`Your meter is rated ${RATED_KW} kW: at most 2.5 kWh in one interval. Nothing was sent.`).waitFor();
    await prosumer.getByTestId("bid-energy").fill("2");
    await prosumer.getByTestId("bid-submit").click();
    await msg.getByText("This bid is above your wallet").waitFor();
    assert.match(await msg.innerText(), /can cost 0\.05 ETH.*beyond the 0\.001 ETH margin and your meter's 0\.0069 ETH security your market wallet has 0\.0421 ETH free.*Nothing was sent/s);
    await shot(prosumer, "bid-above-wallet");
    await prosumer.getByTestId("bid-energy").fill("0.12345");
    await prosumer.getByTestId("bid-submit").click();
    await msg.getByText("Energy (kWh): at most 3 decimals allowed").waitFor();
    const onChain = await m.market.bidOf(d, prosumerId);
    assert.equal(onChain.committed, false);
    assert.equal(await chainBalance(prosumerId), parseEther("0.05"));
    assert.equal(await prosumer.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("grid-ledger/bids/") && localStorage.getItem(k) !== "[]").length), 0);
  });

  test("a sealed bid is committed, survives a reload, is revealed by the page, cleared and paid", async () => {
    await prosumer.getByTestId("bid-sell").check();
    await prosumer.getByTestId("bid-energy").fill("0.5");
    await prosumer.getByTestId("bid-price").fill("0.0005");
    await prosumer.getByTestId("bid-submit").click();
    await prosumer.getByTestId("bid-msg").getByText(`Sealed bid committed for interval ${d}.`).waitFor();
    const warning = prosumer.getByTestId("bid-warning");
    assert.match(await warning.innerText(), /keep this tab\s+open/);
    assert.match(await warning.innerText(), /forfeited to the incentive pool/);
    assert.equal((await m.market.bidOf(d, prosumerId)).committed, true);
    await shot(prosumer, "bid-committed");

    // the counterparty bids to buy
    const botBid = { interval: d, side: Side.Buy, energyWh: 500n, priceWeiPerKWh: parseEther("0.0007"), salt: newSalt() };
    await (await m.market.connect(bot.wallet).commitBid(d, commitmentOf(BigInt(m.deployment.chainId), m.deployment.market, bot.address, botBid))).wait();

    // a reload forgets the key, not the sealed bid
    await prosumer.reload();
    await signIn(prosumer, prosumerKeystore);
    await prosumer.locator(`[data-testid=my-bids] tr[data-interval="${d}"][data-state=committed]`).waitFor();

    const t = await times(m.market, d);
    await warp(p, t.revealStart + 1);
    await prosumer.locator(`[data-testid=my-bids] tr[data-interval="${d}"][data-state=revealed]`).waitFor({ timeout: 30_000 });
    assert.equal((await m.market.bidOf(d, prosumerId)).revealed, true);
    await (await m.market.connect(bot.wallet).revealBid(d, botBid.side, botBid.energyWh, botBid.priceWeiPerKWh, botBid.salt, 0)).wait();

    await warp(p, t.revealEnd + 1);
    m.operator.reset(); // the operator also signed in the portal
    await clearUntilDone(m.market.connect(m.operator) as EnergyMarket, d);
    const trades = prosumer.getByTestId(`hist-trades-${d}`);
    await trades.waitFor();
    assert.match(await trades.innerText(), new RegExp(`sold 0\\.5 kWh to #${bot.id} @ 0\\.0006: \\+0\\.0003 ETH`));
    await prosumer.getByTestId("wallet-balance").getByText("0.0503 ETH").waitFor();

    // delivery: both meters post their registers (prosumer exported 0.5 kWh, the buyer imported 0.5), then settlement
    await warp(p, t.end + 1);
    const meter = new NonceManager(meterWallet.connect(p));
    // each meter posts from the interval it was bound in (its settlement starts there)
    const from = async (id: number) => Math.max(d - 2, Number((await m.market.settlementOf(id)).nextInterval));
    for (let k = await from(prosumerId); k <= d; k++) await (await m.market.connect(meter).postReading(42, k, 0, k === d ? 500 : 0)).wait();
    for (let k = await from(bot.id); k <= d; k++) await (await m.market.connect(bot.meter).postReading(7, k, k === d ? 500 : 0, 0)).wait();
    await warp(p, t.settleStart + 1);
    for (const id of [prosumerId, bot.id]) {
      for (let k = Number((await m.market.settlementOf(id)).nextInterval); k <= d; k++) {
        await clearUntilDone(m.market.connect(m.operator) as EnergyMarket, k); // what the cycle daemon does
        await (await m.market.connect(m.operator).settle(k, [id])).wait();
      }
    }
    const paid = await chainBalance(prosumerId);
    assert.ok(paid > parseEther("0.0503"), "the reward for an accurate bid was paid");
    await prosumer.getByTestId(`hist-incentive-${d}`).waitFor();
    await prosumer.getByTestId("wallet-balance").getByText(`${weiToEther(paid)} ETH`).waitFor();
    assert.match(await prosumer.getByTestId(`hist-incentive-${d}`).innerText(), /net \+0\.000003 ETH/);
    await shot(prosumer, "prosumer-history");
  });

  test("the operator view shows the interval's order book, trades, price, settlements and meters, and draws its charts", async () => {
    const input = operator.getByTestId("interval-input");
    await input.fill(String(d));
    await input.dispatchEvent("change");
    await operator.locator(`[data-testid=order-book][data-rows="2"]`).waitFor();
    await operator.locator(`[data-testid=trades][data-rows="1"]`).waitFor();
    await operator.locator(`[data-testid=settlements][data-rows="2"]`).waitFor();
    assert.match(await operator.getByTestId("interval-price").innerText(), /0\.0006 ETH/);
    assert.match(await operator.getByTestId("interval-trades").innerText(), /1, 0\.5 kWh/);
    await operator.getByTestId(`reading-${prosumerId}`).getByText(`interval ${d}`).waitFor();
    for (const chart of ["price-chart", "energy-chart"]) {
      await operator.locator(`[data-testid=${chart}][data-drawn]`).waitFor();
      const inked = await operator.getByTestId(chart).evaluate((c) => {
        const canvas = c as HTMLCanvasElement;
        const px = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
        let n = 0;
        for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
        return n;
      });
      assert.ok(inked > 500, `${chart} has ink (${inked} pixels)`);
    }
    // the day's energy for interval d (the charts' data table): sold 0.5 kWh, metered 0.5 kWh by that
    // seller; this page followed the settlements live, a page opened now loads them from history
    const energyOf = (page: Page) =>
      page.waitForFunction(
        (label) => {
          const cells = [...document.querySelectorAll(`[data-testid=energy-chart-data] tr[data-label^="${label} "] td`)].map((td) => td.textContent);
          return cells.length === 2 && cells.every((c) => c !== "–") ? cells : undefined;
        },
        String(d),
      ).then((h) => h.jsonValue());
    assert.deepEqual(await energyOf(operator), ["0.5", "0.5"]);
    const fresh = await operatorCtx.newPage();
    await fresh.goto(`${portal.url}#/operator`);
    await fresh.waitForFunction(() => document.documentElement.dataset.energy === "loaded");
    assert.deepEqual(await energyOf(fresh), ["0.5", "0.5"]);
    await fresh.close();
    await shot(operator, "operator");
    await operator.setViewportSize(PHONE);
    await operator.waitForTimeout(300);
    assert.ok(await operator.evaluate(() => document.documentElement.scrollWidth <= 390), "nothing is wider than a phone: wide tables scroll inside their box");
    await shot(operator, "operator");
    await prosumer.setViewportSize(DESKTOP);
    await shot(prosumer, "prosumer-history");
  });

  test("the interval results open on the newest settled interval, not a newer one only cleared", async () => {
    // intervals d+1 and d+2 are cleared (nobody bid) but not settled
    m.operator.reset();
    for (const k of [d + 1, d + 2]) await clearUntilDone(m.market.connect(m.operator) as EnergyMarket, k);
    assert.equal(Number((await m.market.intervalOf(d + 2)).stage), 4, "cleared");
    const page = await operatorCtx.newPage();
    await page.goto(`${portal.url}#/operator`);
    await page.waitForFunction(() => document.documentElement.dataset.energy === "loaded");
    await page.getByTestId("interval-results").getByRole("heading", { name: `Interval ${d} results`, exact: true }).waitFor();
    assert.equal(await page.getByTestId("interval-input").inputValue(), String(d));
    await page.locator(`[data-testid=settlements][data-rows="2"]`).waitFor();
    assert.equal(await page.getByTestId("settlements").getByText("Not settled yet").count(), 0);
    await page.close();
  });

  test("a bid's notice goes when the form moves on to the next interval; placeholders do not look like values", async () => {
    await prosumer.setViewportSize(PHONE);
    // two buyers will share the sale: the second one joins before the commit window, which on Geth
    // lasts 24 s of real time
    const second = await counterparty(p, m, "heat-pump", 8, RATED_KW);
    const e = Number(await m.market.currentInterval()) + 2;
    await warp(p, (await times(m.market, e)).commitStart + 1);
    const botCommits = Promise.all([botBuys(m, bot, e, 200n, "0.0007"), botBuys(m, second, e, 200n, "0.00065")]);
    await prosumer.locator(`[data-testid=phase-clock][data-phase=commit][data-interval="${e - 1}"]`).waitFor();
    const energyInput = prosumer.getByTestId("bid-energy");
    assert.equal(await energyInput.inputValue(), "", "empty until typed");
    assert.match((await energyInput.getAttribute("placeholder"))!, /^e\.g\. /);
    assert.equal(await energyInput.evaluate((el) => getComputedStyle(el, "::placeholder").fontStyle), "italic");
    await prosumer.getByTestId("bid-sell").check();
    await energyInput.fill("0.4");
    await prosumer.getByTestId("bid-price").fill("0.0006");
    await prosumer.getByTestId("bid-submit").click();
    await prosumer.getByTestId("bid-msg").getByText(`Sealed bid committed for interval ${e}.`).waitFor();
    // the prosumer's history gets an interval with two trades
    const reveals = await botCommits;
    const t = await times(m.market, e);
    await warp(p, t.revealStart + 1);
    // the page reveals its bid while the buyers reveal theirs (12 s of real time on Geth)
    await Promise.all([prosumer.locator(`[data-testid=my-bids] tr[data-interval="${e}"][data-state=revealed]`).waitFor({ timeout: 30_000 }), ...reveals.map((reveal) => reveal())]);
    assert.equal(await prosumer.getByTestId("bid-msg").count(), 1, "the form is still for interval e");
    await warp(p, t.revealEnd + 1);
    m.operator.reset();
    await clearUntilDone(m.market.connect(m.operator) as EnergyMarket, e);
    // the next interval begins: the form is for interval e+1, the notice about e is gone
    await warp(p, t.start + 1);
    await prosumer.getByTestId("bid").getByRole("heading", { name: `Sealed bid for interval ${e + 1}`, exact: true }).waitFor();
    assert.equal(await prosumer.getByTestId("bid-msg").count(), 0);
    const trades = prosumer.getByTestId(`hist-trades-${e}`);
    await trades.waitFor();
    assert.equal((await trades.locator(".block").allInnerTexts()).length, 2);
    d = e; // the phone layouts are checked on this interval
  });

  test("phone layouts: nothing wider than the screen, no row overlapping the next, kWh, price and paid on screen", async () => {
    await prosumer.setViewportSize(PHONE);
    await operator.setViewportSize(PHONE);
    const input = operator.getByTestId("interval-input");
    await input.fill(String(d));
    await input.dispatchEvent("change");
    await operator.locator(`[data-testid=trades][data-rows="2"]`).waitFor();
    await prosumer.getByTestId(`hist-trades-${d}`).waitFor();
    await operator.waitForTimeout(300);
    assert.deepEqual(await layoutProblems(prosumer), [], "the prosumer's page at 390 px");
    assert.deepEqual(await layoutProblems(operator), [], "the operator's page at 390 px");
    // each trade's kWh, price and amount are on screen without scrolling sideways
    for (const trade of await operator.getByTestId("trades").locator(".vt-body [role=row]").all()) {
      for (const title of ["kWh", "ETH/kWh", "Paid"]) {
        const box = (await trade.locator(`[role=cell][data-title="${title}"]`).boundingBox())!;
        assert.ok(box.x >= 0 && box.x + box.width <= PHONE.width, `${title} is on screen (${box.x}–${box.x + box.width})`);
      }
    }
    await shot(prosumer, "prosumer-history");
    await shot(operator, "operator");
    await operator.setViewportSize(DESKTOP);
    await prosumer.setViewportSize(DESKTOP);
    await operator.waitForTimeout(300);
    assert.deepEqual(await layoutProblems(operator), [], "the operator's page at 1366 px");
    assert.deepEqual(await layoutProblems(prosumer), [], "the prosumer's page at 1366 px");
    await shot(operator, "operator");
    await shot(prosumer, "prosumer-history");
  });

  test("an injected wallet is switched to the market's chain, which it is given when it does not know it", async () => {
    const page = await browser.newPage({ viewport: DESKTOP });
    const account = new Wallet(m.operatorKey).address;
    await page.addInitScript((acct: string) => {
      const w = window as unknown as { ethereum: unknown; walletCalls: { method: string; params?: unknown }[] };
      let chain = "0x1";
      w.walletCalls = [];
      w.ethereum = {
        async request({ method, params }: { method: string; params?: unknown[] }) {
          w.walletCalls.push({ method, params });
          if (method === "eth_requestAccounts" || method === "eth_accounts") return [acct];
          if (method === "eth_chainId") return chain;
          if (method === "wallet_switchEthereumChain") throw Object.assign(new Error("Unrecognized chain ID"), { code: 4902 });
          if (method === "wallet_addEthereumChain") {
            chain = (params![0] as { chainId: string }).chainId;
            return null;
          }
          const res = await fetch("rpc", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
          const body = await res.json();
          if (body.error) throw Object.assign(new Error(body.error.message), body.error);
          return body.result;
        },
      };
    }, account);
    await page.goto(`${portal.url}#/prosumer`);
    await page.getByTestId("injected-sign-in").click();
    await page.getByTestId("signed-in").getByText("browser wallet").waitFor();
    const added = await page.evaluate(() => (window as unknown as { walletCalls: { method: string; params?: { chainId: string; rpcUrls: string[] }[] }[] }).walletCalls.find((c) => c.method === "wallet_addEthereumChain"));
    assert.equal(added?.params?.[0].chainId, "0x" + m.deployment.chainId.toString(16));
    assert.match(added!.params![0].rpcUrls[0], /\/rpc$/);
    await page.close();
  });

  test("everything the pages and the wallet asked of /rpc was on its allowlist", () => {
    assert.deepEqual(
      portalLog.filter((l) => l.includes("/rpc refused")),
      [],
    );
  });
});
