/**
 * `npm run bench:scale` refuses bad options the way every CLI here does: ONE line naming what is
 * wrong, exit code 1, and nothing started (no chain directory appears). The benchmark itself runs for
 * most of an hour on Geth and is not part of `npm test`.
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const SCRIPT = join(__dirname, "../scripts/bench/scale.ts");

function bench(args: string[]) {
  const dir = join(mkdtempSync(join(tmpdir(), "bench-scale-")), "run");
  const r = spawnSync(process.execPath, ["--import", "tsx", SCRIPT, ...args, "--dir", dir], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, lines: (r.stdout + r.stderr).trim().split("\n"), started: existsSync(dir) };
}

describe("bench:scale options", function () {
  this.timeout(120_000);
  const cases: [string[], RegExp][] = [
    [["--participants", "abc"], /^bench:scale: --participants must be a whole number of at least 1, not "abc"$/],
    [["--participants", "0"], /^bench:scale: --participants must be a whole number of at least 1, not "0"$/],
    [["--participants", "-5"], /^bench:scale: /],
    [["--engine", "clique"], /^bench:scale: --participants is required/],
    [["--participants", "10", "--engine", "ethash"], /^bench:scale: --engine must be clique/],
    [["--participants", "10", "--interval-seconds", "30"], /^bench:scale: --interval-seconds must be a whole number of at least 60, not "30"$/],
  ];
  for (const [args, expected] of cases) {
    it(`${args.join(" ")}: one line, exit 1, nothing started`, () => {
      const r = bench(args);
      expect(r.code).to.equal(1);
      expect(r.lines).to.have.length(1);
      expect(r.lines[0]).to.match(expected);
      expect(r.started, "no chain directory").to.equal(false);
    });
  }
});
