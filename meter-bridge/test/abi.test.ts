/** The bridge's ABI fragment against the compiled market contract, so the two cannot drift. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ErrorFragment, EventFragment, FunctionFragment, Interface } from "ethers";
import { MARKET_ABI, PERMANENT_REVERTS } from "../src/abi";
import { marketArtifact } from "./support/market";

describe("market ABI fragment", () => {
  const ours = new Interface(MARKET_ABI);
  const compiled = new Interface(marketArtifact().abi);

  it("has every function with the compiled selector, inputs, outputs and mutability", () => {
    ours.forEachFunction((fragment: FunctionFragment) => {
      const theirs = compiled.getFunction(fragment.name);
      assert.ok(theirs, `the contract has no function ${fragment.name}`);
      assert.equal(fragment.selector, theirs.selector, fragment.format("full"));
      assert.deepEqual(fragment.outputs.map((output) => output.type), theirs.outputs.map((output) => output.type), `outputs of ${fragment.name}`);
      assert.equal(fragment.stateMutability, theirs.stateMutability, `mutability of ${fragment.name}`);
    });
    assert.equal(ours.fragments.filter((fragment) => fragment.type === "function").length, 4);
  });

  it("has the ReadingPosted event with the compiled topic and indexed fields", () => {
    ours.forEachEvent((fragment: EventFragment) => {
      const theirs = compiled.getEvent(fragment.name);
      assert.ok(theirs, `the contract has no event ${fragment.name}`);
      assert.equal(fragment.topicHash, theirs.topicHash);
      assert.deepEqual(fragment.inputs.map((input) => Boolean(input.indexed)), theirs.inputs.map((input) => Boolean(input.indexed)));
    });
  });

  it("decodes every custom error the reading post can revert with", () => {
    const errors: ErrorFragment[] = [];
    ours.forEachError((fragment) => errors.push(fragment));
    for (const fragment of errors) {
      const theirs = compiled.getError(fragment.name);
      assert.ok(theirs, `the contract has no error ${fragment.name}`);
      assert.equal(fragment.selector, theirs.selector, fragment.format("full"));
    }
    for (const name of PERMANENT_REVERTS) assert.ok(ours.getError(name), `${name} is in the fragment`);
  });
});
