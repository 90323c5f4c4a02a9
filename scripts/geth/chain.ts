/**
 * A private Geth network on loopback, for operators, tests and benchmarks alike:
 *
 *   startChain({ engine: "clique" | "ethash", nodes: N })  -> a running chain (N >= 2 nodes, peered)
 *   stopChain(dir)                                          -> stops every node it started
 *
 * and the helpers the runbook and the tests use on a running chain: killNode / restartNode (a node
 * crash, an upgrade to another binary), addNode (a new peer on the same genesis), partition / heal
 * (on a chain started with `partitionable`, whose p2p links go through the relay of links.ts:
 * a cut pair cannot reach each other until healed; discovery is off, so no other path exists).
 *
 * - ethash: Geth 1.11.6 (the last release that mines), miners on nodes 1 and 2 (one thread each,
 *   so the network can fork), difficulty starting at the protocol minimum and adjusting by
 *   Geth's default rule, the DAG kept across runs in the Geth cache directory.
 * - clique: Geth 1.13.15 (the last release that seals Clique); one sealer for two nodes (two
 *   sealers halt as soon as one stops: each may seal only one block in two), every node a sealer
 *   from three nodes on (any majority keeps sealing).
 *
 * Nothing but a Clique sealer's own key is unlocked on a node: the operator's key is an encrypted
 * keystore that the tasks decrypt and sign with locally. Everything about a chain is written to
 * `<dir>/chain.json`; the settings `--network privnet` reads go to `<dir>/privnet.env` and stdout.
 */
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { freePort } from "../../lib/ports";
import path from "node:path";
import { Wallet, encryptKeystoreJsonSync, getAddress, parseEther } from "ethers";
import type { LinkSpec } from "./links";

export type Engine = "ethash" | "clique";

/** The repository: the nearest folder above this file (or the working directory) holding scripts/geth/install.sh. */
export const REPO_ROOT = ((start: string) => {
  for (let d = start; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, "scripts/geth/install.sh"))) return d;
    if (d === path.dirname(d)) return process.cwd();
  }
})(typeof __filename === "string" ? path.dirname(__filename) : process.cwd());
export const GETH_VERSION: Record<Engine, string> = { ethash: "1.11.6", clique: "1.13.15" };
export const CHAIN_ID: Record<Engine, number> = { ethash: 20190, clique: 20191 };
/**
 * Confirmations the cycle daemon waits for (PRIVNET_CONFIRMATIONS). Clique with one sealer (or
 * sealers that agree) does not fork; with several, two sealers may seal the same height and the
 * lighter block is dropped one block later, so 2. Ethash forks whenever two miners find a block
 * within the propagation delay, and a partitioned miner can build a long side branch: 6, as on
 * Ethereum's proof-of-work chain, and the sender re-sends whatever a deeper reorg drops.
 */
export const CONFIRMATIONS: Record<Engine, number> = { ethash: 6, clique: 2 };
/**
 * Block gas limit. A market interval costs about 240,000 gas per participant (gas-snapshot.json),
 * the largest single transaction stays under 10,000,000. 60,000,000 a block carries 250
 * participants' interval per block: a 15-minute interval of 10,000 participants (2.4 Ggas) then
 * needs 40 blocks, well inside its 180 five-second Clique blocks, commit and reveal windows included.
 */
export const DEFAULT_GAS_LIMIT = 60_000_000;
/** --miner.gasprice: the node refuses remote transactions paying less (a tip below it, after London). */
export const MINER_GAS_PRICE_WEI = 1_000_000_000n;
/** The ethash epoch-0 DAG Geth 1.11 writes (revision 23, seed 0). */
const DAG_FILE = "full-R23-0000000000000000";

export interface ChainOptions {
  engine: Engine;
  /** Nodes, at least 2 (default 2). */
  nodes?: number;
  /** Data directory of this chain; emptied first (default .cache/chain-<engine>). */
  dir?: string;
  /** Clique block period in seconds (default 5). */
  period?: number;
  /** Clique sealers: the first K nodes (default 1 for 2 nodes, every node from 3 on). */
  sealers?: number;
  gasLimit?: number;
  /** Extra accounts funded in genesis (address -> wei), e.g. a benchmark's participants. */
  prefund?: Record<string, bigint>;
  /** Where install.sh put the binaries and the DAG (default .cache/geth). */
  gethCache?: string;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  /**
   * Peer the nodes through a relay on loopback (scripts/geth/links.ts) that `partition` can cut and
   * `heal` can join again. Without it nodes peer directly, and the chain cannot be partitioned.
   */
  partitionable?: boolean;
}

