/**
 * The p2p links of a partitionable chain (`chain:up --partitionable`), relayed on loopback so that a
 * test can cut the network in two and heal it whatever Geth's peer management does.
 *
 * Cutting peers through Geth's admin API (admin_removePeer on both sides) was not reliable: Geth
 * 1.11.6 nodes were seen peered again about 35 s later, and a node whose static peer was removed and
 * added again does not dial it before its dial history (35 s) expires. Here every pair of nodes
 * (i < j) has a port of its own on 127.0.0.1: node j is peered with node i through that port, and this
 * process forwards the bytes to node i's p2p port. Nodes only ever know each other at these ports.
 * While a pair is cut, its open connections are closed and new ones are accepted and closed at once,
 * so nothing can get through; the nodes keep each other as static peers and dial again by themselves
 * once the pair is healed (Geth retries a static peer within about 35 s).
 *
 * Run detached by scripts/geth/chain.ts, which records its pid in chain.json; controlled over HTTP on
 * loopback (the control port is its only argument):
 *   POST /links  [{ a, b, listen, target }]  relay 127.0.0.1:listen to 127.0.0.1:target for nodes a < b
 *   POST /cut    [[a, b], …]                 cut these pairs (closes their connections); answers once closed
 *   POST /heal                               cut nothing
 *   GET  /                                   every link: open connections, cut or not
 */
import { createServer as createHttpServer, IncomingMessage, ServerResponse } from "node:http";
import { Server, Socket, connect, createServer } from "node:net";

export interface LinkSpec {
  /** The node dialled (its p2p port is `target`). */
  a: number;
  /** The node that dials, through `listen`. */
  b: number;
  listen: number;
  target: number;
}

interface Link extends LinkSpec {
  server: Server;
  sockets: Set<Socket>;
  cut: boolean;
  refused: number;
}

const links = new Map<string, Link>();
const keyOf = (a: number, b: number) => `${Math.min(a, b)}-${Math.max(a, b)}`;

function relay(spec: LinkSpec): Promise<void> {
  const link: Link = { ...spec, server: createServer(), sockets: new Set(), cut: false, refused: 0 };
  links.set(keyOf(spec.a, spec.b), link);
  link.server.on("connection", (inbound) => {
    if (link.cut) {
      link.refused++;
      inbound.destroy();
      return;
    }
    const outbound = connect(link.target, "127.0.0.1");
    for (const [from, to] of [
      [inbound, outbound],
      [outbound, inbound],
    ]) {
      link.sockets.add(from);
      from.pipe(to);
      from.on("error", () => to.destroy());
      from.on("close", () => {
        link.sockets.delete(from);
        to.destroy();
      });
    }
  });
  return new Promise((resolve, reject) => {
    link.server.once("error", reject);
    link.server.listen(spec.listen, "127.0.0.1", () => resolve());
  });
}

function setCut(pairs: [number, number][]): void {
  const cut = new Set(pairs.map(([a, b]) => keyOf(a, b)));
  for (const [key, link] of links) {
    link.cut = cut.has(key);
    if (link.cut) for (const s of link.sockets) s.destroy();
  }
}

function status() {
  return [...links.values()].map((l) => ({ a: l.a, b: l.b, listen: l.listen, target: l.target, cut: l.cut, connections: l.sockets.size / 2, refused: l.refused }));
}

async function body(req: IncomingMessage): Promise<unknown> {
  let text = "";
  for await (const chunk of req) text += chunk;
  return text ? JSON.parse(text) : undefined;
}

async function control(req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    if (req.method === "POST" && req.url === "/links") for (const spec of (await body(req)) as LinkSpec[]) await relay(spec);
    else if (req.method === "POST" && req.url === "/cut") setCut((await body(req)) as [number, number][]);
    else if (req.method === "POST" && req.url === "/heal") setCut([]);
    else if (!(req.method === "GET" && req.url === "/")) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(status()));
  } catch (e) {
    res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: (e as Error).message }));
  }
}

if (require.main === module) {
  const port = Number(process.argv[2]);
  if (!Number.isInteger(port) || port <= 0) {
    console.error("links: usage: links.ts CONTROL_PORT");
    process.exit(2);
  }
  const server = createHttpServer((req, res) => void control(req, res));
  server.listen(port, "127.0.0.1", () => console.log(`links: control on 127.0.0.1:${port}`));
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => process.exit(0));
}
