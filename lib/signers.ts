/**
 * Keys, always used locally: transactions are signed here and sent raw, never signed by a node.
 * - the operator: the network's first configured account (the dev mnemonic on hardhat/localhost,
 *   OPERATOR_PRIVATE_KEY on privnet) or an encrypted keystore (OPERATOR_KEYSTORE + OPERATOR_PASSWORD_FILE);
 * - anyone else: a key file, a keystore with its password file, or a dev account by index.
 */
import { readFileSync } from "node:fs";
import { Provider, Signer, Wallet, isHexString } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
// hre.ethers's type, also where hardhat.config.ts is not in the program (the portal's server)
import type {} from "@nomicfoundation/hardhat-ethers/internal/type-extensions";

export class KeyError extends Error {}

export interface KeyOptions {
  /** File holding a raw private key (0x + 64 hex). */
  keyFile?: string;
  /** Encrypted JSON keystore, with `passwordFile`. */
  keystore?: string;
  passwordFile?: string;
  /** Index of a development account (hardhat and localhost only). */
  account?: number;
}

const DEV_NETWORKS = new Set(["hardhat", "localhost"]);

/** A wallet from a raw key string, or a clear error. */
export function walletFromKey(key: string, provider: Provider | null, what: string): Wallet {
  const k = key.trim();
  if (!isHexString(k.startsWith("0x") ? k : `0x${k}`, 32)) throw new KeyError(`${what}: not a private key (expected 64 hex digits)`);
  return new Wallet(k.startsWith("0x") ? k : `0x${k}`, provider);
}

/** Decrypt a keystore with the password in `passwordFile` (trailing newline ignored). */
export function walletFromKeystore(keystore: string, passwordFile: string, provider: Provider | null): Wallet {
  const json = readText(keystore, "keystore");
  const password = readText(passwordFile, "password file").replace(/\r?\n$/, "");
  try {
    return Wallet.fromEncryptedJsonSync(json, password).connect(provider) as Wallet;
  } catch (e) {
    throw new KeyError(`cannot decrypt keystore ${keystore}: ${(e as Error).message.split(" (")[0]}`);
  }
}

/** The operator's signer on the current network. */
export async function operatorSigner(hre: HardhatRuntimeEnvironment): Promise<Signer> {
  const { OPERATOR_KEYSTORE, OPERATOR_PASSWORD_FILE, OPERATOR_PRIVATE_KEY } = process.env;
  if (!DEV_NETWORKS.has(hre.network.name) && OPERATOR_KEYSTORE) {
    if (!OPERATOR_PASSWORD_FILE) throw new KeyError("OPERATOR_KEYSTORE is set but OPERATOR_PASSWORD_FILE is not");
    return walletFromKeystore(OPERATOR_KEYSTORE, OPERATOR_PASSWORD_FILE, hre.ethers.provider);
  }
  // A wallet on the network's provider: its raw transactions go through the privnet node list
  // (Hardhat's own signer would send through the first URL only).
  if (!DEV_NETWORKS.has(hre.network.name) && OPERATOR_PRIVATE_KEY) return walletFromKey(OPERATOR_PRIVATE_KEY, hre.ethers.provider, "OPERATOR_PRIVATE_KEY");
  const [first] = await hre.ethers.getSigners();
  if (!first) throw new KeyError(`no operator key for network "${hre.network.name}": set OPERATOR_PRIVATE_KEY or OPERATOR_KEYSTORE (see .env.example)`);
  return first;
}

/** A participant's (or meter's) signer from the command-line key options. */
export async function signerFrom(hre: HardhatRuntimeEnvironment, o: KeyOptions): Promise<Signer> {
  const given = [o.keyFile, o.keystore, o.account].filter((x) => x !== undefined).length;
  if (given !== 1) throw new KeyError("give exactly one of --key-file, --keystore (with --password-file) or --account");
  if (o.keyFile) return walletFromKey(readText(o.keyFile, "key file"), hre.ethers.provider, o.keyFile);
  if (o.keystore) {
    if (!o.passwordFile) throw new KeyError("--keystore needs --password-file");
    return walletFromKeystore(o.keystore, o.passwordFile, hre.ethers.provider);
  }
  if (!DEV_NETWORKS.has(hre.network.name)) throw new KeyError(`--account is for development networks only, not "${hre.network.name}"`);
  const signers = await hre.ethers.getSigners();
  const s = signers[o.account!];
  if (!s) throw new KeyError(`--account ${o.account}: there are ${signers.length} development accounts (0-${signers.length - 1})`);
  return s;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    throw new KeyError(`cannot read ${what} ${path}`);
  }
}
