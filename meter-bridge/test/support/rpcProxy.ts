/**
 * A JSON-RPC proxy in front of a node that answers some methods with null, as a real node does
 * when it keeps no index of old transactions (Geth's transaction lookup limit).
 */
import { Server, createServer } from "node:http";
import { freePort } from "./anvil";

export interface RpcProxy {
  url: string;
  stop(): Promise<void>;
}

export async function startRpcProxy(target: string, nullMethods: string[]): Promise<RpcProxy> {
  const port = await freePort();
  const server: Server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { id: number; method: string } | Array<{ id: number; method: string }>;
    const calls = Array.isArray(body) ? body : [body];
    const answers = await Promise.all(
      calls.map(async (call) => {
        if (nullMethods.includes(call.method)) return { jsonrpc: "2.0", id: call.id, result: null };
        const forwarded = await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(call) });
        return forwarded.json();
      }),
    );
    response.setHeader("content-type", "application/json");
    response.end(JSON.stringify(Array.isArray(body) ? answers : answers[0]));
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${port}`, stop: () => new Promise((resolve) => server.close(() => resolve())) };
}
