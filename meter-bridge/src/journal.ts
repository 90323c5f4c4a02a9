/**
 * The durable local journal: an append-only file of JSON lines, each written and fsync'ed
 * before the bridge acts on it. A reading is journaled before anything is sent, a signed
 * transaction before it is broadcast, and the outcome once the chain has confirmed it, so a
 * kill -9 or a power cut at any point loses no reading and never leads to a second,
 * different post: after a restart the same signed transaction is broadcast again.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import path from "node:path";
import { stripUndefined } from "./line";

/** Which market a journal belongs to, and its interval clock. */
export interface JournalHeader {
  t: "header";
  version: 1;
  chainId: string;
  market: string;
  startTime: number;
  intervalSeconds: number;
  /** when settlement of an interval opens, after its end (s); cached from the chain, absent in older journals */
  settleOffsetSeconds?: number;
  /** how long settlement waits for a missing reading (s); cached from the chain */
  readingGraceSeconds?: number;
}

export interface ReadingRecord {
  t: "reading";
  meter: string;
  interval: number;
  importWh: string;
  exportWh: string;
  readAt: string;
  /** where the registers come from: read at the boundary (absent), or the meter's record for the boundary's time */
  source?: "load-record" | "hourly-freeze";
}

/** A post of one reading, sent by the meter's own account. */
export interface TxRecord {
  t: "tx";
  meter: string;
  interval: number;
  hash: string;
  nonce: number;
  raw: string;
  sentAt: number;
  /** the transaction this one replaces (same nonce, higher fees) */
  replaces?: string;
  /** in memory only: the reading's position in a batch transaction (a BatchRecord) */
  index?: number;
}

/** A batch of readings, each signed by its meter's key, sent by the gateway's relayer account. */
export interface BatchRecord {
  t: "batch";
  hash: string;
  nonce: number;
  raw: string;
  sentAt: number;
  /** the batch's entries in order: entry i is the reading of meter `entries[i].meter` for `entries[i].interval` */
  entries: Array<{ meter: string; interval: number }>;
  /** the batch transaction this one replaces (same nonce, same entries, higher fees) */
  replaces?: string;
}

/** A transaction that carried a reading without posting it, and why: the reading is sent again later. */
export interface SkipRecord {
  t: "skip";
  meter: string;
  interval: number;
  hash: string;
  /** the market's refusal ("Name(args)", from the batch's EntrySkipped event), or what happened to the transaction */
  reason: string;
  /** unix ms */
  at: number;
  block?: number;
}

export type Outcome = "posted" | "already-posted" | "rejected" | "too-late";

export interface DoneRecord {
  t: "done";
  meter: string;
  interval: number;
  outcome: Outcome;
  hash?: string;
  block?: number;
  /** hash of the block that included the post: a reorganization that drops it is noticed by comparing it */
  blockHash?: string;
  reason?: string;
}

/** A posted reading whose transaction a chain reorganization took off the canonical chain: it is unsettled again. */
export interface ReorgRecord {
  t: "reorg";
  meter: string;
  interval: number;
  hash: string;
  block: number;
  /** blocks the reorganization replaced, as far as the bridge saw them */
  depth: number;
}

type JournalRecord = JournalHeader | ReadingRecord | TxRecord | BatchRecord | SkipRecord | DoneRecord | ReorgRecord;

export interface JournalOptions {
  /** settled readings kept per meter, counted in intervals back from its newest; default 16 */
  historyIntervals?: number;
}

/** Everything known about one meter's reading of one interval. */
export interface Entry {
  reading: ReadingRecord;
  /** its transactions, oldest first (a batch's as a TxRecord with the reading's `index` in it) */
  txs: TxRecord[];
  /** transactions that carried it without posting it, oldest first */
  skips: SkipRecord[];
  done?: DoneRecord;
}

export class Journal {
  private readonly entries = new Map<string, Map<number, Entry>>();
  private fd = -1;
  /** records in the file, and the bytes they take */
  private fileRecords = 0;
  private fileBytes = 0;
  private readonly historyIntervals: number;
  /** batch transactions by hash, and the order transactions were journaled in (a rewrite keeps it) */
  private readonly batches = new Map<string, BatchRecord>();
  private readonly sequence = new Map<TxRecord | BatchRecord, number>();
  private nextSequence = 0;

  private constructor(
    readonly file: string,
    readonly header: JournalHeader,
    options: JournalOptions,
  ) {
    this.historyIntervals = options.historyIntervals ?? 16;
    if (!Number.isSafeInteger(this.historyIntervals) || this.historyIntervals < 0) throw new TypeError(`historyIntervals must be a non-negative integer, got ${this.historyIntervals}`);
  }

