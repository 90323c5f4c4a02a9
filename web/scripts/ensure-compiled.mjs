// The portal bundles the typechain factories that `npx hardhat compile` generates at the root.
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "../..");
if (!existsSync(path.join(root, "typechain-types/index.ts"))) {
  console.log("typechain-types missing: running `npx hardhat compile` at the repository root");
  const r = spawnSync("npx", ["hardhat", "compile"], { cwd: root, stdio: "inherit" });
  process.exit(r.status ?? 1);
}