export interface NodeInfo {
  index: number;
  datadir: string;
  httpUrl: string;
  httpPort: number;
  p2pPort: number;
  authPort: number;
  pid: number;
  log: string;
  /** Mines (ethash) or seals (clique). */
  producer: boolean;
  /** The Clique sealer's address. */
  signer?: string;
  enode?: string;
  /** The geth binary it runs. */
  geth: string;
  /** Arguments it was started with (restartNode reuses them). */
  args: string[];
}

export interface Chain {
  engine: Engine;
  dir: string;
  chainId: number;
  gethVersion: string;
  confirmations: number;
  gasLimit: number;
  period?: number;
  genesis: string;
  operator: { address: string; keystore: string; passwordFile: string };
  nodes: NodeInfo[];
  rpcUrls: string[];
  /** KEY=value settings for `--network privnet`. */
  settings: Record<string, string>;
  /** The p2p relay of a partitionable chain. */
  links?: { pid: number; control: number; log: string; pairs: LinkSpec[] };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function gethCacheDir(): string {
  return process.env.GETH_CACHE_DIR ?? path.join(REPO_ROOT, ".cache/geth");
}

export function gethBinary(engine: Engine, cache = gethCacheDir()): string {
  const bin = path.join(cache, `v${GETH_VERSION[engine]}`, "geth");
  if (!existsSync(bin)) throw new ChainError(`Geth ${GETH_VERSION[engine]} is not built: run scripts/geth/install.sh (expected ${bin})`);
  return bin;
}

export function defaultDir(engine: Engine): string {
  return path.join(REPO_ROOT, `.cache/chain-${engine}`);
}

/** A clear, one-line failure of the chain scripts. */
export class ChainError extends Error {}

// ------------------------------------------------------------------------------------------ start

export async function startChain(o: ChainOptions): Promise<Chain> {
  const engine = o.engine;
  const n = o.nodes ?? 2;
  if (!Number.isInteger(n) || n < 2) throw new ChainError(`--nodes must be a whole number of at least 2, not ${o.nodes}`);
  const log = o.log ?? ((l: string) => process.stderr.write(l + "\n"));
  const cache = o.gethCache ?? gethCacheDir();
  const geth = gethBinary(engine, cache);
  const dir = path.resolve(o.dir ?? defaultDir(engine));
  if (existsSync(path.join(dir, "chain.json"))) await stopChain(dir).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });

  const period = engine === "clique" ? (o.period ?? 5) : undefined;
  const sealers = engine === "clique" ? (o.sealers ?? (n >= 3 ? n : 1)) : 0;
  if (engine === "clique" && (sealers < 1 || sealers > n)) throw new ChainError(`--sealers must be between 1 and ${n}`);
  const gasLimit = o.gasLimit ?? DEFAULT_GAS_LIMIT;

  const operator = operatorAccount(dir);
  const nodes: NodeInfo[] = [];
  for (let i = 1; i <= n; i++) nodes.push(await planNode(dir, i, geth, engine === "ethash" ? i <= 2 : i <= sealers));
  const signers = nodes.filter((x) => x.producer && engine === "clique").map((x) => createSigner(x));
  const genesis = path.join(dir, "genesis.json");
  writeFileSync(genesis, JSON.stringify(genesisOf(engine, { gasLimit, period, signers, alloc: { [operator.address]: parseEther("1000000"), ...o.prefund } }), null, 2) + "\n");

  const chain: Chain = {
    engine,
    dir,
    chainId: CHAIN_ID[engine],
    gethVersion: GETH_VERSION[engine],
    confirmations: CONFIRMATIONS[engine],
    gasLimit,
    period,
    genesis,
    operator,
    nodes,
    rpcUrls: nodes.map((x) => x.httpUrl),
    settings: {},
  };
  chain.settings = settingsOf(chain);
  const dagDir = path.join(cache, "ethash");
  if (engine === "ethash") removeStaleDagParts(dagDir);
  for (const node of nodes) {
    initNode(geth, node, genesis);
    node.args = nodeArgs(chain, node, dagDir);
  }
  save(chain);

  // Start node 1 first. On ethash, the second miner starts once node 1 has written the DAG, so the
  // first run builds the 1 GB DAG once instead of twice at the same time on two cores.
  const [first, ...rest] = nodes;
  launch(first);
  save(chain);
  await waitForRpc(first);
  if (engine === "ethash" && !existsSync(path.join(dagDir, DAG_FILE))) {
    log(`building the ethash DAG in ${dagDir} (about 1 GB, once; later runs reuse it)…`);
    await until(() => existsSync(path.join(dagDir, DAG_FILE)), 30 * 60_000, "the ethash DAG was not written");
  }
  for (const node of rest) {
    launch(node);
    save(chain);
  }
  for (const node of rest) await waitForRpc(node);
  for (const node of nodes) node.enode = await rpc<{ enode: string }>(node.httpUrl, "admin_nodeInfo", []).then((x) => x.enode);
  if (o.partitionable) await startLinks(chain);
  await peerAll(chain);
  save(chain);
  await waitForBlocks(chain, 2);
  log(`${engine} chain ${chain.chainId} up: ${n} nodes (${nodes.filter((x) => x.producer).length} ${engine === "ethash" ? "mining" : "sealing"}), Geth ${chain.gethVersion}, data in ${dir}`);
  return chain;
}

