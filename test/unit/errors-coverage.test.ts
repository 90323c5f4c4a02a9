/**
 * Guard: every custom error of the compiled market ABI is expected by name in some
 * `revertedWithCustomError(..., "Name")` of the test suite, or, for the errors a settlement batch
 * skips an entry with instead of reverting, as the reason of an EntrySkipped event
 * (`skipReason(..., "Name", ...)` in a `withArgs`), so a new error cannot go untested.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { artifacts } from "hardhat";

const TEST_ROOT = path.join(__dirname, "..");

function testFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return testFiles(p);
    return e.name.endsWith(".ts") ? [p] : [];
  });
}

describe("errors coverage", function () {
  it("every custom error in the EnergyMarket ABI is expected by some revertedWithCustomError test or EntrySkipped reason", async function () {
    const { abi } = await artifacts.readArtifact("EnergyMarket");
    const errors = abi.filter((f: { type: string }) => f.type === "error").map((f: { name: string }) => f.name);
    expect(errors.length).to.be.greaterThan(30);
    const tested = new Set<string>();
    const patterns = [/revertedWithCustomError\(\s*[^,()]+,\s*["'`](\w+)["'`]/g, /skipReason\(\s*[^,()]+,\s*["'`](\w+)["'`]/g];
    for (const file of testFiles(TEST_ROOT)) {
      const text = fs.readFileSync(file, "utf8");
      for (const pattern of patterns) for (const m of text.matchAll(pattern)) tested.add(m[1]);
    }
    const untested = errors.filter((e: string) => !tested.has(e));
    expect(untested, `errors no test expects: ${untested.join(", ")}`).to.deep.equal([]);
  });
});
