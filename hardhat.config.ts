import "@nomicfoundation/hardhat-toolbox";
import * as dotenv from "dotenv";
import { subtask } from "hardhat/config";
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from "hardhat/builtin-tasks/task-names";
import type { HardhatUserConfig } from "hardhat/config";
import "./tasks";

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

const config: HardhatUserConfig = {
  solidity: {
    version: SOLC_VERSION,
    settings: {
      evmVersion: "london",
      optimizer: { enabled: true, runs: 200 },
    },
  },
  networks: {
    hardhat: {
      hardfork: "london",
      allowUnlimitedContractSize: false,
      blockGasLimit: 30_000_000,
      accounts: { count: 40 },
    },
  },
  mocha: { timeout: 600_000 },
  typechain: { outDir: "typechain-types", target: "ethers-v6" },
  gasReporter: { enabled: false },
};

export default config;