/**
 * A miner writes a DAG to `<name>.<random>` and renames it when done; one stopped half-way leaves a
 * gigabyte behind. Geth also starts the next epoch's DAG as soon as it mines, so the first runs
 * leave such parts. Parts nobody wrote to for ten minutes are removed.
 */
function removeStaleDagParts(dagDir: string): void {
  if (!existsSync(dagDir)) return;
  for (const f of readdirSync(dagDir)) {
    const file = path.join(dagDir, f);
    if (/^full-R\d+-[0-9a-f]+\.\d+$/.test(f) && Date.now() - statSync(file).mtimeMs > 10 * 60_000) rmSync(file, { force: true });
  }
}

function operatorAccount(dir: string): Chain["operator"] {
  const given = process.env.OPERATOR_KEYSTORE;
  if (given) {
    const passwordFile = process.env.OPERATOR_PASSWORD_FILE;
    if (!passwordFile) throw new ChainError("OPERATOR_KEYSTORE is set but OPERATOR_PASSWORD_FILE is not");
    const address = getAddress("0x" + String(JSON.parse(readFileSync(given, "utf8")).address).replace(/^0x/, ""));
    return { address, keystore: path.resolve(given), passwordFile: path.resolve(passwordFile) };
  }
  // A fresh operator per chain: an encrypted keystore and its password file, both mode 600. The
  // light scrypt setting is Geth's --lightkdf: a test chain's key, decrypted by every task run.
  const wallet = Wallet.createRandom();
  const password = Wallet.createRandom().privateKey.slice(2, 34);
  const keystore = path.join(dir, "operator.keystore.json");
  const passwordFile = path.join(dir, "operator.password");
  writeFileSync(passwordFile, password + "\n", { mode: 0o600 });
  writeFileSync(keystore, encryptKeystoreJsonSync({ address: wallet.address, privateKey: wallet.privateKey }, password, { scrypt: { N: 1 << 12 } }), { mode: 0o600 });
  return { address: wallet.address, keystore, passwordFile };
}

/** The sealer's key in the node's own keystore, with its password file. */
function createSigner(node: NodeInfo): string {
  const wallet = Wallet.createRandom();
  const password = Wallet.createRandom().privateKey.slice(2, 34);
  mkdirSync(path.join(node.datadir, "keystore"), { recursive: true });
  writeFileSync(path.join(node.datadir, "sealer.password"), password + "\n", { mode: 0o600 });
  const json = encryptKeystoreJsonSync({ address: wallet.address, privateKey: wallet.privateKey }, password, { scrypt: { N: 1 << 12 } });
  writeFileSync(path.join(node.datadir, "keystore", `sealer-${wallet.address.toLowerCase().slice(2)}.json`), json, { mode: 0o600 });
  node.signer = wallet.address;
  return wallet.address;
}

