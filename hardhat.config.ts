import "@nomicfoundation/hardhat-toolbox";
import * as dotenv from "dotenv";
import { extendProvider, subtask } from "hardhat/config";
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, TASK_TEST_GET_TEST_FILES } from "hardhat/builtin-tasks/task-names";
import type { HardhatUserConfig } from "hardhat/config";
import "./tasks";
import { FailoverEip1193, NodeList, privnetRpcUrls } from "./lib/rpc";

dotenv.config({ quiet: true } as dotenv.DotenvConfigOptions);

/** The one compiler version; the npm `solc` package is pinned to exactly this version. */
const SOLC_VERSION = "0.8.28";

// Offline compiler: use the soljson.js shipped by the npm `solc` package instead of
// downloading a build (HH502 on a machine without internet).
subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }, _hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const solc = require("solc");
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: SOLC_VERSION,
    longVersion: solc.version(),
  };
});

// test/geth/ runs on real Geth nodes under node's test runner (npm run test:geth), not in `hardhat test`.
subtask(TASK_TEST_GET_TEST_FILES, async (args: { testFiles: string[] }, _hre, runSuper) => {
  const files: string[] = await runSuper(args);
  return args.testFiles.length ? files : files.filter((f) => !/[/\\]test[/\\]geth[/\\]/.test(f));
});

/** Anvil's and Hardhat's well-known development mnemonic: keys for `localhost`, signed locally. */
export const DEV_MNEMONIC = "test test test test test test test test test test test junk";

const env = process.env;
const privnetGasMode = env.PRIVNET_GAS_MODE ?? "legacy";
if (privnetGasMode !== "legacy" && privnetGasMode !== "eip1559") {
  throw new Error(`PRIVNET_GAS_MODE must be "legacy" or "eip1559", not ${JSON.stringify(privnetGasMode)} (see .env.example)`);
}

/** PRIVNET_RPC_URLS (every node, comma-separated; `npm run chain:up` prints it) or PRIVNET_RPC_URL. */
const privnetUrls = privnetRpcUrls(env);

// On privnet every call goes through the node list: the first node that answers is used, and a
// switch to another node is logged on stderr (lib/rpc.ts).
extendProvider((provider, _config, network) => {
  if (network !== "privnet") return provider;
  const nodes = new NodeList(privnetUrls, {
    log: (e) => process.stderr.write(e.event === "node-switch" ? `privnet: ${e.from} did not answer (${e.error}); using ${e.node}\n` : e.event === "node-in-use" ? `privnet: using ${e.node}\n` : `privnet: no node answers (${e.error})\n`),
  });
  return new FailoverEip1193(provider, nodes);
});

const config: HardhatUserConfig = {
  solidity: {
    version: SOLC_VERSION,
    settings: {
      evmVersion: "london",
      optimizer: { enabled: true, runs: 1000 },
      // The IR pipeline and 1,000 runs: 5-10% less gas on the hot paths than the legacy pipeline, and
      // a market contract of 22.3 KB, under the 24 KB limit (4,000 runs would leave 256 bytes).
      viaIR: true,
    },
  },
  networks: {
    hardhat: {
      hardfork: "london",
      allowUnlimitedContractSize: false,
      blockGasLimit: 30_000_000,
      accounts: { count: 40 },
    },
    // Any JSON-RPC node on loopback (anvil, `npx hardhat node`); keys from the dev mnemonic, signed here.
    localhost: {
      url: env.LOCALHOST_RPC_URL ?? "http://127.0.0.1:8545",
      accounts: { mnemonic: DEV_MNEMONIC, count: 40 },
    },
    // A private Geth chain (scripts/geth/). The operator key is a raw key here, or a keystore that
    // lib/signers.ts decrypts; either way transactions are signed locally, never by the node.
    privnet: {
      url: privnetUrls[0],
      chainId: env.PRIVNET_CHAIN_ID ? Number(env.PRIVNET_CHAIN_ID) : undefined,
      accounts: env.OPERATOR_PRIVATE_KEY ? [env.OPERATOR_PRIVATE_KEY] : [],
      gasPrice: privnetGasMode === "legacy" ? Math.round(Number(env.PRIVNET_GAS_PRICE_GWEI ?? "1") * 1e9) : "auto",
      timeout: 60_000,
    },
  },
  mocha: { timeout: 600_000 },
  typechain: { outDir: "typechain-types", target: "ethers-v6" },
  gasReporter: { enabled: false },
};

export default config;
