/**
 * The relayer in the portal's server: lib/relay.ts with the account whose key the portal was given
 * paying for every batch (lib/sender.ts, through the same node list as /rpc), and lib/relay-http.ts
 * answering /relay/*. The account needs ether, not any role in the market: anyone may carry signed
 * messages.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Wallet } from "ethers";
import type { Deployment } from "../../lib/deployment";
import { attachMarket } from "../../lib/market";
import { Relayer } from "../../lib/relay";
import { RelayHttpOptions, relayHandler } from "../../lib/relay-http";
import { FailoverProvider, NodeList } from "../../lib/rpc";
import { Sender } from "../../lib/sender";
import { marketDomain } from "../../lib/signed";
import { KeyError, walletFromKey, walletFromKeystore } from "../../lib/signers";

export interface RelayerSetup extends RelayHttpOptions {
  /** The key that pays for the batches (a local wallet: the node never holds it). */
  wallet: Wallet;
  /** How long a queue waits for more messages before its batch is sent (default 1000 ms, about a block). */
  flushMs?: number;
}

export interface PortalRelayer {
  address: string;
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
  stop: () => void;
}

export async function startRelayer(setup: RelayerSetup, deployment: Deployment, nodes: NodeList, say: (line: string) => void): Promise<PortalRelayer> {
  const provider = new FailoverProvider(nodes, deployment.chainId);
  const market = attachMarket(deployment.market, provider);
  const wallet = setup.wallet.connect(provider);
  let relayer: Relayer | undefined;
  const sender = new Sender(wallet, provider, {
    errors: market.interface,
    log: (e) => {
      relayer?.onSenderEvent(e);
      if (e.event !== "sent") say(`portal: relayer ${e.event}${e.tx ? ` ${String(e.tx)}` : ""}${e.note ? ` (${String(e.note)})` : ""}`);
    },
  });
  relayer = new Relayer({
    market,
    sender,
    domain: marketDomain(deployment.chainId, deployment.market),
    flushMs: setup.flushMs,
    log: (e) =>
      say(
        e.event === "relayed"
          ? `portal: relayed ${String(e.entries)} ${String(e.kind)} message(s) in ${String(e.tx)} (block ${String(e.block)}, ${String(e.skipped)} skipped)`
          : `portal: relayer ${String(e.event)}: ${String(e.reason ?? e.error ?? "")}`,
      ),
  });
  // transactions of this key left pending by an earlier run are settled before the first batch
  await sender.start();
  const balance = await provider.getBalance(wallet.address);
  say(`portal: relayer ${wallet.address} pays for relayed messages${balance === 0n ? " (it holds no ether: fund it, or every batch fails)" : ""}`);
  const r = relayer;
  return {
    address: wallet.address,
    handle: relayHandler(r, setup),
    stop: () => {
      r.stop();
      provider.destroy();
    },
  };
}

/** The relayer's key from the environment, or undefined for a portal without a relayer. */
export function relayerWallet(env: Record<string, string | undefined> = process.env): Wallet | undefined {
  const keystore = (file: string | undefined, passwordFile: string | undefined, what: string) => {
    if (!passwordFile) throw new KeyError(`${what} is set but its password file is not (${what.replace("KEYSTORE", "PASSWORD_FILE")})`);
    return walletFromKeystore(file!, passwordFile, null);
  };
  const given = [env.PORTAL_RELAYER_KEY, env.PORTAL_RELAYER_KEYSTORE, env.PORTAL_RELAYER].filter(Boolean).length;
  if (given > 1) throw new KeyError("give the relayer one key: PORTAL_RELAYER_KEY, PORTAL_RELAYER_KEYSTORE or PORTAL_RELAYER=operator");
  if (env.PORTAL_RELAYER_KEY) return walletFromKey(env.PORTAL_RELAYER_KEY, null, "PORTAL_RELAYER_KEY");
  if (env.PORTAL_RELAYER_KEYSTORE) return keystore(env.PORTAL_RELAYER_KEYSTORE, env.PORTAL_RELAYER_PASSWORD_FILE, "PORTAL_RELAYER_KEYSTORE");
  if (!env.PORTAL_RELAYER) return undefined;
  if (env.PORTAL_RELAYER !== "operator") throw new KeyError(`PORTAL_RELAYER may only be "operator", not ${JSON.stringify(env.PORTAL_RELAYER)}`);
  if (env.OPERATOR_PRIVATE_KEY) return walletFromKey(env.OPERATOR_PRIVATE_KEY, null, "OPERATOR_PRIVATE_KEY");
  if (env.OPERATOR_KEYSTORE) return keystore(env.OPERATOR_KEYSTORE, env.OPERATOR_PASSWORD_FILE, "OPERATOR_KEYSTORE");
  throw new KeyError("PORTAL_RELAYER=operator, but neither OPERATOR_PRIVATE_KEY nor OPERATOR_KEYSTORE is set");
}