export interface GenesisFields {
  gasLimit: number;
  period?: number;
  signers: string[];
  alloc: Record<string, bigint>;
}

/** The genesis: every fork up to London (Gray Glacier) at block 0, nothing later. */
export function genesisOf(engine: Engine, g: GenesisFields) {
  const forks = ["homestead", "eip150", "eip155", "eip158", "byzantium", "constantinople", "petersburg", "istanbul", "muirGlacier", "berlin", "london", "arrowGlacier", "grayGlacier"];
  const config: Record<string, unknown> = { chainId: CHAIN_ID[engine], ...Object.fromEntries(forks.map((f) => [`${f}Block`, 0])) };
  if (engine === "clique") config.clique = { period: g.period ?? 5, epoch: 30000 };
  else config.ethash = {};
  const sorted = [...g.signers].map((s) => s.toLowerCase().slice(2)).sort();
  return {
    config,
    nonce: "0x0",
    timestamp: "0x0",
    // Clique: 32 vanity bytes, the sealers' addresses in ascending order, 65 zero signature bytes.
    extraData: engine === "clique" ? "0x" + "00".repeat(32) + sorted.join("") + "00".repeat(65) : "0x",
    gasLimit: "0x" + g.gasLimit.toString(16),
    // ethash: the protocol minimum, so one CPU thread finds the first blocks in seconds.
    difficulty: engine === "clique" ? "0x1" : "0x20000",
    mixHash: "0x" + "00".repeat(32),
    coinbase: "0x" + "00".repeat(20),
    alloc: Object.fromEntries(Object.entries(g.alloc).map(([a, wei]) => [a.toLowerCase(), { balance: "0x" + wei.toString(16) }])),
  };
}

async function planNode(dir: string, index: number, geth: string, producer: boolean): Promise<NodeInfo> {
  const httpPort = await freePort();
  const p2pPort = await freePort();
  const authPort = await freePort();
  return {
    index,
    datadir: path.join(dir, `node${index}`),
    httpUrl: `http://127.0.0.1:${httpPort}`,
    httpPort,
    p2pPort,
    authPort,
    pid: 0,
    log: path.join(dir, `node${index}.log`),
    producer,
    geth,
    args: [],
  };
}

