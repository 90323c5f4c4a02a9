// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IEnergyMarket} from "../interfaces/IEnergyMarket.sol";
import {Metering} from "./Metering.sol";
import {OrderBook} from "./OrderBook.sol";
import {Wallets} from "./Wallets.sol";

/// @title Balancing against the grid and reward/penalty, per participant and delivery interval.
/// @dev A metered participant is settled interval after interval from its first binding (a cursor),
/// so no interval is settled twice or skipped, and its actual energy is the register difference from
/// the last reading settled: a missing reading settles as zero energy and the next reading carries
/// it, so over any run the energy settled equals the register difference. The grid is not balanced
/// (it is the balancing party); its own bids are closed by a flag. All functions are O(1) per
/// participant. Deployed as a linked library (keeps the market contract under the EIP-170 size limit).
library Settlement {
    using Wallets for Wallets.State;
    using OrderBook for OrderBook.State;

    uint256 private constant PPM_PER_KWH = 1e9; // 1e6 ppm × 1000 Wh/kWh

    struct Cursor {
        uint32 next; // next interval to settle
        bool started;
        bool baseSet;
        uint32 baseEpoch;
        uint64 baseImportWh;
        uint64 baseExportWh;
        uint32 lastBidEnd; // last interval with a bid + 1 (margin stays locked until it is settled)
    }

    struct State {
        mapping(uint32 => Cursor) cursors;
    }

    /// @notice What closing a participant's bid found.
    enum Closed {
        Nothing,
        Forfeited,
        Revealed
    }

    /// @notice What a settlement needs to know about its interval.
    struct Context {
        uint32 d;
        uint32 gridId;
        bool graceOver;
        uint256 averagePrice;
        IEnergyMarket.MarketParams params;
    }

    /// @notice Figures of one participant's settlement (the ParticipantSettled event).
    struct Outcome {
        int64 declaredWh;
        int64 clearedWh;
        int64 actualWh;
        int256 balancingWei;
        uint256 rewardWei;
        uint256 penaltyWei;
        int256 incentiveWei;
        bool readingMissing;
    }

    /// @notice Start the cursor of a participant at interval `from` (first meter binding, or the grid).
    function start(State storage s, uint32 id, uint32 from) internal {
        Cursor storage c = s.cursors[id];
        if (c.started) return;
        c.started = true;
        c.next = from;
    }

    /// @notice Note a bid for interval `d` (keeps the margin locked until `d` is settled).
    function noteBid(State storage s, uint32 id, uint32 d) internal {
        s.cursors[id].lastBidEnd = d + 1;
    }

    /// @notice Whether the margin must stay in `id`'s wallet, and the interval of the bid that locks it.
    function marginLock(State storage s, uint32 id) internal view returns (bool locked, uint32 bidInterval) {
        Cursor storage c = s.cursors[id];
        return (c.next < c.lastBidEnd, c.lastBidEnd == 0 ? 0 : c.lastBidEnd - 1);
    }

    /// @notice Settle each of `ids` for `ctx.d`; reverts on the first that cannot be settled.
    function settleAll(
        State storage s,
        Metering.State storage meters,
        OrderBook.State storage orders,
        Wallets.State storage wallets,
        Context memory ctx,
        uint32[] calldata ids
    ) external {
        for (uint256 i = 0; i < ids.length; i++) {
            settleOne(s, meters, orders, wallets, ctx, ids[i]);
        }
    }

    /// @notice Settle one participant for `ctx.d`.
    function settleOne(
        State storage s,
        Metering.State storage meters,
        OrderBook.State storage orders,
        Wallets.State storage wallets,
        Context memory ctx,
        uint32 id
    ) private {
        Outcome memory o;
        if (id == ctx.gridId) {
            OrderBook.Bid memory gridBid = orders.bidOf(ctx.d, id);
            if (gridBid.flags & OrderBook.CLOSED != 0) revert IEnergyMarket.AlreadySettled(ctx.d, id);
            if (closeBid(orders, wallets, ctx, id, o) == Closed.Nothing) revert IEnergyMarket.NothingToSettle(id);
            if (gridBid.flags & OrderBook.REVEALED != 0) {
                gridBid.flags |= OrderBook.CLOSED;
                orders.storeBid(ctx.d, id, gridBid);
            }
        } else {
            Cursor memory c = s.cursors[id];
            if (!c.started) revert IEnergyMarket.NothingToSettle(id);
            if (ctx.d < c.next) revert IEnergyMarket.AlreadySettled(ctx.d, id);
            if (ctx.d > c.next) revert IEnergyMarket.SettleOutOfOrder(ctx.d, c.next);
            measure(meters, ctx, id, c, o);
            Closed closed = closeBid(orders, wallets, ctx, id, o);
            o.balancingWei = balance(wallets, ctx, id, o.clearedWh, o.actualWh);
            if (closed == Closed.Revealed) incentivize(wallets, ctx, id, o);
            c.next = ctx.d + 1;
            s.cursors[id] = c;
        }
        emit IEnergyMarket.ParticipantSettled(
            ctx.d, id, o.declaredWh, o.clearedWh, o.actualWh, o.balancingWei, o.rewardWei, o.penaltyWei, o.incentiveWei, o.readingMissing
        );
        Wallets.Totals memory debts = wallets.totals[id];
        if (debts.owed != 0) {
            wallets.collect(id, ctx.gridId);
            wallets.collect(id, Wallets.POOL);
        }
        if (debts.due != 0) {
            wallets.collect(ctx.gridId, id);
            wallets.collect(Wallets.POOL, id);
        }
    }

    /// @dev Actual net energy (export - import) since the baseline; a reading moves the baseline.
    function measure(Metering.State storage meters, Context memory ctx, uint32 id, Cursor memory c, Outcome memory o) private view {
        Metering.Reading memory r = meters.readings[id][ctx.d];
        if (!r.posted && !ctx.graceOver) revert IEnergyMarket.ReadingPending(ctx.d, id);
        uint32 epoch = r.posted ? r.epoch : meters.meters[id].epoch;
        if ((!c.baseSet || c.baseEpoch != epoch) && ctx.d != 0) {
            // No baseline for this meter yet: the reading at the end of the previous interval is one.
            Metering.Reading memory before = meters.readings[id][ctx.d - 1];
            if (before.posted && before.epoch == epoch) setBase(c, before);
        }
        if (!r.posted) {
            o.readingMissing = true; // zero energy now; the next reading carries it
            return;
        }
        if (c.baseSet && c.baseEpoch == r.epoch) {
            o.actualWh = int64(int256(uint256(r.exportWh - c.baseExportWh)) - int256(uint256(r.importWh - c.baseImportWh)));
        }
        setBase(c, r);
    }

    function setBase(Cursor memory c, Metering.Reading memory r) private pure {
        c.baseSet = true;
        c.baseEpoch = r.epoch;
        c.baseImportWh = r.importWh;
        c.baseExportWh = r.exportWh;
    }

    /// @dev Close the participant's bid: forfeit an unrevealed commit, read declared and cleared energy.
    function closeBid(OrderBook.State storage orders, Wallets.State storage wallets, Context memory ctx, uint32 id, Outcome memory o)
        private
        returns (Closed)
    {
        if (orders.isSealed(ctx.d, id)) {
            orders.dropCommitment(ctx.d, id);
            wallets.pay(id, Wallets.POOL, ctx.params.forfeitWei);
            emit IEnergyMarket.BidForfeited(ctx.d, id, ctx.params.forfeitWei);
            return Closed.Forfeited;
        }
        OrderBook.Bid memory b = orders.bidOf(ctx.d, id);
        if (b.flags & OrderBook.REVEALED == 0) return Closed.Nothing;
        int64 energy = int64(uint64(b.energyWh));
        int64 filled = int64(uint64(b.energyWh - b.remainingWh));
        bool buy = b.flags & OrderBook.BUY != 0;
        o.declaredWh = buy ? -energy : energy;
        o.clearedWh = buy ? -filled : filled;
        return Closed.Revealed;
    }

    /// @dev Deviation payment between participant and grid (formulas 1-3).
    function balance(Wallets.State storage wallets, Context memory ctx, uint32 id, int64 cleared, int64 actual)
        private
        returns (int256)
    {
        if (actual < cleared) {
            uint256 owes = valueOf(uint64(cleared - actual), ctx.averagePrice, ctx.params.shortRatioPpm);
            wallets.pay(id, ctx.gridId, owes);
            return -int256(owes);
        }
        if (actual > cleared) {
            uint256 gets = valueOf(uint64(actual - cleared), ctx.averagePrice, ctx.params.longRatioPpm);
            wallets.pay(ctx.gridId, id, gets);
            return int256(gets);
        }
        return 0;
    }

    /// @dev Reward on consistent and penalty on deviating energy (formulas 4-5), the net paid once.
    function incentivize(Wallets.State storage wallets, Context memory ctx, uint32 id, Outcome memory o) private {
        int64 b = o.declaredWh;
        int64 a = o.actualWh;
        uint64 consistent = (b > 0 && a > 0) || (b < 0 && a < 0) ? min(abs(b), abs(a)) : 0;
        uint64 deviating = abs(b - a);
        o.rewardWei = valueOf(consistent, ctx.averagePrice, ctx.params.rewardRatioPpm);
        o.penaltyWei = valueOf(deviating, ctx.averagePrice, ctx.params.penaltyRatioPpm);
        if (o.rewardWei >= o.penaltyWei) {
            o.incentiveWei = int256(o.rewardWei - o.penaltyWei);
            wallets.pay(Wallets.POOL, id, o.rewardWei - o.penaltyWei);
        } else {
            o.incentiveWei = -int256(o.penaltyWei - o.rewardWei);
            wallets.pay(id, Wallets.POOL, o.penaltyWei - o.rewardWei);
        }
    }

    /// @notice `energyWh × price × ratio`, rounded down.
    function valueOf(uint64 energyWh, uint256 priceWeiPerKWh, uint32 ratioPpm) internal pure returns (uint256) {
        return (uint256(energyWh) * priceWeiPerKWh * ratioPpm) / PPM_PER_KWH;
    }

    function abs(int64 x) private pure returns (uint64) {
        return x < 0 ? uint64(-x) : uint64(x);
    }

    function min(uint64 x, uint64 y) private pure returns (uint64) {
        return x < y ? x : y;
    }

    function view_(State storage s, uint32 id) internal view returns (IEnergyMarket.SettlementView memory v) {
        Cursor memory c = s.cursors[id];
        v = IEnergyMarket.SettlementView({
            started: c.started,
            nextInterval: c.next,
            baseSet: c.baseSet,
            baseImportWh: c.baseImportWh,
            baseExportWh: c.baseExportWh
        });
    }
}
