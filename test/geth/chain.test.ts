/**
 * The operator's commands of scripts/geth/README.md, run as written: install.sh (cached, no Go,
 * a failed build), chain:up with its KEY=value settings, a task through them, chain:add-node,
 * a partition (held past Geth's redial time) and its healing, a node stopped and started again on a binary given with --geth (the
 * upgrade step), a keystore
 * backup restored and decrypted, bad arguments, and chain:down.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Wallet } from "ethers";
import { Chain, isRunning, readChain, rpc } from "../../scripts/geth/chain";
import { REPO_ROOT, hardhat, sleep } from "./support";

const run = promisify(execFile);
const CLI = ["--import", "tsx", path.join(REPO_ROOT, "scripts/geth/cli.ts")];
let dir: string;

/** Run the chain CLI; resolves with stdout, stderr and the exit code (never rejects). */
async function chainCli(args: string[], env: NodeJS.ProcessEnv = process.env) {
  try {
    const r = await run(process.execPath, [...CLI, ...args], { cwd: REPO_ROOT, env, timeout: 180_000 });
    return { ...r, code: 0 };
  } catch (e) {
    const err = e as { stdout: string; stderr: string; code: number };
    return { stdout: err.stdout, stderr: err.stderr, code: err.code };
  }
}

const settingsOf = (stdout: string) => Object.fromEntries(stdout.trim().split("\n").map((l) => l.split(/=(.*)/s).slice(0, 2)));

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), "geth-chain-cli-"));
});
after(async () => {
  await chainCli(["down", "--dir", path.join(dir, "chain")]);
  rmSync(dir, { recursive: true, force: true });
});

test("install.sh reuses the cached binaries, and says in one line when Go is missing or a build fails", async () => {
  const cached = await run("bash", [path.join(REPO_ROOT, "scripts/geth/install.sh")], { cwd: REPO_ROOT });
  assert.match(cached.stdout, /^geth 1\.11\.6: cached at .*\ngeth 1\.13\.15: cached at .*\n$/);
  for (const [env, message] of [
    [{ GO: "/nonexistent/go" }, /^error: Go is not installed \(\/nonexistent\/go not found on PATH or in \/usr\/local\/go\/bin\): Geth cannot be built\n$/],
    [{ GETH_VERSIONS: "0.0.1", GETH_CACHE_DIR: path.join(dir, "cache") }, /^error: building geth 0\.0\.1 failed \(.+\); full output: .*build-0\.0\.1\.log\n$/],
  ] as const) {
    const r = await run("bash", [path.join(REPO_ROOT, "scripts/geth/install.sh")], { cwd: REPO_ROOT, env: { ...process.env, ...env } }).then(
      () => assert.fail("should fail"),
      (e) => e as { code: number; stderr: string },
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, message);
  }
});

test("chain:up prints the privnet settings; a task runs through them; bad arguments get one line", async () => {
  const bad = await chainCli(["up", "--engine", "aura"]);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, 'chain: --engine must be ethash or clique, not "aura"\n');
  const one = await chainCli(["up", "--engine", "clique", "--nodes", "1"]);
  assert.equal(one.stderr, "chain: --nodes must be a whole number of at least 2, not 1\n");

  const up = await chainCli(["up", "--engine", "clique", "--nodes", "2", "--period", "1", "--partitionable", "--dir", path.join(dir, "chain")]);
  assert.equal(up.code, 0, up.stderr);
  const s = settingsOf(up.stdout);
  assert.deepEqual(Object.keys(s), ["PRIVNET_RPC_URLS", "PRIVNET_RPC_URL", "PRIVNET_CHAIN_ID", "PRIVNET_GAS_MODE", "PRIVNET_GAS_PRICE_GWEI", "PRIVNET_CONFIRMATIONS", "OPERATOR_KEYSTORE", "OPERATOR_PASSWORD_FILE", "CHAIN_DIR"]);
  assert.equal(s.PRIVNET_RPC_URLS.split(",").length, 2);
  assert.equal(s.PRIVNET_CHAIN_ID, "20191");
  assert.equal(readFileSync(path.join(dir, "chain", "privnet.env"), "utf8"), up.stdout);
  const chain = readChain(path.join(dir, "chain"));
  // London from block 0: blocks carry a base fee; the genesis gas limit is the market's
  const block = await rpc<{ baseFeePerGas?: string; gasLimit: string }>(chain.rpcUrls[0], "eth_getBlockByNumber", ["0x1", false]);
  assert.ok(block.baseFeePerGas, "London is active from block 0");
  assert.equal(Number(block.gasLimit) > 59_000_000, true);

  const deployed = await hardhat(["deploy", "--network", "privnet", "--interval", "60"], { ...process.env, ...s, MARKET_DEPLOYMENT: path.join(dir, "deployment.json") });
  assert.match(deployed.stdout, /on privnet \(chain 20191\)/);
  assert.match(deployed.stderr, new RegExp(`privnet: using ${s.PRIVNET_RPC_URLS.split(",")[0]}`));
});

