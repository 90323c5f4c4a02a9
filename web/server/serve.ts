/**
 * `npm run portal [-- --network localhost --port 8080 --host 127.0.0.1]`: serves the built portal
 * for the market of deployments/<network>.json (or MARKET_DEPLOYMENT), proxying the network's node
 * (localhost: LOCALHOST_RPC_URL, default http://127.0.0.1:8545; privnet: PRIVNET_RPC_URLS, every node,
 * or PRIVNET_RPC_URL; any: PORTAL_RPC_URL). With several nodes it proxies one and fails over to the next.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import dotenv from "dotenv";
import { readDeployment } from "../../lib/deployment";
import { REPO_ROOT, WEB_ROOT } from "../test/support/paths";
import { startPortal } from "./portal";
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
    },
  });
  const network = values.network!;
  const file = process.env.MARKET_DEPLOYMENT
    ? path.resolve(process.env.INIT_CWD ?? process.cwd(), process.env.MARKET_DEPLOYMENT)
    : path.join(REPO_ROOT, "deployments", `${network}.json`);
  const deployment = readDeployment(network, file);
  const rpcUrl = rpcUrlFor(network);
  const portal = await startPortal({ deployment, rpcUrl, distDir: path.join(WEB_ROOT, "dist"), port: Number(values.port), host: values.host, cnyPerEther: values.cny });
  console.log(`portal for market ${deployment.market} on ${network} (chain ${deployment.chainId}, nodes ${rpcUrl.join(", ")})`);
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
