/** Account keys (the meters', the relayer's): an encrypted JSON keystore with a password file, or a raw key file. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { Wallet, isError } from "ethers";
import { SettingsError } from "./settings";

export type KeySpec = { keystore: string; passwordFile: string } | { keyFile: string };

/** Checks a key description from the config; TypeError when it is neither form. */
export function keySpec(value: unknown): KeySpec {
  const spec = value as Record<string, unknown>;
  if (spec && typeof spec.keystore === "string" && typeof spec.passwordFile === "string") return { keystore: spec.keystore, passwordFile: spec.passwordFile };
  if (spec && typeof spec.keyFile === "string") return { keyFile: spec.keyFile };
  throw new TypeError(`must be { "keystore": <file>, "passwordFile": <file> } or { "keyFile": <file> }`);
}

/**
 * Loads a signing key; relative paths are resolved against `baseDir` (the config's directory).
 * @param owner whose key it is, for the messages: "meter 000000000001", "relayerKey"
 * @throws SettingsError naming the owner and the file
 */
export async function loadWallet(spec: KeySpec, baseDir: string, owner: string): Promise<Wallet> {
  const read = (file: string, what: string) => {
    const full = path.resolve(baseDir, file);
    try {
      return readFileSync(full, "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === "ENOENT" ? "does not exist" : code === "EACCES" ? "cannot be read (permission denied)" : `cannot be read (${(error as Error).message})`;
      throw new SettingsError(`${owner}: ${what} ${full} ${why}`);
    }
  };
  if ("keyFile" in spec) {
    const key = read(spec.keyFile, "key file").trim();
    if (!/^(0x)?[0-9a-fA-F]{64}$/.test(key)) throw new SettingsError(`${owner}: key file ${path.resolve(baseDir, spec.keyFile)} does not hold a 32-byte hex private key`);
    return new Wallet(key.startsWith("0x") ? key : `0x${key}`);
  }
  const keystore = path.resolve(baseDir, spec.keystore);
  const passwordFile = path.resolve(baseDir, spec.passwordFile);
  const json = read(spec.keystore, "keystore");
  const password = read(spec.passwordFile, "password file").replace(/\r?\n$/, "");
  try {
    return new Wallet((await Wallet.fromEncryptedJson(json, password)).privateKey);
  } catch (error) {
    if (isError(error, "INVALID_ARGUMENT") && /password/.test(error.shortMessage)) throw new SettingsError(`${owner}: the password in ${passwordFile} does not open keystore ${keystore}`);
    throw new SettingsError(`${owner}: ${keystore} is not an encrypted JSON keystore (${(error as Error & { shortMessage?: string }).shortMessage ?? (error as Error).message})`);
  }
}
