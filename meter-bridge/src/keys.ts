/** Meter account keys: an encrypted JSON keystore with a password file, or a raw key file. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { Wallet } from "ethers";

export type KeySpec = { keystore: string; passwordFile: string } | { keyFile: string };

/** Checks a key description from the config; TypeError when it is neither form. */
export function keySpec(value: unknown, where: string): KeySpec {
  const spec = value as Record<string, unknown>;
  if (spec && typeof spec.keystore === "string" && typeof spec.passwordFile === "string") return { keystore: spec.keystore, passwordFile: spec.passwordFile };
  if (spec && typeof spec.keyFile === "string") return { keyFile: spec.keyFile };
  throw new TypeError(`${where} must be { "keystore": <file>, "passwordFile": <file> } or { "keyFile": <file> }`);
}

/** Loads the signing key; relative paths are resolved against `baseDir` (the config's directory). */
export async function loadWallet(spec: KeySpec, baseDir: string): Promise<Wallet> {
  const read = (file: string) => readFileSync(path.resolve(baseDir, file), "utf8");
  if ("keyFile" in spec) {
    const key = read(spec.keyFile).trim();
    if (!/^(0x)?[0-9a-fA-F]{64}$/.test(key)) throw new TypeError(`${spec.keyFile} does not hold a 32-byte hex private key`);
    return new Wallet(key.startsWith("0x") ? key : `0x${key}`);
  }
  const wallet = await Wallet.fromEncryptedJson(read(spec.keystore), read(spec.passwordFile).replace(/\r?\n$/, ""));
  return new Wallet(wallet.privateKey);
}
