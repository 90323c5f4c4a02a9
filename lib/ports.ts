/** A free TCP port on loopback, for a node or server this process is about to start. */
import { createServer } from "node:net";

/** ports this process chose already: several are often chosen before the first is listened on */
const handedOut = new Set<number>();

/**
 * A free port below Linux's ephemeral range (32768-60999), where outgoing connections take their
 * local ports: a node started later on a port chosen earlier (a restart on the same port, a chain's
 * nodes whose ports are written into each other's configuration first) cannot find it held by one
 * of this machine's own connections, as a port the kernel picked from that range can be.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (!handedOut.has(port) && (await canListen(port))) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error("no free TCP port found on 127.0.0.1 between 20000 and 32000");
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}