test("chain:add-node joins a node that syncs the chain; a node stopped and started on a given binary catches up", async () => {
  const added = await chainCli(["add-node", "--dir", path.join(dir, "chain")]);
  assert.equal(added.code, 0, added.stderr);
  assert.equal(settingsOf(added.stdout).PRIVNET_RPC_URLS.split(",").length, 3);
  let chain: Chain = readChain(path.join(dir, "chain"));
  const head = async (i: number) => Number(await rpc<string>(chain.rpcUrls[i], "eth_blockNumber", []));
  const sealerHead = await head(0);
  for (const end = Date.now() + 60_000; (await head(2)) < sealerHead; ) if (Date.now() > end) assert.fail("node 3 did not sync");

  // a partition through the relay of the partitionable chain, held longer than Geth's 35-second
  // dial history (nodes cut through the admin API were seen peered again after it), then healed
  const cut = await chainCli(["partition", "--a", "1", "--b", "2,3", "--dir", path.join(dir, "chain")]);
  assert.equal(cut.code, 0, cut.stderr);
  const peers = async (i: number) => Number(await rpc<string>(chain.rpcUrls[i], "net_peerCount", []));
  const relayed = async () => (await (await fetch(`http://127.0.0.1:${chain.links!.control}/`)).json()) as { a: number; b: number; refused: number }[];
  for (const end = Date.now() + 40_000; Date.now() < end; await sleep(2000)) {
    assert.equal(await peers(0), 0, "node 1 stays cut off");
    assert.equal(await peers(1), 1, "nodes 2 and 3 still see each other");
  }
  const refused = (await relayed()).filter((l) => l.a === 1).reduce((n, l) => n + l.refused, 0);
  assert.ok(refused > 0, "nodes 2 and 3 dialled node 1 again and were refused while cut");
  const healed = await chainCli(["heal", "--dir", path.join(dir, "chain")]);
  assert.equal(healed.code, 0, healed.stderr);
  assert.equal(await peers(0), 2);

  const stopped = await chainCli(["node", "stop", "--node", "2", "--dir", path.join(dir, "chain")]);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.equal(isRunning(chain.nodes[1].pid), false);
  const binary = chain.nodes[1].geth; // an upgrade swaps in another 1.13.x binary here
  const started = await chainCli(["node", "start", "--node", "2", "--geth", binary, "--dir", path.join(dir, "chain")]);
  assert.equal(started.code, 0, started.stderr);
  chain = readChain(path.join(dir, "chain"));
  const target = (await head(0)) + 2;
  for (const end = Date.now() + 60_000; (await head(1)) < target; ) if (Date.now() > end) assert.fail("node 2 did not catch up after its restart");
});

test("a keystore backup decrypts to the same account; chain:down stops every node", async () => {
  const chain = readChain(path.join(dir, "chain"));
  const backup = path.join(dir, "operator.backup.json");
  copyFileSync(chain.operator.keystore, backup);
  const restored = Wallet.fromEncryptedJsonSync(readFileSync(backup, "utf8"), readFileSync(chain.operator.passwordFile, "utf8").trim());
  assert.equal(restored.address, chain.operator.address);
  const sealerKey = path.join(chain.nodes[0].datadir, "keystore");
  assert.ok(readFileSync(path.join(sealerKey, `sealer-${chain.nodes[0].signer!.toLowerCase().slice(2)}.json`), "utf8").includes(chain.nodes[0].signer!.toLowerCase().slice(2)));

  const down = await chainCli(["down", "--dir", path.join(dir, "chain")]);
  assert.equal(down.code, 0, down.stderr);
  for (const n of readChain(path.join(dir, "chain")).nodes) assert.equal(isRunning(n.pid), false, `node ${n.index} stopped`);
  assert.equal(isRunning(chain.links!.pid), false, "the p2p relay stopped");
});
