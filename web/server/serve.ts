/**
 * `npm run portal [-- --network localhost --port 8080 --host 127.0.0.1]`: serves the built portal
 * for the market of deployments/<network>.json (or MARKET_DEPLOYMENT), proxying the network's node
 * (localhost: LOCALHOST_RPC_URL, default http://127.0.0.1:8545; privnet: PRIVNET_RPC_URLS, every node,
 * or PRIVNET_RPC_URL; any: PORTAL_RPC_URL). With several nodes it proxies one and fails over to the next.
 * `--rpc-rate` (PORTAL_RPC_CALLS_PER_MINUTE, default 3000) is what one client address may ask of /rpc.
 *
 * The relayer at /relay/* runs when the portal is given a key to pay for batches with, read like
 * the operator's (lib/signers.ts, locally, never by the node): PORTAL_RELAYER_KEY (0x and 64 hex
 * digits), or PORTAL_RELAYER_KEYSTORE with PORTAL_RELAYER_PASSWORD_FILE, or PORTAL_RELAYER=operator
 * for the operator's own OPERATOR_PRIVATE_KEY or OPERATOR_KEYSTORE + OPERATOR_PASSWORD_FILE.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import dotenv from "dotenv";
import { readDeployment } from "../../lib/deployment";
import { REPO_ROOT, WEB_ROOT } from "../test/support/paths";
import { startPortal } from "./portal";
import { relayerWallet } from "./relayer";
import { parseRpcUrls, privnetRpcUrls } from "../../lib/rpc";

dotenv.config({ path: path.join(REPO_ROOT, ".env"), quiet: true } as dotenv.DotenvConfigOptions);

function rpcUrlFor(network: string): string[] {
  const env = process.env;
  if (env.PORTAL_RPC_URL) return parseRpcUrls(env.PORTAL_RPC_URL);
  if (network === "localhost") return [env.LOCALHOST_RPC_URL ?? "http://127.0.0.1:8545"];
  if (network === "privnet") return privnetRpcUrls(env);
  throw new Error(`no node URL known for network "${network}": set PORTAL_RPC_URL`);
}

async function main() {
  const { values } = parseArgs({
    options: {
      network: { type: "string", default: process.env.PORTAL_NETWORK ?? "localhost" },
      port: { type: "string", default: process.env.PORTAL_PORT ?? "8080" },
      host: { type: "string", default: process.env.PORTAL_HOST ?? "127.0.0.1" },
      cny: { type: "string", default: process.env.PORTAL_CNY_PER_ETHER ?? "626.2" },
      "rpc-rate": { type: "string", default: process.env.PORTAL_RPC_CALLS_PER_MINUTE ?? "3000" },
    },
  });
  const network = values.network!;
  const file = process.env.MARKET_DEPLOYMENT
    ? path.resolve(process.env.INIT_CWD ?? process.cwd(), process.env.MARKET_DEPLOYMENT)
    : path.join(REPO_ROOT, "deployments", `${network}.json`);
  const deployment = readDeployment(network, file);
  const rpcUrl = rpcUrlFor(network);
  const wallet = relayerWallet();
  const callsPerMinute = Number(values["rpc-rate"]);
  if (!Number.isInteger(callsPerMinute) || callsPerMinute < 1) throw new Error(`--rpc-rate (PORTAL_RPC_CALLS_PER_MINUTE): expected a whole number of calls a minute, not ${JSON.stringify(values["rpc-rate"])}`);
  const portal = await startPortal({
    deployment,
    rpcUrl,
    distDir: path.join(WEB_ROOT, "dist"),
    port: Number(values.port),
    host: values.host,
    cnyPerEther: values.cny,
    relayer: wallet && { wallet },
    rpcLimits: { callsPerMinute },
  });
  console.log(`portal for market ${deployment.market} on ${network} (chain ${deployment.chainId}, nodes ${rpcUrl.join(", ")})`);
  console.log(portal.relayer ? `  relayer:   ${portal.url}relay/ (paid by ${portal.relayer})` : "  relayer:   none (set PORTAL_RELAYER_KEY to carry prosumers' signed messages)");
  console.log(`  prosumers: ${portal.url}#/prosumer`);
  console.log(`  operator:  ${portal.url}#/operator`);
  const stop = () => void portal.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((e) => {
  console.error(`portal: ${(e as Error).message}`);
  process.exit(1);
});
