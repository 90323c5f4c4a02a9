import assert from "node:assert/strict";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { Journal } from "../src/journal";

const HEADER = { chainId: "31337", market: "0x5FbDB2315678afecb367f032d93F642f64180aa3", startTime: 1_700_000_000, intervalSeconds: 900 };

function tempFile(directory = tmpdir()): string {
  return path.join(mkdtempSync(path.join(directory, "meter-bridge-journal-")), "journal.jsonl");
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
    const journal = Journal.open(file, HEADER, { historyIntervals: 0 });
    for (const interval of [1, 2, 3]) {
      journal.addReading(reading("000000000001", interval));
      journal.settle({ meter: "000000000001", interval, outcome: "posted" });
    }
    journal.addReading(reading("000000000001", 4));
    journal.close();
    const reopened = Journal.open(file, HEADER, { historyIntervals: 0 });
    assert.deepEqual([reopened.get("000000000001", 2), reopened.get("000000000001", 3)?.done?.outcome], [undefined, "posted"]);
    assert.deepEqual(reopened.unsettled("000000000001").map((entry) => entry.reading.interval), [4]);
    assert.equal(readFileSync(file, "utf8").trim().split("\n").length, 4);
  });

  it("keeps each meter's settled readings of the last historyIntervals intervals on open", () => {
    const file = tempFile();
    const journal = Journal.open(file, HEADER, { historyIntervals: 2 });
    for (const interval of [1, 2, 3, 4, 5]) {
      journal.addReading(reading("000000000001", interval));
      journal.settle({ meter: "000000000001", interval, outcome: "posted" });
    }
    journal.close();
    const reopened = Journal.open(file, HEADER, { historyIntervals: 2 });
    assert.deepEqual(reopened.readings("000000000001").map((entry) => entry.reading.interval), [4, 5]);
  });

  it("compacts itself while running: over 3000 intervals of two meters the file stays bounded by the unsettled readings and the history window", () => {
    const file = tempFile(existsSync("/dev/shm") ? "/dev/shm" : tmpdir()); // memory-backed: 18,000 fsyncs in well under a second
    const journal = Journal.open(file, HEADER, { historyIntervals: 16 });
    const meters = ["000000000001", "000000000002"];
    const sizes: number[] = [];
    for (let interval = 1; interval <= 3000; interval++) {
      for (const meter of meters) {
        journal.addReading(reading(meter, interval, String(1000 + interval)));
        journal.addTx({ meter, interval, hash: `0x${String(interval).padStart(64, "0")}`, nonce: interval, raw: `0x${"ab".repeat(180)}`, sentAt: interval });
      }
      // the meters' posts confirm three intervals late: three unsettled readings each at any time
      for (const meter of meters) if (interval > 3) journal.settle({ meter, interval: interval - 3, outcome: "posted", hash: "0x01", block: interval, blockHash: "0x02" });
      sizes.push(statSync(file).size);
      assert.equal(journal.size().bytes, sizes.at(-1), "the journal counts the bytes of its file");
    }
    const perReading = sizes[29] / 60; // a reading, its transaction and its outcome, before the first compaction
    const bound = 2 * meters.length * (16 + 3) * perReading + 100 * 600; // twice the live records, plus 100 records of at most 600 bytes
    assert.ok(Math.max(...sizes.slice(1000)) < bound, `the file stays under ${bound} bytes: at most ${Math.max(...sizes.slice(1000))}`);
    const [middle, late] = [Math.max(...sizes.slice(1000, 2000)), Math.max(...sizes.slice(2000))];
    assert.ok(late <= middle * 1.05, `it does not grow with the run: at most ${middle} bytes in intervals 1000-2000, ${late} in 2000-3000`);
    assert.ok(late < (perReading * meters.length * 3000) / 50, "a fiftieth of the journal without compaction");
    for (const meter of meters) {
      assert.deepEqual(journal.unsettled(meter).map((entry) => entry.reading.interval), [2998, 2999, 3000], "no unsettled reading compacted away");
      assert.ok(journal.readings(meter).length >= 16 + 3, "the history window is kept");
    }
    journal.close();
    const reopened = Journal.open(file, HEADER, { historyIntervals: 16 });
    assert.deepEqual(reopened.unsettled(meters[0]).map((entry) => entry.reading.interval), [2998, 2999, 3000]);
    assert.equal(reopened.lastInterval(meters[1]), 3000);
  });

  it("makes a posted reading unsettled again when a reorganization took its transaction, across a reopen", () => {
    const file = tempFile();
    const journal = Journal.open(file, HEADER);
    journal.addReading(reading("000000000001", 7));
    journal.addTx({ meter: "000000000001", interval: 7, hash: "0xaa", nonce: 3, raw: "0x01", sentAt: 1 });
    journal.settle({ meter: "000000000001", interval: 7, outcome: "posted", hash: "0xaa", block: 40, blockHash: "0xb40" });
    journal.reopen({ meter: "000000000001", interval: 7, hash: "0xaa", block: 40, depth: 2 });
    assert.deepEqual(journal.unsettled("000000000001").map((entry) => [entry.reading.interval, entry.txs.length, entry.done]), [[7, 1, undefined]]);
    journal.close();
    const reopened = Journal.open(file, HEADER);
    assert.deepEqual(reopened.unsettled("000000000001").map((entry) => entry.txs.map((tx) => tx.hash)), [["0xaa"]]);
  });

  it("keeps a batch transaction once for all its readings, each with its position, and what became of each, across a reopen and a compaction", () => {
    const file = tempFile();
    const journal = Journal.open(file, HEADER, { historyIntervals: 0 });
    const meters = ["000000000001", "000000000002", "000000000003"];
    for (const meter of meters) journal.addReading(reading(meter, 7));
    const entries = meters.map((meter) => ({ meter, interval: 7 }));
    journal.addBatch({ hash: "0xb1", nonce: 5, raw: `0x${"cd".repeat(500)}`, sentAt: 1, entries });
    journal.addBatch({ hash: "0xb2", nonce: 5, raw: `0x${"ce".repeat(500)}`, sentAt: 2, entries, replaces: "0xb1" }); // the stuck batch replaced
    journal.settle({ meter: meters[0], interval: 7, outcome: "posted", hash: "0xb2", block: 9, blockHash: "0x09" });
    journal.skip({ meter: meters[1], interval: 7, hash: "0xb2", reason: "SettlementBehind(3, 3)", at: 10, block: 9 });
    journal.settle({ meter: meters[2], interval: 7, outcome: "too-late", reason: "ReadingTooLate(7, 8)", hash: "0xb2" });
    assert.throws(() => journal.addBatch({ hash: "0xb3", nonce: 6, raw: "0x", sentAt: 3, entries: [{ meter: meters[0], interval: 8 }] }), /no reading of meter 000000000001 for interval 8/);
    const state = (j: Journal) => meters.map((meter) => {
      const entry = j.get(meter, 7);
      return entry && [entry.txs.map((tx) => [tx.hash, tx.nonce, tx.index, tx.replaces]), entry.skips.map((skip) => skip.reason), entry.done?.outcome];
    });
    const expected = [
      [[["0xb1", 5, 0, undefined], ["0xb2", 5, 0, "0xb1"]], [], "posted"],
      [[["0xb1", 5, 1, undefined], ["0xb2", 5, 1, "0xb1"]], ["SettlementBehind(3, 3)"], undefined],
      [[["0xb1", 5, 2, undefined], ["0xb2", 5, 2, "0xb1"]], [], "too-late"],
    ];
    assert.deepEqual(state(journal), expected);
    journal.close();

    const reopened = Journal.open(file, HEADER, { historyIntervals: 0 });
    assert.deepEqual(state(reopened), expected);
    for (const meter of [meters[0], meters[2]]) {
      reopened.addReading(reading(meter, 8));
      reopened.settle({ meter, interval: 8, outcome: "posted" });
    }
    reopened.close();

    const compacted = Journal.open(file, HEADER, { historyIntervals: 0 }); // the settled readings of interval 7 go; the unsettled one keeps both batches
    assert.deepEqual(state(compacted), [undefined, expected[1], undefined]);
    const lines = readFileSync(file, "utf8").trim().split("\n").map((line) => JSON.parse(line));
    assert.deepEqual(lines.filter((line) => line.t === "batch").map((line) => [line.hash, line.entries.length]), [["0xb1", 3], ["0xb2", 3]], "each batch once, with all its entries so positions stay right");
    assert.deepEqual(lines.filter((line) => line.t === "skip").map((line) => line.reason), ["SettlementBehind(3, 3)"]);
    compacted.close();
  });

  it("remembers the market's settlement timing in its header when known", () => {
    const file = tempFile();
    Journal.open(file, { ...HEADER, settleOffsetSeconds: 600, readingGraceSeconds: 300 }).close();
    Journal.open(file, HEADER).close(); // opened while the node was away: the cached timing stays
    assert.deepEqual([Journal.readHeader(file)?.settleOffsetSeconds, Journal.readHeader(file)?.readingGraceSeconds], [600, 300]);
  });

  it("refuses a journal of another market or schedule", () => {
    const file = tempFile();
    Journal.open(file, HEADER).close();
    assert.throws(() => Journal.open(file, { ...HEADER, market: "0x0000000000000000000000000000000000000001" }), /belongs to market/);
    assert.throws(() => Journal.open(file, { ...HEADER, intervalSeconds: 60 }), /belongs to intervalSeconds 900/);
    assert.deepEqual(Journal.readHeader(file)?.intervalSeconds, 900);
  });
});
