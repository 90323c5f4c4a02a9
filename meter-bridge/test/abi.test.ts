/** The bridge's ABI fragment and signed-reading type against the compiled contract and its source, so they cannot drift. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { ErrorFragment, EventFragment, FunctionFragment, Interface, TypedDataEncoder } from "ethers";
import { MARKET_ABI, READING_REFUSALS, READING_TYPES } from "../src/abi";
import { marketArtifact } from "./support/market";
import { REPO_ROOT } from "./support/paths";

describe("market ABI fragment", () => {
  const ours = new Interface(MARKET_ABI);
  const compiled = new Interface(marketArtifact().abi);

  it("has every function with the compiled selector, inputs, outputs and mutability", () => {
    ours.forEachFunction((fragment: FunctionFragment) => {
      const theirs = compiled.getFunction(fragment.name);
      assert.ok(theirs, `the contract has no function ${fragment.name}`);
      assert.equal(fragment.selector, theirs.selector, fragment.format("full"));
      assert.deepEqual(fragment.inputs.map((input) => input.format("full")), theirs.inputs.map((input) => input.format("full")), `inputs of ${fragment.name}`);
      assert.deepEqual(fragment.outputs.map((output) => output.type), theirs.outputs.map((output) => output.type), `outputs of ${fragment.name}`);
      assert.equal(fragment.stateMutability, theirs.stateMutability, `mutability of ${fragment.name}`);
    });
    assert.deepEqual(ours.fragments.filter((fragment) => fragment.type === "function").map((fragment) => (fragment as FunctionFragment).name).sort(), ["domainSeparator", "maxBatch", "participantOfMeter", "postReading", "postReadings", "readingOf", "schedule"]);
  });

  it("has the ReadingPosted and EntrySkipped events with the compiled topics and indexed fields", () => {
    const names: string[] = [];
    ours.forEachEvent((fragment: EventFragment) => {
      names.push(fragment.name);
      const theirs = compiled.getEvent(fragment.name);
      assert.ok(theirs, `the contract has no event ${fragment.name}`);
      assert.equal(fragment.topicHash, theirs.topicHash);
      assert.deepEqual(fragment.inputs.map((input) => Boolean(input.indexed)), theirs.inputs.map((input) => Boolean(input.indexed)));
    });
    assert.deepEqual(names.sort(), ["EntrySkipped", "ReadingPosted"]);
  });

  it("decodes every custom error a reading post or batch can give, and classifies each refusal", () => {
    const errors: ErrorFragment[] = [];
    ours.forEachError((fragment) => errors.push(fragment));
    for (const fragment of errors) {
      const theirs = compiled.getError(fragment.name);
      assert.ok(theirs, `the contract has no error ${fragment.name}`);
      assert.equal(fragment.selector, theirs.selector, fragment.format("full"));
    }
    for (const name of READING_REFUSALS) assert.ok(ours.getError(name), `${name} is in the fragment`);
    assert.deepEqual(errors.map((fragment) => fragment.name).filter((name) => !READING_REFUSALS.has(name)), ["BatchTooLarge"], "every reading refusal is classified");
  });

  it("signs readings with the contract's EIP-712 Reading type", () => {
    const source = readFileSync(path.join(REPO_ROOT, "contracts/libraries/Signatures.sol"), "utf8");
    const type = TypedDataEncoder.from(READING_TYPES).encodeType("Reading");
    assert.equal(type, "Reading(uint64 meterNumber,uint32 interval,uint64 importWh,uint64 exportWh)");
    assert.ok(source.includes(`READING_TYPEHASH = keccak256("${type}")`), `Signatures.sol hashes ${type}`);
  });
});
