/**
 * The portal's server: the built page (dist/), /config.json for the market in a deployment file,
 * /rpc, a guarded proxy to the node(s) (rpc-proxy.ts: an allowlist of reads and raw transactions,
 * body and batch caps, a rate per client), and, when given a key, the relayer at /relay/*
 * (relayer.ts), which carries prosumers' signed messages and pays their gas.
 */
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer, Server } from "node:http";
import path from "node:path";
import type { Deployment } from "../../lib/deployment";
import { sendJson } from "../../lib/relay-http";
import { NodeList } from "../../lib/rpc";
import { RelayerSetup, startRelayer } from "./relayer";
import { RpcLimits, rpcProxy } from "./rpc-proxy";

export interface PortalOptions {
  deployment: Deployment;
  /** The node, or every node of the chain: /rpc uses one at a time and the next when it stops answering. */
  rpcUrl: string | string[];
  /** Where the server says which node it uses, what it refused and what it relayed (default: stdout). */
  log?: (line: string) => void;
  distDir: string;
  port?: number;
  host?: string;
  cnyPerEther?: string;
  /** Limits of /rpc (body, batch, calls per client a minute). */
  rpcLimits?: RpcLimits;
  /** The relayer's key and options; without it /relay/* answers 404. */
  relayer?: RelayerSetup;
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

export async function startPortal(o: PortalOptions): Promise<{ url: string; server: Server; relayer?: string; close: () => Promise<void> }> {
  if (!existsSync(path.join(o.distDir, "index.html"))) throw new Error(`${o.distDir}/index.html is missing: build the portal first (npm run build -w web)`);
  const say = o.log ?? ((line: string) => console.log(line));
  const nodes = new NodeList([o.rpcUrl].flat(), {
    log: (e) => say(e.event === "node-switch" ? `portal: ${e.from} did not answer (${e.error}); /rpc now uses ${e.node}` : e.event === "node-in-use" ? `portal: /rpc uses ${e.node}` : `portal: no node answers (${e.error})`),
  });
  const relayer = o.relayer && (await startRelayer(o.relayer, o.deployment, nodes, say));
  const rpc = rpcProxy(nodes, o.rpcLimits, say);
  const config = JSON.stringify({
    network: o.deployment.network,
    chainId: o.deployment.chainId,
    rpcUrl: "rpc",
    market: o.deployment.market,
    operator: o.deployment.operator,
    deployedAtBlock: o.deployment.deployedAt.block,
    schedule: o.deployment.schedule,
    cnyPerEther: o.cnyPerEther ?? "626.2",
    relayer: relayer ? { address: relayer.address } : null,
  });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://portal");
    if (url.pathname.endsWith("/rpc") && req.method === "POST") return void rpc(req, res);
    if (url.pathname.includes("/relay/")) {
      if (relayer) return void relayer.handle(req, res).then((served) => served || sendJson(res, 404, { error: `no such relayer path ${url.pathname}` }));
      return sendJson(res, 404, { error: "this portal has no relayer: send the transaction from your own account" });
    }
    if (url.pathname === "/config.json") {
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      return void res.end(config);
    }
    let rel: string;
    try {
      rel = decodeURIComponent(url.pathname === "/" ? "/index.html" : url.pathname);
    } catch {
      res.writeHead(400, { "content-type": "text/plain" });
      return void res.end("malformed path");
    }
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
  }).catch((e) => {
    relayer?.stop();
    throw e;
  });
  const { port } = server.address() as { port: number };
  const host = o.host && o.host !== "0.0.0.0" ? o.host : "127.0.0.1";
  return {
    url: `http://${host}:${port}/`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        relayer?.stop();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
    relayer: relayer?.address,
  };
}