  /**
   * Opens a journal, creating it with `header` when absent, and compacts it: it keeps every
   * unsettled reading and each meter's settled readings of its last `historyIntervals`
   * intervals. While it runs it compacts itself again whenever the file holds twice what is
   * live (plus 100 records), so its size stays bounded by what is not yet settled plus that
   * window of history.
   * @throws Error when an existing journal belongs to another chain or market
   */
  static open(file: string, header: Omit<JournalHeader, "t" | "version">, options: JournalOptions = {}): Journal {
    const records = existsSync(file) ? readRecords(file) : [];
    const existing = records[0];
    const wanted: JournalHeader = { t: "header", version: 1, ...header };
    if (existing !== undefined) {
      if (existing.t !== "header") throw new Error(`${file} is not a meter-bridge journal`);
      for (const key of ["chainId", "market", "startTime", "intervalSeconds"] as const) {
        if (String(existing[key]).toLowerCase() !== String(wanted[key]).toLowerCase()) {
          throw new Error(`journal ${file} belongs to ${key} ${existing[key]}, not ${wanted[key]}; use another journal file`);
        }
      }
    }
    const journal = new Journal(file, { ...existing, ...stripUndefined(wanted) } as JournalHeader, options);
    for (const record of records.slice(1)) journal.apply(record);
    journal.rewrite();
    return journal;
  }

  /** Reads the header of an existing journal, if there is one. */
  static readHeader(file: string): JournalHeader | undefined {
    if (!existsSync(file)) return undefined;
    const first = readRecords(file)[0];
    return first?.t === "header" ? first : undefined;
  }

  get(meter: string, interval: number): Entry | undefined {
    return this.entries.get(meter)?.get(interval);
  }

  /** Every reading of a meter still in the journal, oldest interval first. */
  readings(meter: string): Entry[] {
    return [...(this.entries.get(meter)?.values() ?? [])].sort((a, b) => a.reading.interval - b.reading.interval);
  }

  /** Records and bytes in the journal file now. */
  size(): { records: number; bytes: number } {
    return { records: this.fileRecords, bytes: this.fileBytes };
  }

  /** The newest interval meter `meter` has a reading for, or undefined. */
  lastInterval(meter: string): number | undefined {
    const intervals = [...(this.entries.get(meter)?.keys() ?? [])];
    return intervals.length ? Math.max(...intervals) : undefined;
  }

  /** Readings of a meter not yet settled, oldest interval first. */
  unsettled(meter: string): Entry[] {
    return [...(this.entries.get(meter)?.values() ?? [])].filter((entry) => !entry.done).sort((a, b) => a.reading.interval - b.reading.interval);
  }

  /** Appends a reading; a second reading for the same meter and interval is refused (returns false). */
  addReading(reading: Omit<ReadingRecord, "t">): boolean {
    if (this.get(reading.meter, reading.interval)) return false;
    this.append({ t: "reading", ...reading });
    return true;
  }

  addTx(tx: Omit<TxRecord, "t" | "index">): void {
    this.requireEntry(tx.meter, tx.interval);
    this.append({ t: "tx", ...stripUndefined(tx) } as TxRecord);
  }

  /** Journals a batch transaction before it is broadcast; every entry must be in the journal. */
  addBatch(batch: Omit<BatchRecord, "t">): void {
    for (const { meter, interval } of batch.entries) this.requireEntry(meter, interval);
    this.append({ t: "batch", ...stripUndefined(batch) } as BatchRecord);
  }

  /** The batch transaction `hash`, if journaled. */
  batch(hash: string): BatchRecord | undefined {
    return this.batches.get(hash);
  }

  /** Journals that transaction `skip.hash` carried a reading without posting it; the reading stays unsettled. */
  skip(skip: Omit<SkipRecord, "t">): void {
    this.requireEntry(skip.meter, skip.interval);
    this.append({ t: "skip", ...stripUndefined(skip) } as SkipRecord);
  }

  settle(done: Omit<DoneRecord, "t">): void {
    this.requireEntry(done.meter, done.interval);
    this.append({ t: "done", ...done });
    this.compactIfDue();
  }

