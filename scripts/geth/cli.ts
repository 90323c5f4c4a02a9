/**
 * The chain from the command line (package.json: chain:up, chain:down, chain:add-node, chain:node):
 *
 *   up --engine ethash|clique [--nodes N] [--period S] [--sealers K] [--gas-limit G] [--dir D] [--partitionable]
 *        starts the network, returns once blocks are produced on every node, and prints the
 *        KEY=value settings `--network privnet` reads (also in D/privnet.env); --partitionable
 *        peers the nodes through a relay on loopback that `partition` can cut
 *   down [--dir D]                 stops every node (all chains under .cache/ without --dir)
 *   add-node [--dir D]             a new peer on the same genesis; prints the new settings
 *   node stop|kill|start --node I [--geth PATH] [--dir D]
 *                                  stop (SIGTERM) or kill -9 one node; start it again, with another
 *                                  geth binary for an upgrade
 *   partition --a 1 --b 2 [--dir D] / heal [--dir D]
 *                                  (a chain started with --partitionable)
 *
 * Progress goes to stderr, settings to stdout; a failure is one line and exit code 1.
 */
import { parseArgs } from "node:util";
import path from "node:path";
import { ChainError, Engine, addNode, chainDirs, defaultDir, formatSettings, heal, killNode, partition, readChain, restartNode, startChain, stopChain, stopNode } from "./chain";

const ENGINES = ["ethash", "clique"];

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      engine: { type: "string" },
      nodes: { type: "string" },
      period: { type: "string" },
      sealers: { type: "string" },
      "gas-limit": { type: "string" },
      dir: { type: "string" },
      node: { type: "string" },
      geth: { type: "string" },
      a: { type: "string" },
      b: { type: "string" },
      partitionable: { type: "boolean" },
    },
  });
  const dir = () => {
    if (values.dir) return path.resolve(values.dir);
    const found = chainDirs();
    if (found.length === 1) return found[0];
    throw new ChainError(found.length ? `several chains under .cache (${found.map((d) => path.basename(d)).join(", ")}): pass --dir` : "no chain under .cache: pass --dir");
  };
  switch (command) {
    case "up": {
      const engine = values.engine ?? "clique";
      if (!ENGINES.includes(engine)) throw new ChainError(`--engine must be ethash or clique, not ${JSON.stringify(engine)}`);
      const chain = await startChain({
        engine: engine as Engine,
        nodes: count(values.nodes, "--nodes", 2),
        period: count(values.period, "--period", undefined),
        sealers: count(values.sealers, "--sealers", undefined),
        gasLimit: count(values["gas-limit"], "--gas-limit", undefined),
        dir: values.dir ?? defaultDir(engine as Engine),
        partitionable: values.partitionable,
      });
      console.log(formatSettings(chain.settings));
      return;
    }
    case "down": {
      const dirs = values.dir ? [path.resolve(values.dir)] : chainDirs();
      for (const d of dirs) {
        await stopChain(d);
        console.error(`stopped the chain in ${d}`);
      }
      return;
    }
    case "add-node": {
      const chain = readChain(dir());
      const node = await addNode(chain);
      console.error(`node ${node.index} up at ${node.httpUrl}, peered with ${chain.nodes.length - 1} nodes`);
      console.log(formatSettings(chain.settings));
      return;
    }
    case "node": {
      const chain = readChain(dir());
      const index = count(values.node, "--node", undefined);
      if (index === undefined) throw new ChainError("--node I is required");
      const action = positionals[0];
      if (action === "stop") await stopNode(chain, index);
      else if (action === "kill") await killNode(chain, index);
      else if (action === "start") await restartNode(chain, index, values.geth && path.resolve(values.geth));
      else throw new ChainError(`node: expected stop, kill or start, not ${JSON.stringify(action)}`);
      console.error(`node ${index}: ${action} done`);
      return;
    }
    case "partition": {
      const chain = readChain(dir());
      await partition(chain, list(values.a, "--a"), list(values.b, "--b"));
      console.error(`partitioned: nodes ${values.a} | nodes ${values.b}`);
      return;
    }
    case "heal": {
      await heal(readChain(dir()));
      console.error("healed: every node peered again");
      return;
    }
    default:
      throw new ChainError(`unknown command ${JSON.stringify(command)}: expected up, down, add-node, node, partition or heal`);
  }
}

function count(v: string | undefined, name: string, fallback: number | undefined): number | undefined {
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v)) throw new ChainError(`${name} must be a whole number, not ${JSON.stringify(v)}`);
  return Number(v);
}

function list(v: string | undefined, name: string): number[] {
  if (!v || !/^\d+(,\d+)*$/.test(v)) throw new ChainError(`${name} must list node numbers, e.g. 1 or 1,3`);
  return v.split(",").map(Number);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (e) => {
    const message = e instanceof ChainError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") ? (e as Error).message : `${(e as Error).message.split("\n")[0]}`;
    console.error(`chain: ${message}`);
    process.exit(1);
  },
);
