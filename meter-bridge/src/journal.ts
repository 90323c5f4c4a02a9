/**
 * The durable local journal: an append-only file of JSON lines, each written and fsync'ed
 * before the bridge acts on it. A reading is journaled before anything is sent, a signed
 * transaction before it is broadcast, and the outcome once the chain has confirmed it, so a
 * kill -9 or a power cut at any point loses no reading and never leads to a second,
 * different post: after a restart the same signed transaction is broadcast again.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import path from "node:path";

/** Which market a journal belongs to, and its interval clock. */
export interface JournalHeader {
  t: "header";
  version: 1;
  chainId: string;
  market: string;
  startTime: number;
  intervalSeconds: number;
}

export interface ReadingRecord {
  t: "reading";
  meter: string;
  interval: number;
  importWh: string;
  exportWh: string;
  readAt: string;
}

export interface TxRecord {
  t: "tx";
  meter: string;
  interval: number;
  hash: string;
  nonce: number;
  raw: string;
  sentAt: number;
}

export type Outcome = "posted" | "already-posted" | "rejected";

export interface DoneRecord {
  t: "done";
  meter: string;
  interval: number;
  outcome: Outcome;
  hash?: string;
  block?: number;
  reason?: string;
}

type JournalRecord = JournalHeader | ReadingRecord | TxRecord | DoneRecord;

/** Everything known about one meter's reading of one interval. */
export interface Entry {
  reading: ReadingRecord;
  txs: TxRecord[];
  done?: DoneRecord;
}

export class Journal {
  private readonly entries = new Map<string, Map<number, Entry>>();
  private fd = -1;

  private constructor(
    readonly file: string,
    readonly header: JournalHeader,
  ) {}

  /**
   * Opens a journal, creating it with `header` when absent; rewrites it without entries
   * that are settled, except the newest per meter.
   * @throws Error when an existing journal belongs to another chain or market
   */
  static open(file: string, header: Omit<JournalHeader, "t" | "version">): Journal {
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
    const journal = new Journal(file, wanted);
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

  addTx(tx: Omit<TxRecord, "t">): void {
    this.requireEntry(tx.meter, tx.interval);
    this.append({ t: "tx", ...tx });
  }

  settle(done: Omit<DoneRecord, "t">): void {
    this.requireEntry(done.meter, done.interval);
    this.append({ t: "done", ...done });
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
    writeSync(this.fd, `${JSON.stringify(record)}\n`);
    fsyncSync(this.fd);
    this.apply(record);
  }

  private apply(record: JournalRecord): void {
    if (record.t === "header") return;
    if (record.t === "reading") {
      const meter = this.entries.get(record.meter) ?? new Map<number, Entry>();
      this.entries.set(record.meter, meter);
      meter.set(record.interval, { reading: record, txs: [] });
      return;
    }
    const entry = this.get(record.meter, record.interval);
    if (!entry) return; // its reading was compacted away
    if (record.t === "tx") entry.txs.push(record);
    else entry.done = record;
  }

  /** Writes the live state to a new file and atomically replaces the old one. */
  private rewrite(): void {
    const records: JournalRecord[] = [this.header];
    for (const meter of this.entries.values()) {
      const entries = [...meter.values()].sort((a, b) => a.reading.interval - b.reading.interval);
      const newestSettled = entries.filter((entry) => entry.done).at(-1);
      for (const entry of entries) {
        if (entry.done && entry !== newestSettled) {
          meter.delete(entry.reading.interval);
          continue;
        }
        records.push(entry.reading, ...entry.txs, ...(entry.done ? [entry.done] : []));
      }
    }
    const temporary = `${this.file}.tmp`;
    const fd = openSync(temporary, "w");
    writeSync(fd, records.map((record) => `${JSON.stringify(record)}\n`).join(""));
    fsyncSync(fd);
    closeSync(fd);
    renameSync(temporary, this.file);
    fsyncDirectory(path.dirname(this.file));
    this.fd = openSync(this.file, "a");
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