function initNode(geth: string, node: NodeInfo, genesis: string): void {
  try {
    execFileSync(geth, ["--datadir", node.datadir, "init", genesis], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (e) {
    const err = String((e as { stderr?: Buffer }).stderr ?? "").trim().split("\n").at(-1);
    throw new ChainError(`geth init of node ${node.index} failed: ${err}`);
  }
}

/** The command line of a node. The admin API is served on loopback for peering and partitions. */
function nodeArgs(chain: Chain, node: NodeInfo, dagDir: string): string[] {
  const args = [
    "--datadir", node.datadir,
    "--networkid", String(chain.chainId),
    "--syncmode", "full",
    "--port", String(node.p2pPort),
    "--nodiscover",
    "--ipcdisable",
    "--authrpc.port", String(node.authPort),
    "--http", "--http.addr", "127.0.0.1", "--http.port", String(node.httpPort),
    // admin: peering and partitions; miner (ethash): stopping a miner to shape a partition's branches
    "--http.api", chain.engine === "ethash" ? "eth,net,web3,txpool,admin,miner" : "eth,net,web3,txpool,admin",
    "--miner.gasprice", MINER_GAS_PRICE_WEI.toString(),
    "--miner.gaslimit", String(chain.gasLimit),
    "--cache", "256",
  ];
  if (!node.producer) return args;
  if (chain.engine === "ethash") {
    return [...args, "--mine", "--miner.threads", "1", "--miner.etherbase", chain.operator.address, "--ethash.dagdir", dagDir];
  }
  return [...args, "--mine", "--miner.etherbase", node.signer!, "--unlock", node.signer!, "--password", path.join(node.datadir, "sealer.password"), "--allow-insecure-unlock"];
}

/** Start a node's geth in its own process group, detached: it outlives the caller. */
function launch(node: NodeInfo): void {
  const out = openSync(node.log, "a");
  const child: ChildProcess = spawn(node.geth, node.args, { detached: true, stdio: ["ignore", out, out] });
  closeSync(out);
  child.unref();
  if (!child.pid) throw new ChainError(`could not start geth for node ${node.index}`);
  node.pid = child.pid;
}

async function peerAll(chain: Chain): Promise<void> {
  for (const a of chain.nodes) for (const b of chain.nodes) if (b.index > a.index) await peer(chain, a, b);
  await until(async () => (await Promise.all(chain.nodes.map((x) => peerCount(x)))).every((c) => c >= chain.nodes.length - 1), 30_000, "the nodes did not peer");
}

/**
 * Node `b` (the higher index) keeps node `a` as a static peer: directly, or through their relay
 * port on a partitionable chain.
 */
async function peer(chain: Chain, a: NodeInfo, b: NodeInfo): Promise<void> {
  const [low, high] = a.index < b.index ? [a, b] : [b, a];
  const link = chain.links?.pairs.find((p) => p.a === low.index && p.b === high.index);
  const enode = link ? low.enode!.replace(/@[^?]+/, `@127.0.0.1:${link.listen}`) : low.enode!;
  await rpc(high.httpUrl, "admin_addPeer", [enode]);
}

async function peerCount(node: NodeInfo): Promise<number> {
  return Number(await rpc<string>(node.httpUrl, "net_peerCount", []).catch(() => "0x0"));
}

/** Return once every running node has seen block `height`. */
export async function waitForBlocks(chain: Chain, height: number, timeoutMs = 120_000): Promise<void> {
  const running = chain.nodes.filter((x) => isRunning(x.pid));
  await until(async () => {
    const heights = await Promise.all(running.map((x) => rpc<string>(x.httpUrl, "eth_blockNumber", []).then(Number, () => -1)));
    return heights.every((h) => h >= height);
  }, timeoutMs, `no block ${height} on every node (see the node logs in ${chain.dir})`);
}

async function waitForRpc(node: NodeInfo): Promise<void> {
  await until(async () => {
    if (!isRunning(node.pid)) throw new ChainError(`geth of node ${node.index} exited: ${lastLine(node.log)}`);
    return rpc(node.httpUrl, "eth_blockNumber", []).then(
      () => true,
      () => false,
    );
  }, 60_000, `node ${node.index} did not answer on ${node.httpUrl} (see ${node.log})`);
}

// ------------------------------------------------------------------------------------------ stop

export function readChain(dir: string): Chain {
  const file = path.join(dir, "chain.json");
  if (!existsSync(file)) throw new ChainError(`no chain in ${dir} (chain.json missing): nothing to stop`);
  return JSON.parse(readFileSync(file, "utf8")) as Chain;
}

/** Stop every node of the chain in `dir` (SIGTERM, then SIGKILL after 20 s); the data stays. */
export async function stopChain(dir: string): Promise<void> {
  const chain = readChain(path.resolve(dir));
  await Promise.all(chain.nodes.map((x) => stopNode(chain, x.index)));
  const relay = chain.links?.pid;
  if (relay && isRunning(relay)) {
    process.kill(relay, "SIGTERM");
    await until(() => !isRunning(relay), 10_000, `the p2p relay ${relay} did not stop`);
  }
}

export async function stopNode(chain: Chain, index: number, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  const node = nodeOf(chain, index);
  if (!node.pid || !isRunning(node.pid)) return;
  process.kill(node.pid, signal);
  const gone = await until(() => !isRunning(node.pid), 20_000, "").then(
    () => true,
    () => false,
  );
  if (!gone) {
    process.kill(node.pid, "SIGKILL");
    await until(() => !isRunning(node.pid), 5_000, `geth ${node.pid} did not stop`);
  }
}

/** kill -9 a node (a crash). */
export async function killNode(chain: Chain, index: number): Promise<void> {
  await stopNode(chain, index, "SIGKILL");
}

/**
 * Start a stopped node again on its data, optionally with another geth binary (an upgrade), and
 * peer it with the others.
 */
export async function restartNode(chain: Chain, index: number, geth?: string): Promise<void> {
  const node = nodeOf(chain, index);
  if (isRunning(node.pid)) throw new ChainError(`node ${index} is still running (pid ${node.pid})`);
  if (geth) node.geth = geth;
  launch(node);
  save(chain);
  await waitForRpc(node);
  node.enode = await rpc<{ enode: string }>(node.httpUrl, "admin_nodeInfo", []).then((x) => x.enode);
  for (const other of chain.nodes) if (other !== node && isRunning(other.pid)) await peer(chain, other, node);
  save(chain);
}

/** A new, non-producing node: the same genesis, its own ports and data, peered with every node. */
export async function addNode(chain: Chain): Promise<NodeInfo> {
  const geth = chain.nodes[0].geth;
  const node = await planNode(chain.dir, chain.nodes.length + 1, geth, false);
  initNode(geth, node, chain.genesis);
  node.args = nodeArgs(chain, node, path.join(gethCacheDir(), "ethash"));
  chain.nodes.push(node);
  chain.rpcUrls = chain.nodes.map((x) => x.httpUrl);
  chain.settings = settingsOf(chain);
  launch(node);
  save(chain);
  await waitForRpc(node);
  node.enode = await rpc<{ enode: string }>(node.httpUrl, "admin_nodeInfo", []).then((x) => x.enode);
  if (chain.links) await addLinks(chain, chain.nodes.filter((x) => x !== node).map((x) => [x, node]));
  for (const other of chain.nodes) if (other !== node && isRunning(other.pid)) await peer(chain, other, node);
  save(chain);
  return node;
}

// ------------------------------------------------------------------------------------------ partitions

/** Start the p2p relay (links.ts) with a port for every pair of nodes. */
async function startLinks(chain: Chain): Promise<void> {
  const control = await freePort();
  const log = path.join(chain.dir, "links.log");
  const out = openSync(log, "a");
  const child = spawn(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "scripts/geth/links.ts"), String(control)], { cwd: REPO_ROOT, detached: true, stdio: ["ignore", out, out] });
  closeSync(out);
  child.unref();
  if (!child.pid) throw new ChainError("could not start the p2p relay");
  chain.links = { pid: child.pid, control, log, pairs: [] };
  save(chain);
  await until(async () => {
    if (!isRunning(child.pid!)) throw new ChainError(`the p2p relay exited: ${lastLine(log)}`);
    return links(chain, "GET", "/").then(
      () => true,
      () => false,
    );
  }, 30_000, `the p2p relay did not answer (see ${log})`);
  const pairs: [NodeInfo, NodeInfo][] = [];
  for (const a of chain.nodes) for (const b of chain.nodes) if (b.index > a.index) pairs.push([a, b]);
  await addLinks(chain, pairs);
}

