import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { Journal } from "../src/journal";

const HEADER = { chainId: "31337", market: "0x5FbDB2315678afecb367f032d93F642f64180aa3", startTime: 1_700_000_000, intervalSeconds: 900 };

function tempFile(): string {
  return path.join(mkdtempSync(path.join(tmpdir(), "meter-bridge-journal-")), "journal.jsonl");
}

const reading = (meter: string, interval: number, importWh = "1000") => ({ meter, interval, importWh, exportWh: "0", readAt: "2024-01-01T00:00:00.000Z" });

describe("Journal", () => {
  it("keeps readings, transactions and outcomes across a reopen", () => {
    const file = tempFile();
    const journal = Journal.open(file, HEADER);
    assert.equal(journal.addReading(reading("000000000001", 4)), true);
    journal.addTx({ meter: "000000000001", interval: 4, hash: "0xaa", nonce: 0, raw: "0x01", sentAt: 1 });
    journal.close();

    const reopened = Journal.open(file, HEADER);
    const [entry] = reopened.unsettled("000000000001");
    assert.deepEqual([entry.reading.importWh, entry.txs.map((tx) => tx.hash), entry.done], ["1000", ["0xaa"], undefined]);
    reopened.settle({ meter: "000000000001", interval: 4, outcome: "posted", hash: "0xaa", block: 7 });
    assert.deepEqual(reopened.unsettled("000000000001"), []);
    assert.equal(reopened.lastInterval("000000000001"), 4);
  });

  it("refuses a second reading for the same meter and interval", () => {
    const journal = Journal.open(tempFile(), HEADER);
    assert.equal(journal.addReading(reading("000000000001", 4, "1000")), true);
    assert.equal(journal.addReading(reading("000000000001", 4, "1010")), false);
    assert.equal(journal.get("000000000001", 4)?.reading.importWh, "1000");
  });

  it("drops a line torn by a crash mid-write and appends after the last whole line", () => {
    const file = tempFile();
    const journal = Journal.open(file, HEADER);
    journal.addReading(reading("000000000001", 4));
    journal.close();
    appendFileSync(file, '{"t":"reading","meter":"000000000001","interval":5,"impo');
    const reopened = Journal.open(file, HEADER);
    reopened.addReading(reading("000000000001", 5, "1010"));
    reopened.close();
    const lines = readFileSync(file, "utf8").trim().split("\n").map((line) => JSON.parse(line));
    assert.deepEqual(lines.map((line) => [line.t, line.interval]), [["header", undefined], ["reading", 4], ["reading", 5]]);
  });

  it("compacts settled entries on open but remembers each meter's newest", () => {
    const file = tempFile();
    const journal = Journal.open(file, HEADER);
    for (const interval of [1, 2, 3]) {
      journal.addReading(reading("000000000001", interval));
      journal.settle({ meter: "000000000001", interval, outcome: "posted" });
    }
    journal.addReading(reading("000000000001", 4));
    journal.close();
    const reopened = Journal.open(file, HEADER);
    assert.deepEqual([reopened.get("000000000001", 2), reopened.get("000000000001", 3)?.done?.outcome], [undefined, "posted"]);
    assert.deepEqual(reopened.unsettled("000000000001").map((entry) => entry.reading.interval), [4]);
    assert.equal(readFileSync(file, "utf8").trim().split("\n").length, 4);
  });

  it("refuses a journal of another market or schedule", () => {
    const file = tempFile();
    Journal.open(file, HEADER).close();
    assert.throws(() => Journal.open(file, { ...HEADER, market: "0x0000000000000000000000000000000000000001" }), /belongs to market/);
    assert.throws(() => Journal.open(file, { ...HEADER, intervalSeconds: 60 }), /belongs to intervalSeconds 900/);
    assert.deepEqual(Journal.readHeader(file)?.intervalSeconds, 900);
  });
});
