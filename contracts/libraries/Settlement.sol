// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IEnergyMarket} from "../interfaces/IEnergyMarket.sol";
import {Fail} from "./Fail.sol";
import {MarketState} from "./MarketState.sol";
import {Metering} from "./Metering.sol";
import {OrderBook} from "./OrderBook.sol";
import {Params} from "./Params.sol";
import {Participants} from "./Participants.sol";
import {Wallets} from "./Wallets.sol";

/// @title Balancing against the grid and reward/penalty, per participant and delivery interval.
/// @dev A metered participant is settled interval after interval from its first binding (a cursor in
/// its wallet slot), so no interval is settled twice or skipped. Its actual energy is the net energy of
/// its reading of that interval, which carries whatever earlier missing readings did not: over any run
/// the energy settled equals the register difference. The grid is not balanced (it is the balancing
/// party); its own bids are closed by a flag. A participant that cannot be settled now is skipped with
/// `EntrySkipped` and the others are settled. All functions are O(1) per participant.
/// Rules beyond the paper (docs/MECHANISM.md): energy sold and not delivered is charged at least what
/// it was sold for; the reward counts the declared energy only for a bid priced to trade at A; a sale's
/// collateral and proceeds are unlocked here, after the sale's own charges are paid.
/// Deployed as a linked library (keeps the market contract under the EIP-170 size limit).
library Settlement {
    using Wallets for Wallets.State;
    using OrderBook for OrderBook.State;
    using Metering for Metering.State;

    /// @notice What a settlement needs to know about its interval.
    struct Context {
        uint32 d;
        uint32 gridId;
        uint32 intervalSeconds;
        bool graceOver;
        uint256 price; // A: the banded balancing price
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

    /// @notice The revealed bid of the interval, as settlement needs it.
    struct Position {
        bool revealed;
        bool buy;
        uint64 priceWeiPerKWh;
        uint256 proceedsWei;
    }

    /// @notice Settle each of `ids` for `ctx.d`; those that cannot be settled are skipped with an event.
    function settleAll(MarketState.Layout storage m, Context memory ctx, uint32[] calldata ids) external {
        for (uint256 i = 0; i < ids.length; i++) {
            uint32 id = ids[i];
            bytes memory err = id == ctx.gridId ? settleGrid(m.orders, m.wallets, ctx, id) : settleOne(m.participants, m.meters, m.orders, m.wallets, ctx, id);
            if (err.length != 0) emit IEnergyMarket.EntrySkipped(ctx.d, id, i, err);
        }
    }

    /// @dev Close the grid's bid of `ctx.d` (a commit never revealed forfeits the flat forfeit).
    function settleGrid(OrderBook.State storage orders, Wallets.State storage wallets, Context memory ctx, uint32 id)
        private
        returns (bytes memory)
    {
        (bytes32 slot, uint32 holds) = orders.slotOf(ctx.d, id);
        if (slot == bytes32(0) || holds != ctx.d) return Fail.with(IEnergyMarket.NothingToSettle.selector, id);
        if (uint256(slot) & OrderBook.CLOSED != 0) return Fail.with(IEnergyMarket.AlreadySettled.selector, ctx.d, id);
        Outcome memory o;
        if (uint256(slot) & OrderBook.REVEALED == 0) {
            forfeit(wallets, ctx, id, ctx.params.forfeitWei);
        } else {
            Position memory pos = readPosition(orders, ctx.d, id, o);
            if (!pos.buy) wallets.unlock(id, pos.proceedsWei);
        }
        orders.close(ctx.d, id);
        emitSettled(ctx.d, id, o);
        wallets.settleDebts(id, ctx.gridId);
        return "";
    }

    /// @dev Settle one metered participant for `ctx.d`.
    function settleOne(
        Participants.State storage participants,
        Metering.State storage meters,
        OrderBook.State storage orders,
        Wallets.State storage wallets,
        Context memory ctx,
        uint32 id
    ) private returns (bytes memory) {
        uint32 next = wallets.accounts[id].settleNext;
        if (next == 0) return Fail.with(IEnergyMarket.NothingToSettle.selector, id);
        if (ctx.d < next) return Fail.with(IEnergyMarket.AlreadySettled.selector, ctx.d, id);
        if (ctx.d > next) return Fail.with(IEnergyMarket.SettleOutOfOrder.selector, ctx.d, next);
        Metering.Reading memory r = meters.readingOf(id, ctx.d);
        (bytes32 slot, uint32 holds) = orders.slotOf(ctx.d, id);
        bool hasBid = slot != bytes32(0) && holds == ctx.d;
        if (r.flags & Metering.POSTED == 0) {
            if (!hasBid && participants.records[id].ratedPowerW == 0) return Fail.with(IEnergyMarket.NothingToSettle.selector, id);
            if (!ctx.graceOver) return Fail.with(IEnergyMarket.ReadingPending.selector, ctx.d, id);
        }
        Outcome memory o;
        o.actualWh = int64(r.netWh); // a missing reading: zero (or a swap's partial energy); the next carries it
        o.readingMissing = r.flags & Metering.POSTED == 0;
        Position memory pos;
        if (hasBid && uint256(slot) & OrderBook.REVEALED == 0) {
            uint256 ratedWh = Params.ratedEnergyWh(participants.records[id].ratedPowerW, ctx.intervalSeconds);
            forfeit(wallets, ctx, id, Params.forfeit(ctx.params, ratedWh));
        } else if (hasBid) {
            pos = readPosition(orders, ctx.d, id, o);
        }
        if (pos.revealed && !pos.buy) wallets.unlock(id, Params.saleCollateral(ctx.params, uint64(o.declaredWh)) + pos.proceedsWei);
        o.balancingWei = balance(wallets, ctx, id, o, pos);
        if (pos.revealed) incentivize(wallets, ctx, id, o, pos);
        wallets.accounts[id].settleNext = ctx.d + 1;
        emitSettled(ctx.d, id, o);
        wallets.settleDebts(id, ctx.gridId);
        return "";
    }

    function forfeit(Wallets.State storage wallets, Context memory ctx, uint32 id, uint256 amount) private {
        wallets.pay(id, Wallets.POOL, amount);
        emit IEnergyMarket.BidForfeited(ctx.d, id, amount);
    }

    /// @dev Declared and cleared energy of a revealed bid.
    function readPosition(OrderBook.State storage orders, uint32 d, uint32 id, Outcome memory o) private view returns (Position memory pos) {
        OrderBook.Bid memory b = orders.bidOf(d, id);
        int64 energy = int64(uint64(b.energyWh));
        int64 filled = int64(uint64(b.energyWh - b.remainingWh));
        pos = Position({revealed: true, buy: b.flags & OrderBook.BUY != 0, priceWeiPerKWh: b.priceWeiPerKWh, proceedsWei: uint256(b.proceedsGwei) * 1 gwei});
        o.declaredWh = pos.buy ? -energy : energy;
        o.clearedWh = pos.buy ? -filled : filled;
    }

    /// @dev Deviation payment between participant and grid (formulas 1-3). A seller short of what it
    /// sold also pays back what the undelivered part earned above A (the unwind premium), so selling
    /// energy and not delivering it always costs more than it brought.
    function balance(Wallets.State storage wallets, Context memory ctx, uint32 id, Outcome memory o, Position memory pos)
        private
        returns (int256)
    {
        int64 cleared = o.clearedWh;
        int64 actual = o.actualWh;
        if (actual < cleared) {
            uint256 shortWh = uint64(cleared - actual);
            uint256 owes = Params.valueOf(shortWh, ctx.price, ctx.params.shortRatioPpm) + unwindPremium(ctx.price, cleared, shortWh, pos);
            wallets.pay(id, ctx.gridId, owes);
            return -int256(owes);
        }
        if (actual > cleared) {
            uint256 gets = Params.valueOf(uint64(actual - cleared), ctx.price, ctx.params.longRatioPpm);
            wallets.pay(ctx.gridId, id, gets);
            return int256(gets);
        }
        return 0;
    }

    /// @notice What the undelivered part of a sale earned above its value at A: its share of the
    /// proceeds (rounded up) less its energy at A (rounded down), never negative.
    function unwindPremium(uint256 price, int64 cleared, uint256 shortWh, Position memory pos) internal pure returns (uint256) {
        if (pos.buy || cleared <= 0) return 0;
        uint256 sold = uint64(cleared);
        uint256 undelivered = shortWh < sold ? shortWh : sold;
        uint256 earned = (pos.proceedsWei * undelivered + sold - 1) / sold;
        uint256 atPrice = OrderBook.costOf(undelivered, price);
        return earned > atPrice ? earned - atPrice : 0;
    }

    /// @dev Reward on consistent and penalty on deviating energy (formulas 4-5), the net paid once. The
    /// reward counts the declared energy when the bid was priced to trade at A (a sell at or below it, a
    /// buy at or above it), otherwise only the cleared energy: an unfillable bid earns nothing.
    function incentivize(Wallets.State storage wallets, Context memory ctx, uint32 id, Outcome memory o, Position memory pos) private {
        bool marketable = pos.buy ? pos.priceWeiPerKWh >= ctx.price : pos.priceWeiPerKWh <= ctx.price;
        int64 b = marketable ? o.declaredWh : o.clearedWh;
        int64 a = o.actualWh;
        uint64 consistent = (b > 0 && a > 0) || (b < 0 && a < 0) ? min(abs(b), abs(a)) : 0;
        uint64 deviating = abs(o.declaredWh - a);
        o.rewardWei = Params.valueOf(consistent, ctx.price, ctx.params.rewardRatioPpm);
        o.penaltyWei = Params.valueOf(deviating, ctx.price, ctx.params.penaltyRatioPpm);
        if (o.rewardWei >= o.penaltyWei) {
            o.incentiveWei = int256(o.rewardWei - o.penaltyWei);
            wallets.pay(Wallets.POOL, id, o.rewardWei - o.penaltyWei);
        } else {
            o.incentiveWei = -int256(o.penaltyWei - o.rewardWei);
            wallets.pay(id, Wallets.POOL, o.penaltyWei - o.rewardWei);
        }
    }

    function emitSettled(uint32 d, uint32 id, Outcome memory o) private {
        emit IEnergyMarket.ParticipantSettled(
            d, id, o.declaredWh, o.clearedWh, o.actualWh, o.balancingWei, o.rewardWei, o.penaltyWei, o.incentiveWei, o.readingMissing
        );
    }

    function abs(int64 x) private pure returns (uint64) {
        return x < 0 ? uint64(-x) : uint64(x);
    }

    function min(uint64 x, uint64 y) private pure returns (uint64) {
        return x < y ? x : y;
    }
}
