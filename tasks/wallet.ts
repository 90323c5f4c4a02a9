/**
 * deposit, withdraw, pool:fund: money in and out of the market's wallets. Each call is simulated
 * first: what the market would refuse (an unregistered account, more than the free funds) is
 * explained and never sent.
 */
import { task, types } from "hardhat/config";
import { cliAction, ether, output, positiveEther, required } from "./cli";
import { KeyArgs, asOperator, asParticipant, transact, withKey } from "./context";

interface AmountArgs extends KeyArgs {
  amount?: string;
  json: boolean;
}

withKey(task("deposit", "Move ether from the account into its market wallet"))
  .addOptionalParam("amount", "ether to deposit (required)", undefined, types.string)
  .addFlag("json", "print JSON")
  .setAction(
    cliAction(async (a: AmountArgs, hre) => {
      const wei = positiveEther(a.amount, "--amount");
      const { market, signer } = await asParticipant(hre, a);
      const r = await transact(market.deposit, [], { value: wei });
      const w = await market.walletOf(await market.idOf(await signer.getAddress()));
      output(a.json, { depositedWei: wei, balanceWei: w.balance, owedWei: w.owed, ...r }, () => `deposited ${ether(wei)}; wallet ${ether(w.balance)}, owed ${ether(w.owed)} (tx ${r.tx})`);
    }),
  );

withKey(task("withdraw", "Take free funds out of the market wallet (the margin stays while a bid is unsettled)"))
  .addOptionalParam("amount", 'ether to withdraw, or "all" for everything withdrawable (required)', undefined, types.string)
  .addFlag("json", "print JSON")
  .setAction(
    cliAction(async (a: AmountArgs, hre) => {
      const all = required(a.amount, "--amount", 'the ether to withdraw, or "all"') === "all";
      const wei = all ? 0n : positiveEther(a.amount, "--amount");
      const { market, signer } = await asParticipant(hre, a);
      const id = await market.idOf(await signer.getAddress());
      const amount = all ? (await market.walletOf(id)).withdrawable : wei;
      const r = await transact(market.withdraw, [amount]);
      const w = await market.walletOf(id);
      output(a.json, { withdrawnWei: amount, balanceWei: w.balance, ...r }, () => `withdrew ${ether(amount)}; wallet ${ether(w.balance)} (tx ${r.tx})`);
    }),
  );

task("pool:fund", "Add ether to the incentive pool, which pays the rewards (operator; a new market's pool is empty)")
  .addOptionalParam("amount", "ether to add (required)", undefined, types.string)
  .addFlag("json", "print JSON")
  .setAction(
    cliAction(async (a: { amount?: string; json: boolean }, hre) => {
      const wei = positiveEther(a.amount, "--amount");
      const { market } = await asOperator(hre);
      const r = await transact(market.fundPool, [], { value: wei });
      const [balance] = await market.pool();
      output(a.json, { fundedWei: wei, poolWei: balance, ...r }, () => `added ${ether(wei)} to the incentive pool, which now holds ${ether(balance)} (tx ${r.tx})`);
    }),
  );
