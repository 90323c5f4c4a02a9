/**
 * The portal's server: the built page (dist/), /config.json for the market in a deployment file,
 * and /rpc, a proxy to the node (so the page needs no CORS from the node and works from any host).
 */
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer, IncomingMessage, Server, ServerResponse } from "node:http";
import path from "node:path";
import type { Deployment } from "../../lib/deployment";
import { NodeList } from "../../lib/rpc";

export interface PortalOptions {
  deployment: Deployment;
  /** The node, or every node of the chain: /rpc uses one at a time and the next when it stops answering. */
  rpcUrl: string | string[];
  /** Where the proxy says which node it uses (default: stdout). */
  log?: (line: string) => void;
  distDir: string;
  port?: number;
  host?: string;
  cnyPerEther?: string;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
};

/** Requests to /rpc are only JSON-RPC reads and raw (locally signed) transactions: no node-side accounts. */
const REFUSED = /^(eth_sendTransaction|eth_sign|personal_|eth_accounts|anvil_|hardhat_|evm_|debug_|admin_|miner_)/;

export async function startPortal(o: PortalOptions): Promise<{ url: string; server: Server; close: () => Promise<void> }> {
  if (!existsSync(path.join(o.distDir, "index.html"))) throw new Error(`${o.distDir}/index.html is missing: build the portal first (npm run build -w web)`);
  const config = JSON.stringify({
    network: o.deployment.network,
    chainId: o.deployment.chainId,
    rpcUrl: "rpc",
    market: o.deployment.market,
    operator: o.deployment.operator,
    deployedAtBlock: o.deployment.deployedAt.block,
    schedule: o.deployment.schedule,
    cnyPerEther: o.cnyPerEther ?? "626.2",
  });
  const say = o.log ?? ((line: string) => console.log(line));
  const nodes = new NodeList([o.rpcUrl].flat(), {
    log: (e) => say(e.event === "node-switch" ? `portal: ${e.from} did not answer (${e.error}); /rpc now uses ${e.node}` : e.event === "node-in-use" ? `portal: /rpc uses ${e.node}` : `portal: no node answers (${e.error})`),
  });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://portal");
    if (url.pathname.endsWith("/rpc") && req.method === "POST") return void proxy(req, res, nodes);
    if (url.pathname === "/config.json") {
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      return void res.end(config);
    }
    const rel = decodeURIComponent(url.pathname === "/" ? "/index.html" : url.pathname);
    const file = path.join(o.distDir, path.normalize(rel).replace(/^(\.\.[/\\])+/, ""));
    if (!file.startsWith(o.distDir) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { "content-type": "text/plain" });
      return void res.end("not found");
    }
    res.writeHead(200, {
      "content-type": TYPES[path.extname(file)] ?? "application/octet-stream",
      "cache-control": rel.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-cache",
    });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 0, o.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as { port: number };
  const host = o.host && o.host !== "0.0.0.0" ? o.host : "127.0.0.1";
  return {
    url: `http://${host}:${port}/`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function proxy(req: IncomingMessage, res: ServerResponse, nodes: NodeList) {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks).toString("utf8");
  try {
    const calls = [JSON.parse(body)].flat() as { method?: string; id?: unknown }[];
    const refused = calls.find((c) => REFUSED.test(String(c.method)));
    if (refused) {
      res.writeHead(200, { "content-type": "application/json" });
      return void res.end(JSON.stringify({ jsonrpc: "2.0", id: refused.id ?? null, error: { code: -32601, message: `${refused.method} is not served by the portal` } }));
    }
    const answer = await nodes.post(body);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(answer));
  } catch (e) {
    res.writeHead(502, { "content-type": "application/json" });
    res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32000, message: `node unreachable: ${(e as Error).message}` } }));
  }
}
