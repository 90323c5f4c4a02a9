/**
 * A market for the browser tests: deployed with lib/market, grid and pool set up, on a local anvil
 * (time moved forward) or, with PORTAL_E2E_GETH=1, on a two-node Geth Clique chain (real time: warp
 * waits for block time; accounts are funded by the operator's transfers).
 */
import { HDNodeWallet, JsonRpcProvider, Network, NonceManager, Wallet, parseEther } from "ethers";
import { Schedule, Side, bindMeter, commitmentOf, deployMarketWithLibraries, newMeter, newSalt, readSchedule, scheduleFor } from "../../../lib/market";
import type { Deployment } from "../../../lib/deployment";
import type { EnergyMarket } from "../../../typechain-types";

export const DEV_MNEMONIC = "test test test test test test test test test test test junk";
export const devKey = (i: number) => HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).privateKey;

export function provider(url: string, chainId = 31337): JsonRpcProvider {
  return new JsonRpcProvider(url, Network.from(chainId), { staticNetwork: true, cacheTimeout: -1 });
}

const isAnvil = async (p: JsonRpcProvider) => (await p.getNetwork()).chainId === 31337n;
/** On Geth: the operator, who funds accounts by transfers (set by deployTestMarket). */
let funder: NonceManager | undefined;

export interface TestMarket {
  market: EnergyMarket;
  operator: NonceManager;
  operatorKey: string;
  deployment: Deployment;
}

/** Deploy with the paper's timing (900 s intervals) from the current interval boundary. */
export async function deployTestMarket(p: JsonRpcProvider, intervalSeconds = 900, o: { operatorKey?: string; windows?: Partial<Schedule> } = {}): Promise<TestMarket> {
  const operatorKey = o.operatorKey ?? devKey(0);
  const operator = new NonceManager(new Wallet(operatorKey, p));
  if (!(await isAnvil(p))) funder = operator;
  const now = (await p.getBlock("latest"))!.timestamp;
  const start = now - (now % intervalSeconds);
  const schedule = scheduleFor(intervalSeconds, start, o.windows);
  const { market, libraries } = await deployMarketWithLibraries(operator, schedule);
  const receipt = await market.deploymentTransaction()!.wait();
  await (await market.registerGrid(new Wallet(devKey(1)).address, "grid")).wait();
  await (await market.fundPool({ value: parseEther("1") })).wait();
  const deployment: Deployment = {
    network: (await isAnvil(p)) ? "localhost" : "privnet",
    chainId: Number((await p.getNetwork()).chainId),
    market: await market.getAddress(),
    libraries,
    operator: await operator.getAddress(),
    deployedAt: { block: receipt!.blockNumber, time: now },
    schedule: await readSchedule(market),
  };
  return { market, operator, operatorKey, deployment };
}

/** Move block time to `t` and mine a block there (anvil), or wait until the chain gets there (Geth). */
export async function warp(p: JsonRpcProvider, t: number) {
  const now = (await p.getBlock("latest"))!.timestamp;
  if (now >= t) return;
  if (!(await isAnvil(p))) {
    while ((await p.getBlock("latest"))!.timestamp < t) await new Promise((r) => setTimeout(r, 250));
    return;
  }
  await p.send("evm_setNextBlockTimestamp", [t]);
  await p.send("evm_mine", []);
}

export async function fund(p: JsonRpcProvider, address: string, ether: string) {
  if (funder) return void (await (await funder.sendTransaction({ to: address, value: parseEther(ether) })).wait());
  await p.send("anvil_setBalance", [address, "0x" + parseEther(ether).toString(16)]);
}

/** Times of delivery interval d (the contract's own view). */
export async function times(market: EnergyMarket, d: number) {
  const v = await market.intervalOf(d);
  const [start, interval] = await market.schedule();
  return {
    commitStart: Number(v.commitStart),
    revealStart: Number(v.revealStart),
    revealEnd: Number(v.revealEnd),
    settleStart: Number(v.settleStart),
    start: Number(start + BigInt(d) * interval),
    end: Number(start + BigInt(d + 1) * interval),
  };
}

export interface Counterparty {
  wallet: NonceManager;
  address: string;
  id: number;
  meter: NonceManager;
}

/** A counterparty driven from the test: registered, authorized, funded, and metered (proposed and accepted). */
export async function counterparty(p: JsonRpcProvider, m: TestMarket, name: string, meterNumber: number, ratedKw: number): Promise<Counterparty> {
  const bw = Wallet.createRandom(p);
  const bm = Wallet.createRandom(p);
  await fund(p, bw.address, "10");
  await fund(p, bm.address, "1");
  const signer = new NonceManager(bw);
  await (await m.market.connect(signer).register(name, true)).wait();
  const id = Number(await m.market.idOf(bw.address));
  m.operator.reset();
  await (await m.market.connect(m.operator).authorize(id, true)).wait();
  await (await m.market.connect(signer).deposit({ value: parseEther("1") })).wait();
  await bindMeter(m.market.connect(m.operator) as EnergyMarket, signer, id, newMeter(meterNumber, bm.address, ratedKw * 1000));
  return { wallet: signer, address: bw.address, id, meter: new NonceManager(bm) };
}

/** A counterparty's sealed buy: committed now; the function returned reveals it. */
export async function botBuys(m: TestMarket, b: Counterparty, interval: number, energyWh: bigint, price: string) {
  const bid = { interval, side: Side.Buy, energyWh, priceWeiPerKWh: parseEther(price), salt: newSalt() };
  await (await m.market.connect(b.wallet).commitBid(interval, commitmentOf(BigInt(m.deployment.chainId), m.deployment.market, b.address, bid))).wait();
  return () => m.market.connect(b.wallet).revealBid(interval, bid.side, bid.energyWh, bid.priceWeiPerKWh, bid.salt, 0).then((tx) => tx.wait());
}
