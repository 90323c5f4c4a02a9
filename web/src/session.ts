/**
 * Signing in: an injected wallet (EIP-1193, e.g. MetaMask) switched to, or given, the market's chain;
 * or an encrypted JSON keystore decrypted here, whose key lives in this page's memory only (never
 * stored, gone on reload or sign-out). Every transaction of the account goes through `send`, one at a
 * time; carry.ts hands signed messages to the portal's relayer instead when there is one.
 */
import { signal } from "@preact/signals";
import { BrowserProvider, ContractTransactionResponse, Eip1193Provider, Signer, TransactionReceipt, Wallet, isKeystoreJson } from "ethers";
import type { EnergyMarket } from "../../typechain-types";
import type { MarketClient } from "./chain";
import { UserError, explain } from "./errors";

export interface Session {
  address: string;
  signer: Signer;
  kind: "keystore" | "injected";
}

export const session = signal<Session | null>(null);
/** What is being sent right now (shown in the header). */
export const sending = signal<string | null>(null);

declare global {
  interface Window {
    ethereum?: Eip1193Provider & { on?: (event: string, f: (...a: unknown[]) => void) => void };
  }
}

export const hasInjectedWallet = () => typeof window !== "undefined" && !!window.ethereum;

export async function signInWithKeystore(client: MarketClient, text: string, password: string, progress?: (p: number) => void): Promise<Session> {
  try {
    JSON.parse(text);
  } catch {
    throw new UserError("This file is not a keystore: it is not valid JSON. Choose the encrypted JSON keystore file (UTC--… or key.json) of your account.");
  }
  if (!isKeystoreJson(text)) {
    throw new UserError('This JSON is not an encrypted keystore: it has no "crypto" section with a cipher and key derivation. Nothing was signed in.');
  }
  if (!password) throw new UserError("Enter the keystore's password.");
  let wallet: Wallet;
  try {
    const decrypted = await Wallet.fromEncryptedJson(text, password, progress);
    wallet = new Wallet(decrypted.privateKey, client.provider);
  } catch (e) {
    if (/incorrect password/i.test((e as Error).message)) throw new UserError("Wrong password for this keystore. Nothing was signed in.");
    throw new UserError(`The keystore could not be decrypted: ${(e as Error).message}`);
  }
  const s: Session = { address: wallet.address, signer: wallet, kind: "keystore" };
  session.value = s;
  return s;
}

/** Connect the injected wallet and make sure it is on the market's chain (adding the chain if needed). */
export async function signInWithInjected(client: MarketClient): Promise<Session> {
  const eth = window.ethereum;
  if (!eth) throw new UserError("No browser wallet found: import a keystore instead.");
  const { chainId, network } = client.config;
  const hex = "0x" + chainId.toString(16);
  const accounts = (await eth.request({ method: "eth_requestAccounts" })) as string[];
  if (!accounts.length) throw new UserError("The wallet gave no account.");
  const current = (await eth.request({ method: "eth_chainId" })) as string;
  if (BigInt(current) !== BigInt(chainId)) {
    try {
      await eth.request({ method: "wallet_switchEthereumChain", params: [{ chainId: hex }] });
    } catch (e) {
      const code = (e as { code?: number }).code;
      if (code !== 4902 && code !== -32603) throw e;
      await eth.request({
        method: "wallet_addEthereumChain",
        params: [{ chainId: hex, chainName: `grid-ledger ${network} (${chainId})`, rpcUrls: [client.rpcUrl], nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 } }],
      });
    }
    const after = (await eth.request({ method: "eth_chainId" })) as string;
    if (BigInt(after) !== BigInt(chainId)) throw new UserError(`The wallet is on chain ${BigInt(after)}, the market is on chain ${chainId}: switch networks in the wallet.`);
  }
  const browser = new BrowserProvider(eth, chainId);
  const signer = await browser.getSigner(accounts[0]);
  const s: Session = { address: await signer.getAddress(), signer, kind: "injected" };
  session.value = s;
  eth.on?.("accountsChanged", () => (session.value = null));
  eth.on?.("chainChanged", () => (session.value = null));
  return s;
}

export function signOut() {
  session.value = null;
}

let queue: Promise<unknown> = Promise.resolve();

/** Send one market transaction as the signed-in account and wait for it (`onSent` hears its hash); errors come back explained. */
export function send(
  client: MarketClient,
  label: string,
  call: (m: EnergyMarket) => Promise<ContractTransactionResponse>,
  onSent?: (hash: string) => void,
): Promise<TransactionReceipt> {
  const run = async () => {
    const s = session.value;
    if (!s) throw new UserError("Sign in first.");
    sending.value = label;
    try {
      const tx = await call(client.market.connect(s.signer) as EnergyMarket);
      onSent?.(tx.hash);
      const receipt = await client.provider.waitForTransaction(tx.hash, 1, 120_000);
      if (!receipt || receipt.status !== 1) throw new UserError(`${label}: the transaction ${tx.hash} failed on chain.`);
      return receipt;
    } catch (e) {
      throw new UserError(explain(e));
    } finally {
      sending.value = null;
    }
  };
  const p = queue.then(run, run);
  queue = p.catch(() => undefined);
  return p;
}
