/**
 * Sealed bids kept on disk between commit and reveal, so a restarted bidder still reveals (and
 * never loses the salt, which would forfeit the bid). One JSON file per bidder and interval,
 * written before the commit is sent.
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
}

export class SaltStore {
  constructor(readonly dir: string) {}

  private path(bidder: string, interval: number) {
    return join(this.dir, `${bidder.toLowerCase()}-${interval}.json`);
  }

  /** Write atomically (temp file, then rename). */
  save(market: string, bidder: string, bid: SealedBid): void {
    mkdirSync(this.dir, { recursive: true });
    const stored: StoredBid = {
      market,
      bidder,
      interval: bid.interval,
      side: bid.side,
      energyWh: bid.energyWh.toString(),
      priceWeiPerKWh: bid.priceWeiPerKWh.toString(),
      salt: bid.salt,
    };
    const path = this.path(bidder, bid.interval);
    writeFileSync(`${path}.tmp`, JSON.stringify(stored, null, 2) + "\n");
    renameSync(`${path}.tmp`, path);
  }

  /** Bids of `bidder` on `market` not yet revealed. */
  pending(market: string, bidder: string): SealedBid[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((f) => f.startsWith(bidder.toLowerCase() + "-") && f.endsWith(".json"))
      .map((f) => JSON.parse(readFileSync(join(this.dir, f), "utf8")) as StoredBid)
      .filter((s) => s.market.toLowerCase() === market.toLowerCase())
      .map((s) => ({ interval: s.interval, side: s.side, energyWh: BigInt(s.energyWh), priceWeiPerKWh: BigInt(s.priceWeiPerKWh), salt: s.salt }));
  }

  remove(bidder: string, interval: number): void {
    rmSync(this.path(bidder, interval), { force: true });
  }
}
