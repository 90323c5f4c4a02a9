// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IEnergyMarket} from "../interfaces/IEnergyMarket.sol";
import {OrderBook} from "./OrderBook.sol";
import {Wallets} from "./Wallets.sol";

/// @title Green-first double auction over the sorted books, resumable in bounded steps.
/// @dev Stage Green matches green sellers against green buyers; stage All matches the best remaining
/// seller of both sell books against the best remaining buyer of both buy books; stage Release returns
/// the unfilled part of every buy reservation. A trade is one step: price = mean of ask and bid,
/// energy = the smaller remaining quantity. Each step is O(1); bids in play are cached in memory and
/// written back (with their wallets) once per transaction, so the cost is O(steps) per call.
/// A buyer's trades are always covered: its reveal reserved `energy × bid price`, every trade price
/// is at most its bid price, and reservations cannot be withdrawn (the paper's purchasing-capacity
/// check holds by construction). A seller's proceeds stay locked in its wallet until its sale is settled.
/// Deployed as a linked library (keeps the market contract under the EIP-170 size limit).
library Clearing {
    using Wallets for Wallets.State;
    using OrderBook for OrderBook.State;

    uint8 private constant NONE = type(uint8).max;

    struct Cursor {
        uint32 id; // 0: nothing loaded
        uint32 loadedRemainingWh; // remaining when loaded or last written
        uint64 loadedProceedsGwei; // proceeds when loaded or last written (locked in the seller's wallet)
        OrderBook.Bid bid;
        uint256 value; // wei traded since loaded or last written
    }

    struct Run {
        uint32 d;
        OrderBook.Book book;
        uint256 tradedValue;
        uint256 steps;
        Cursor[4] cursors;
    }

    /// @notice Run up to `maxSteps` steps of the clearing of interval `d`.
    /// @return done whether the clearing finished
    function run(OrderBook.State storage ob, Wallets.State storage w, uint32 d, uint256 maxSteps) external returns (bool done) {
        Run memory r;
        r.d = d;
        r.book = ob.books[d];
        r.tradedValue = ob.tradedValue[d];
        if (r.book.stage == IEnergyMarket.Stage.NotStarted) r.book.stage = IEnergyMarket.Stage.Green;
        while (r.book.stage != IEnergyMarket.Stage.Done && r.steps < maxSteps) {
            if (r.book.stage == IEnergyMarket.Stage.Green) {
                if (!trade(ob, w, r, OrderBook.SELL_GREEN, OrderBook.BUY_GREEN)) r.book.stage = IEnergyMarket.Stage.All;
            } else if (r.book.stage == IEnergyMarket.Stage.All) {
                uint8 sell = best(ob, r, OrderBook.SELL_GREEN, OrderBook.SELL_OTHER);
                uint8 buy = best(ob, r, OrderBook.BUY_GREEN, OrderBook.BUY_OTHER);
                if (!trade(ob, w, r, sell, buy)) r.book.stage = IEnergyMarket.Stage.Release;
            } else if (!releaseOne(ob, w, r)) {
                r.book.stage = IEnergyMarket.Stage.Done;
            }
        }
        for (uint8 list = 0; list < 4; list++) flush(ob, w, r, list);
        ob.books[d] = r.book;
        ob.tradedValue[d] = r.tradedValue;
        emit IEnergyMarket.ClearingProgressed(d, r.book.stage, r.steps);
        done = r.book.stage == IEnergyMarket.Stage.Done;
        if (done) {
            uint256 average = r.book.tradedWh == 0 ? 0 : r.tradedValue / r.book.tradedWh;
            emit IEnergyMarket.IntervalCleared(d, r.book.trades, r.book.tradedWh, average);
        }
    }

    /// @dev Match the heads of two books once, if their prices cross.
    function trade(OrderBook.State storage ob, Wallets.State storage w, Run memory r, uint8 sellList, uint8 buyList)
        private
        returns (bool)
    {
        if (sellList == NONE || buyList == NONE || !load(ob, r, sellList) || !load(ob, r, buyList)) return false;
        Cursor memory s = r.cursors[sellList];
        Cursor memory b = r.cursors[buyList];
        if (s.bid.priceWeiPerKWh > b.bid.priceWeiPerKWh) return false;
        uint32 energy = s.bid.remainingWh < b.bid.remainingWh ? s.bid.remainingWh : b.bid.remainingWh;
        uint64 price = uint64((uint256(s.bid.priceWeiPerKWh) + b.bid.priceWeiPerKWh) / 2);
        uint256 amount = OrderBook.costOf(energy, price);
        // Bounded: energy is at most both remainders; amounts stay far below their types (2^32 Wh at
        // 2^64 wei/kWh is 2^86 wei, under 2^64 gwei); an interval holds fewer than 2^32 trades.
        unchecked {
            s.bid.remainingWh -= energy;
            b.bid.remainingWh -= energy;
            s.bid.proceedsGwei += uint64((amount + 1 gwei - 1) / 1 gwei);
            s.value += amount;
            b.value += amount;
            r.book.trades += 1;
            r.book.tradedWh += energy;
            r.tradedValue += uint256(energy) * price;
            r.steps += 1;
        }
        emit IEnergyMarket.TradeMatched(r.d, s.id, b.id, r.book.stage, energy, price, amount);
        if (s.bid.remainingWh == 0) retire(ob, w, r, sellList);
        if (b.bid.remainingWh == 0) retire(ob, w, r, buyList);
        return true;
    }

    /// @dev Of two books of one side, the one whose head sorts first (NONE if both are empty).
    function best(OrderBook.State storage ob, Run memory r, uint8 green, uint8 other) private view returns (uint8) {
        bool hasGreen = load(ob, r, green);
        bool hasOther = load(ob, r, other);
        if (!hasGreen) return hasOther ? other : NONE;
        if (!hasOther) return green;
        Cursor memory g = r.cursors[green];
        Cursor memory o = r.cursors[other];
        return OrderBook.sortsBefore(g.bid, g.id, o.bid, o.id) ? green : other;
    }

    /// @dev Return the unfilled reservation of the first remaining buyer.
    function releaseOne(OrderBook.State storage ob, Wallets.State storage w, Run memory r) private returns (bool) {
        uint8 list = r.book.buyGreen != 0 ? OrderBook.BUY_GREEN : r.book.buyOther != 0 ? OrderBook.BUY_OTHER : NONE;
        if (list == NONE) return false;
        load(ob, r, list);
        Cursor memory c = r.cursors[list];
        flush(ob, w, r, list);
        w.release(c.id, OrderBook.costOf(c.bid.remainingWh, c.bid.priceWeiPerKWh));
        OrderBook.setHead(r.book, list, c.bid.next);
        delete r.cursors[list];
        r.steps += 1;
        return true;
    }

    /// @dev Load the head of a book into its cursor; false if the book is empty.
    function load(OrderBook.State storage ob, Run memory r, uint8 list) private view returns (bool) {
        if (r.cursors[list].id != 0) return true;
        uint32 id = OrderBook.headOf(r.book, list);
        if (id == 0) return false;
        OrderBook.Bid memory bid = ob.bidOf(r.d, id);
        r.cursors[list] = Cursor({id: id, loadedRemainingWh: bid.remainingWh, loadedProceedsGwei: bid.proceedsGwei, bid: bid, value: 0});
        return true;
    }

    /// @dev A bid is used up: write it back and move its book's head on.
    function retire(OrderBook.State storage ob, Wallets.State storage w, Run memory r, uint8 list) private {
        flush(ob, w, r, list);
        OrderBook.setHead(r.book, list, r.cursors[list].bid.next);
        delete r.cursors[list];
    }

    /// @dev Write a cached bid back and move its traded value: from the buyer's reservation to the
    /// seller's wallet, where it stays locked until the seller's sale is settled.
    function flush(OrderBook.State storage ob, Wallets.State storage w, Run memory r, uint8 list) private {
        Cursor memory c = r.cursors[list];
        if (c.id == 0 || c.bid.remainingWh == c.loadedRemainingWh) return;
        ob.storeBid(r.d, c.id, c.bid);
        if (c.bid.flags & OrderBook.BUY != 0) {
            uint256 released = OrderBook.costOf(c.loadedRemainingWh, c.bid.priceWeiPerKWh) - OrderBook.costOf(c.bid.remainingWh, c.bid.priceWeiPerKWh);
            w.release(c.id, released - c.value);
        } else {
            w.creditSale(c.id, c.value, uint256(c.bid.proceedsGwei - c.loadedProceedsGwei) * 1 gwei);
            c.loadedProceedsGwei = c.bid.proceedsGwei;
        }
        c.loadedRemainingWh = c.bid.remainingWh;
        c.value = 0;
    }
}