  /** Makes a posted reading unsettled again: a reorganization took its transaction off the chain. */
  reopen(reorg: Omit<ReorgRecord, "t">): void {
    this.requireEntry(reorg.meter, reorg.interval);
    this.append({ t: "reorg", ...reorg });
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private requireEntry(meter: string, interval: number): void {
    if (!this.get(meter, interval)) throw new Error(`no reading of meter ${meter} for interval ${interval} in the journal`);
  }

  private append(record: JournalRecord): void {
    if (this.fd < 0) throw new Error("the journal is closed");
    const line = `${JSON.stringify(record)}\n`;
    writeSync(this.fd, line);
    fsyncSync(this.fd);
    this.fileRecords++;
    this.fileBytes += Buffer.byteLength(line);
    this.apply(record);
  }

  /** Records a rewrite would keep. */
  private liveRecords(): number {
    let count = 1;
    const batches = new Set<string>();
    for (const meter of this.entries.values()) {
      for (const entry of this.kept(meter)) {
        count += 1 + entry.skips.length + (entry.done ? 1 : 0);
        for (const tx of entry.txs) {
          if (tx.index === undefined) count++;
          else batches.add(tx.hash);
        }
      }
    }
    return count + batches.size;
  }

  /** A meter's entries a rewrite keeps, oldest first: unsettled ones, and settled ones within the history window (the newest always). */
  private kept(meter: Map<number, Entry>): Entry[] {
    const entries = [...meter.values()].sort((a, b) => a.reading.interval - b.reading.interval);
    const newest = entries.at(-1)?.reading.interval ?? 0;
    const newestSettled = entries.filter((entry) => entry.done).at(-1);
    return entries.filter((entry) => !entry.done || entry === newestSettled || entry.reading.interval > newest - this.historyIntervals);
  }

  private compactIfDue(): void {
    if (this.fileRecords > 2 * this.liveRecords() + 100) {
      this.close();
      this.rewrite();
    }
  }

  private apply(record: JournalRecord): void {
    if (record.t === "header") return;
    if (record.t === "reading") {
      const meter = this.entries.get(record.meter) ?? new Map<number, Entry>();
      this.entries.set(record.meter, meter);
      meter.set(record.interval, { reading: record, txs: [], skips: [] });
      return;
    }
    if (record.t === "batch") {
      this.batches.set(record.hash, record);
      this.sequence.set(record, this.nextSequence++);
      const { hash, nonce, raw, sentAt, replaces } = record;
      record.entries.forEach(({ meter, interval }, index) => this.get(meter, interval)?.txs.push(stripUndefined({ t: "tx", meter, interval, hash, nonce, raw, sentAt, replaces, index }) as TxRecord));
      return;
    }
    const entry = this.get(record.meter, record.interval);
    if (!entry) return; // its reading was compacted away
    if (record.t === "tx") {
      this.sequence.set(record, this.nextSequence++);
      entry.txs.push(record);
    } else if (record.t === "skip") entry.skips.push(record);
    else if (record.t === "done") entry.done = record;
    else entry.done = undefined;
  }

  /**
   * Writes the live state to a new file and atomically replaces the old one: unsettled
   * readings, and settled ones within the history window (each meter's newest always).
   */
  private rewrite(): void {
    const readings: ReadingRecord[] = [];
    const txs = new Set<TxRecord | BatchRecord>();
    const outcomes: Array<SkipRecord | DoneRecord> = [];
    for (const meter of this.entries.values()) {
      const kept = new Set(this.kept(meter));
      for (const entry of [...meter.values()].sort((a, b) => a.reading.interval - b.reading.interval)) {
        if (!kept.has(entry)) {
          meter.delete(entry.reading.interval);
          continue;
        }
        readings.push(entry.reading);
        for (const tx of entry.txs) txs.add(tx.index === undefined ? tx : this.batches.get(tx.hash)!);
        outcomes.push(...entry.skips, ...(entry.done ? [entry.done] : []));
      }
    }
    // readings first, then the transactions in the order they were journaled (a batch once), then what became of them
    const ordered = [...txs].sort((a, b) => this.sequence.get(a)! - this.sequence.get(b)!);
    for (const hash of [...this.batches.keys()]) if (!txs.has(this.batches.get(hash)!)) this.batches.delete(hash);
    this.sequence.clear();
    ordered.forEach((tx, i) => this.sequence.set(tx, i));
    this.nextSequence = ordered.length;
    const records: JournalRecord[] = [this.header, ...readings, ...ordered, ...outcomes];
    const text = records.map((record) => `${JSON.stringify(record)}\n`).join("");
    const temporary = `${this.file}.tmp`;
    const fd = openSync(temporary, "w");
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(temporary, this.file);
    fsyncDirectory(path.dirname(this.file));
    this.fd = openSync(this.file, "a");
    this.fileRecords = records.length;
    this.fileBytes = Buffer.byteLength(text);
  }
}

/**
 * Records of a journal file. A torn last line (a crash in the middle of a write) is left out;
 * the rewrite on open then removes it from the file.
 * @throws Error for a damaged line anywhere else
 */
function readRecords(file: string): JournalRecord[] {
  const text = readFileSync(file, "utf8");
  const complete = text.slice(0, text.lastIndexOf("\n") + 1);
  return complete
    .split("\n")
    .filter((line) => line !== "")
    .map((line, index) => {
      try {
        return JSON.parse(line) as JournalRecord;
      } catch {
        throw new Error(`journal ${file} line ${index + 1} is damaged: ${line.slice(0, 80)}`);
      }
    });
}

function fsyncDirectory(directory: string): void {
  const fd = openSync(directory, "r");
  fsyncSync(fd);
  closeSync(fd);
}
