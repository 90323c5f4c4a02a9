/**
 * bid and bid:reveal: sealed bids. `bid` commits for the next delivery interval now, keeps the salt
 * in a local file, waits for the reveal window and reveals; if it is stopped in between, `bid:reveal`
 * (or the next `bid` with the same key) reveals from the file.
 */
import { task, types } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { EnergyMarket } from "../typechain-types";
import type { SealedBid } from "../lib/market";
import { CliError, asCli, output } from "./cli";
import { KeyArgs, asParticipant, mined, withKey } from "./context";

const DEFAULT_DIR = (network: string) => `.bids/${network}`;

withKey(task("bid", "Commit a sealed bid for the next interval now and reveal it automatically in the reveal window"))
  .addParam("side", "sell or buy", undefined, types.string)
  .addParam("energy", "kWh (1 Wh resolution)", undefined, types.string)
  .addParam("price", "ether per kWh", undefined, types.string)
  .addOptionalParam("saltDir", "where sealed bids are kept until revealed", undefined, types.string)
  .addFlag("noReveal", "commit only; reveal later with bid:reveal")
  .addFlag("json", "print JSON")
  .setAction(async (a, hre) =>
    asCli(async () => {
      const { Side, commitmentOf, newSalt } = await import("../lib/market");
      const { kWhToWh, etherToWei } = await import("../lib/units");
      const { SaltStore } = await import("../lib/saltstore");
      if (a.side !== "sell" && a.side !== "buy") throw new CliError(`--side: expected "sell" or "buy", got ${JSON.stringify(a.side)}`);
      const energyWh = kWhToWh(a.energy, "--energy");
      const priceWeiPerKWh = etherToWei(a.price, "--price");
      const { market, signer } = await asParticipant(hre, a as KeyArgs);
      const bidder = await signer.getAddress();
      const address = await market.getAddress();
      const store = new SaltStore(a.saltDir ?? DEFAULT_DIR(hre.network.name));
      const revealed = await revealPending(hre, market, store, bidder);
      const interval = Number(await market.currentInterval()) + 1;
      const bid: SealedBid = { interval, side: a.side === "sell" ? Side.Sell : Side.Buy, energyWh, priceWeiPerKWh, salt: newSalt() };
      const { chainId } = await hre.ethers.provider.getNetwork();
      const commitment = commitmentOf(chainId, address, bidder, bid);
      await market.commitBid.staticCall(interval, commitment); // a refusal (phase, funds, debt) saves nothing
      store.save(address, bidder, bid);
      const c = await mined(await market.commitBid(interval, commitment));
      const result: Record<string, unknown> = { interval, side: a.side, energyWh, priceWeiPerKWh, commit: c, revealedEarlier: revealed };
      if (!a.noReveal) result.reveal = await revealWhenOpen(hre, market, store, bidder, bid);
      output(a.json, result, () =>
        [
          ...revealed.map((r) => `revealed the stored bid for interval ${r.interval} (tx ${r.tx})`),
          `committed a sealed ${a.side} of ${a.energy} kWh at ${a.price} ether/kWh for interval ${interval} (tx ${c.tx}, ${c.gas} gas); salt kept in ${store.dir}`,
          a.noReveal ? `reveal it with \`npx hardhat bid:reveal --network ${hre.network.name}\` during the reveal window, or it is forfeited` : `revealed (tx ${(result.reveal as { tx: string }).tx})`,
        ].join("\n"),
      );
    }),
  );

withKey(task("bid:reveal", "Reveal the account's stored sealed bids (waits for their reveal window)"))
  .addOptionalParam("saltDir", "where sealed bids are kept until revealed", undefined, types.string)
  .addFlag("json", "print JSON")
  .setAction(async (a, hre) =>
    asCli(async () => {
      const { SaltStore } = await import("../lib/saltstore");
      const { market, signer } = await asParticipant(hre, a as KeyArgs);
      const store = new SaltStore(a.saltDir ?? DEFAULT_DIR(hre.network.name));
      const done = await revealPending(hre, market, store, await signer.getAddress(), true);
      output(a.json, done, () => (done.length ? done.map((r) => `revealed interval ${r.interval} (tx ${r.tx})`).join("\n") : "no stored bid to reveal"));
    }),
  );

type Store = import("../lib/saltstore").SaltStore;

/** Reveal stored bids whose window is open (or, with `wait`, still to come); drop those past it. */
async function revealPending(hre: HardhatRuntimeEnvironment, market: EnergyMarket, store: Store, bidder: string, wait = false) {
  const done: { interval: number; tx: string; gas: number }[] = [];
  for (const bid of store.pending(await market.getAddress(), bidder)) {
    const v = await market.intervalOf(bid.interval);
    const now = BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp);
    const state = await market.bidOf(bid.interval, await market.idOf(bidder));
    if (state.revealed || now >= v.revealEnd) {
      store.remove(bidder, bid.interval);
      continue;
    }
    if (now < v.revealStart && !wait) continue;
    done.push({ interval: bid.interval, ...(await revealWhenOpen(hre, market, store, bidder, bid)) });
  }
  return done;
}

async function revealWhenOpen(hre: HardhatRuntimeEnvironment, market: EnergyMarket, store: Store, bidder: string, bid: SealedBid) {
  const { revealSealed } = await import("../lib/market");
  const v = await market.intervalOf(bid.interval);
  await untilBlockTime(hre, v.revealStart);
  const p = await market.participant(await market.idOf(bidder));
  const r = await mined(await revealSealed(market, p.id, p.green, bid));
  store.remove(bidder, bid.interval);
  return r;
}

/** On the in-process network move time forward; on a real node wait for it. */
async function untilBlockTime(hre: HardhatRuntimeEnvironment, t: bigint) {
  const { InProcessClock, RealTimeClock } = await import("../lib/chain");
  const clock =
    hre.network.name === "hardhat"
      ? new InProcessClock(hre.network.provider)
      : new RealTimeClock(hre.ethers.provider);
  await clock.until(t);
}
