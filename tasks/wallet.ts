/**
 * deposit, withdraw, pool:fund: money in and out of the market's wallets.
 */
import { task, types } from "hardhat/config";
import { formatEther } from "ethers";
import { asCli, output } from "./cli";
import { asOperator, asParticipant, mined, withKey } from "./context";

withKey(task("deposit", "Move ether from the account into its market wallet"))
  .addParam("amount", "ether", undefined, types.string)
  .addFlag("json", "print JSON")
  .setAction(async (a, hre) =>
    asCli(async () => {
      const { etherToWei } = await import("../lib/units");
      const wei = etherToWei(a.amount, "--amount");
      const { market, signer } = await asParticipant(hre, a);
      const r = await mined(await market.deposit({ value: wei }));
      const w = await market.walletOf(await market.idOf(await signer.getAddress()));
      output(a.json, { depositedWei: wei, balanceWei: w.balance, owedWei: w.owed, ...r }, () => `deposited ${a.amount} ether; wallet ${fmt(w.balance)} ether, owed ${fmt(w.owed)} (tx ${r.tx})`);
    }),
  );

withKey(task("withdraw", "Take free funds out of the market wallet (the margin stays while a bid is unsettled)"))
  .addParam("amount", "ether, or \"all\" for everything withdrawable", undefined, types.string)
  .addFlag("json", "print JSON")
  .setAction(async (a, hre) =>
    asCli(async () => {
      const { etherToWei } = await import("../lib/units");
      const { market, signer } = await asParticipant(hre, a);
      const id = await market.idOf(await signer.getAddress());
      const wei = a.amount === "all" ? (await market.walletOf(id)).withdrawable : etherToWei(a.amount, "--amount");
      const r = await mined(await market.withdraw(wei));
      const w = await market.walletOf(id);
      output(a.json, { withdrawnWei: wei, balanceWei: w.balance, ...r }, () => `withdrew ${fmt(wei)} ether; wallet ${fmt(w.balance)} ether (tx ${r.tx})`);
    }),
  );

task("pool:fund", "Add ether to the incentive pool (operator)")
  .addParam("amount", "ether", undefined, types.string)
  .addFlag("json", "print JSON")
  .setAction(async (a, hre) =>
    asCli(async () => {
      const { etherToWei } = await import("../lib/units");
      const wei = etherToWei(a.amount, "--amount");
      const { market } = await asOperator(hre);
      const r = await mined(await market.fundPool({ value: wei }));
      const [balance] = await market.pool();
      output(a.json, { fundedWei: wei, poolWei: balance, ...r }, () => `pool ${fmt(balance)} ether (tx ${r.tx})`);
    }),
  );

const fmt = (wei: bigint) => formatEther(wei);
