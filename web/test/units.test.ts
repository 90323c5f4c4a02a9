/** Display units, without a browser. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseEther } from "ethers";
import { cny, ether, setCnyPerEther } from "../src/format";

test("ether is shown to 9 decimals and CNY beside it at the display rate (626.2 by default)", () => {
  assert.equal(ether(parseEther("0.0003")), "0.0003");
  assert.equal(ether(-parseEther("0.000708")), "-0.000708");
  assert.equal(ether(1n), "0.000000000000000001"); // a dust amount is never shown as zero
  assert.equal(cny(parseEther("1")), "¥626.2");
  assert.equal(cny(parseEther("0.000708")), "¥0.4433");
  assert.equal(cny(-parseEther("0.000052")), "-¥0.0325");
  setCnyPerEther("700");
  assert.equal(cny(parseEther("0.5")), "¥350");
  setCnyPerEther("626.2");
});

