/**
 * keystore:new: an account for a participant (or a meter) as an encrypted JSON keystore, the form
 * `--keystore` takes and the portal signs in with. The key is made here (or imported from a key
 * file) and written encrypted; on a development network `--fund` gives the new account ether.
 */
import { task, types } from "hardhat/config";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { CliError, cliAction, ether, output, positiveEther, required } from "./cli";

task("keystore:new", "Create an account as an encrypted JSON keystore (password from a file)")
  .addOptionalParam("out", "the keystore file to write, e.g. wind.json (required; never overwritten)", undefined, types.string)
  .addOptionalParam("passwordFile", "file holding the password, e.g. made with `echo 'a long secret' > wind.pw` (required)", undefined, types.string)
  .addOptionalParam("keyFile", "import this raw private key instead of making a new one", undefined, types.string)
  .addOptionalParam("fund", "development networks: send the new account this much ether from development account 0", undefined, types.string)
  .addFlag("json", "print JSON")
  .setAction(
    cliAction(async (a: { out?: string; passwordFile?: string; keyFile?: string; fund?: string; json: boolean }, hre) => {
      const out = required(a.out, "--out", "the keystore file to write");
      const passwordFile = required(a.passwordFile, "--password-file", "a file holding the keystore's password");
      if (existsSync(out)) throw new CliError(`--out: ${out} exists already; choose another file (a keystore is never overwritten)`);
      const { Wallet, encryptKeystoreJsonSync } = await import("ethers");
      const { walletFromKey } = await import("../lib/signers");
      const password = readPassword(passwordFile);
      const funding = a.fund === undefined ? undefined : positiveEther(a.fund, "--fund");
      if (funding !== undefined && hre.network.name !== "hardhat" && hre.network.name !== "localhost") {
        throw new CliError(`--fund is for development networks (hardhat, localhost), not "${hre.network.name}": send ether to the account from a funded one`);
      }
      const key = a.keyFile ? walletFromKey(readText(a.keyFile, "--key-file"), null, a.keyFile).privateKey : Wallet.createRandom().privateKey;
      const wallet = new Wallet(key);
      writeFileSync(out, encryptKeystoreJsonSync({ address: wallet.address, privateKey: wallet.privateKey }, password) + "\n", { mode: 0o600, flag: "wx" });
      let funded: string | undefined;
      if (funding !== undefined) {
        const [bank] = await hre.ethers.getSigners();
        const tx = await bank.sendTransaction({ to: wallet.address, value: funding });
        funded = (await tx.wait())?.hash;
      }
      output(a.json, { address: wallet.address, keystore: out, fundedWei: funding, fundTx: funded }, () =>
        [`account ${wallet.address} written to ${out} (encrypted with the password in ${passwordFile})`, ...(funding !== undefined ? [`funded with ${ether(funding)} from development account 0 (tx ${funded})`] : [])].join("\n"),
      );
    }),
  );

function readText(path: string, flag: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    throw new CliError(`${flag}: cannot read ${path}`);
  }
}

/** The password: the file's first line; at least 8 characters. */
function readPassword(path: string): string {
  const password = readText(path, "--password-file").replace(/\r?\n$/, "");
  if (password.length < 8) throw new CliError(`--password-file: the password in ${path} is shorter than 8 characters`);
  return password;
}
