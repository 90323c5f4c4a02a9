/**
 * Sealed bids kept on disk between commit and reveal, so a restarted bidder still reveals (and
 * never loses the salt, which would forfeit the bid). One JSON file per bidder and interval,
 * written before the commit is sent. A bid found forfeited keeps its file, marked, as the record of
 * what was committed.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SealedBid, SideValue } from "./market";

export interface StoredBid {
  market: string;
  bidder: string;
  interval: number;
  side: SideValue;
  energyWh: string;
  priceWeiPerKWh: string;
  salt: string;
  /** Set once the bid was found not revealed in its window: the forfeit, in wei. */
  forfeitedWei?: string;
}

export class SaltStore {
  constructor(readonly dir: string) {}

  /** The file of `bidder`'s bid for `interval`. */
  path(bidder: string, interval: number) {
    return join(this.dir, `${bidder.toLowerCase()}-${interval}.json`);
  }

  /** Write atomically (temp file, then rename). */
  save(market: string, bidder: string, bid: SealedBid): void {
    this.write({
      market,
      bidder,
      interval: bid.interval,
      side: bid.side,
      energyWh: bid.energyWh.toString(),
      priceWeiPerKWh: bid.priceWeiPerKWh.toString(),
      salt: bid.salt,
    });
  }

  private write(stored: StoredBid): void {
    mkdirSync(this.dir, { recursive: true });
    const path = this.path(stored.bidder, stored.interval);
    writeFileSync(`${path}.tmp`, JSON.stringify(stored, null, 2) + "\n");
    renameSync(`${path}.tmp`, path);
  }

  private all(market: string, bidder: string): StoredBid[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((f) => f.startsWith(bidder.toLowerCase() + "-") && f.endsWith(".json"))
      .map((f) => JSON.parse(readFileSync(join(this.dir, f), "utf8")) as StoredBid)
      .filter((s) => s.market.toLowerCase() === market.toLowerCase())
      .sort((a, b) => a.interval - b.interval);
  }

  /** Bids of `bidder` on `market` not yet revealed (and not found forfeited). */
  pending(market: string, bidder: string): SealedBid[] {
    return this.all(market, bidder)
      .filter((s) => s.forfeitedWei === undefined)
      .map((s) => ({ interval: s.interval, side: s.side, energyWh: BigInt(s.energyWh), priceWeiPerKWh: BigInt(s.priceWeiPerKWh), salt: s.salt }));
  }

  /** Keep the bid's file, marked as forfeited with the amount. */
  markForfeited(market: string, bidder: string, interval: number, forfeitWei: bigint): void {
    const stored = this.all(market, bidder).find((s) => s.interval === interval);
    if (stored) this.write({ ...stored, forfeitedWei: forfeitWei.toString() });
  }

  remove(bidder: string, interval: number): void {
    rmSync(this.path(bidder, interval), { force: true });
  }
}