async function addLinks(chain: Chain, pairs: [NodeInfo, NodeInfo][]): Promise<void> {
  const specs: LinkSpec[] = [];
  for (const [x, y] of pairs) {
    const [a, b] = x.index < y.index ? [x, y] : [y, x];
    specs.push({ a: a.index, b: b.index, listen: await freePort(), target: a.p2pPort });
  }
  await links(chain, "POST", "/links", specs);
  chain.links!.pairs.push(...specs);
  save(chain);
}

/** One call to the relay's control port. */
async function links(chain: Chain, method: "GET" | "POST", route: string, body?: unknown): Promise<unknown> {
  if (!chain.links) throw new ChainError("this chain's nodes peer directly and cannot be partitioned: start it with --partitionable");
  const res = await fetch(`http://127.0.0.1:${chain.links.control}${route}`, { method, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  const answer = await res.json();
  if (!res.ok) throw new ChainError(`the p2p relay refused ${route}: ${(answer as { error?: string }).error}`);
  return answer;
}

/** A node's public key, from its enode URL (what admin_peers shows of a peer, whatever its address). */
const nodeKey = (enode: string) => enode.replace(/^enode:\/\//, "").split("@")[0];
const peerKeys = async (node: NodeInfo) => (await rpc<{ enode: string }[]>(node.httpUrl, "admin_peers", [])).map((p) => nodeKey(p.enode));

/**
 * Cut nodes `a` from nodes `b` (a partitionable chain): every connection between the two groups is
 * closed and no new one gets through until `heal`. Nodes in neither group keep all their links.
 */
export async function partition(chain: Chain, a: number[], b: number[]): Promise<void> {
  const pairs = a.flatMap((i) => b.map((j) => [nodeOf(chain, i).index, nodeOf(chain, j).index]));
  if (pairs.some(([i, j]) => i === j)) throw new ChainError("a node cannot be on both sides of a partition");
  await links(chain, "POST", "/cut", pairs);
  // a node drops a peer when its connection closes; wait until none of them sees the other side
  await until(async () => {
    for (const i of a.map((x) => nodeOf(chain, x)).filter((x) => isRunning(x.pid))) {
      const peers = await peerKeys(i);
      if (b.some((j) => peers.includes(nodeKey(nodeOf(chain, j).enode!)))) return false;
    }
    return true;
  }, 15_000, "the partition did not take");
}

/**
 * Join every cut pair again and wait until every running node sees every other. The nodes dial
 * their static peers again by themselves, within Geth's 35-second dial history.
 */
export async function heal(chain: Chain, timeoutMs = 120_000): Promise<void> {
  await links(chain, "POST", "/heal");
  const running = chain.nodes.filter((x) => isRunning(x.pid));
  await until(async () => (await Promise.all(running.map((x) => peerCount(x)))).every((c) => c >= running.length - 1), timeoutMs, "the nodes did not peer again");
}

// ------------------------------------------------------------------------------------------ settings

function settingsOf(chain: Chain): Record<string, string> {
  return {
    PRIVNET_RPC_URLS: chain.rpcUrls.join(","),
    PRIVNET_RPC_URL: chain.rpcUrls[0],
    PRIVNET_CHAIN_ID: String(chain.chainId),
    PRIVNET_GAS_MODE: "legacy",
    PRIVNET_GAS_PRICE_GWEI: String(Number(MINER_GAS_PRICE_WEI) / 1e9),
    PRIVNET_CONFIRMATIONS: String(chain.confirmations),
    OPERATOR_KEYSTORE: chain.operator.keystore,
    OPERATOR_PASSWORD_FILE: chain.operator.passwordFile,
    CHAIN_DIR: chain.dir,
  };
}

export function formatSettings(settings: Record<string, string>): string {
  return Object.entries(settings)
    .map(([k, v]) => `${k}=${v}`)
    .join("\n");
}

/** chain.json and privnet.env (the KEY=value lines, to `source` or copy into .env). */
function save(chain: Chain): void {
  writeFileSync(path.join(chain.dir, "chain.json"), JSON.stringify(chain, null, 2) + "\n");
  writeFileSync(path.join(chain.dir, "privnet.env"), formatSettings(chain.settings) + "\n");
}

function nodeOf(chain: Chain, index: number): NodeInfo {
  const node = chain.nodes.find((x) => x.index === index);
  if (!node) throw new ChainError(`no node ${index} (the chain has ${chain.nodes.length})`);
  return node;
}

// ------------------------------------------------------------------------------------------ plumbing

let rpcId = 0;
/** One JSON-RPC call over HTTP; a node's error becomes an Error with its message. */
export async function rpc<T = unknown>(url: string, method: string, params: unknown[]): Promise<T> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: ++rpcId, method, params }), signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { result?: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}

export function isRunning(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // a zombie (exited, not yet reaped by its parent) counts as stopped
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}

async function until(ok: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await ok()); await sleep(250)) {
    if (Date.now() > deadline) throw new ChainError(what);
  }
}

export { freePort };

function lastLine(file: string): string {
  try {
    return readFileSync(file, "utf8").trim().split("\n").slice(-3).join(" | ");
  } catch {
    return "(no log)";
  }
}

/** Chains found under a directory (chain:down without --dir stops every chain under .cache). */
export function chainDirs(root = path.join(REPO_ROOT, ".cache")): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((d) => path.join(root, d))
    .filter((d) => existsSync(path.join(d, "chain.json")));
}
