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

    /// @notice Settle each of `ids` for `ctx.d`; those that cannot be settled are skipped with an event.
    function settleAll(MarketState.Layout storage m, Context memory ctx, uint32[] calldata ids) external {
        Wallets.Counterparties memory c = m.wallets.counterparties(ctx.gridId);
        for (uint256 i = 0; i < ids.length; i++) {
            uint32 id = ids[i];
            bytes memory err;
            if (id == ctx.gridId) {
                m.wallets.store(c);
                err = settleGrid(m.orders, m.wallets, ctx, id);
                c = m.wallets.counterparties(ctx.gridId);
            } else {
                err = settleOne(m.participants, m.meters, m.orders, m.wallets, ctx, c, id);
            }
            if (err.length != 0) emit IEnergyMarket.EntrySkipped(ctx.d, id, i, err);
        }
        m.wallets.store(c);
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
            (bool buy, , uint64 energy, uint64 remaining, uint256 proceeds) = OrderBook.fieldsOf(uint256(slot));
            o.declaredWh = buy ? -int64(energy) : int64(energy);
            o.clearedWh = buy ? -int64(energy - remaining) : int64(energy - remaining);
            if (!buy) wallets.unlock(id, proceeds);
        }
        orders.close(ctx.d, id);
        emitSettled(ctx.d, id, o);
        wallets.settleDebts(id, ctx.gridId);
        return Fail.none();
    }

    /// @dev Settle one metered participant for `ctx.d`: read its wallet, reading and bid slots once,
    /// work out every amount, then move them with one write of its wallet slot.
    function settleOne(
        Participants.State storage participants,
        Metering.State storage meters,
        OrderBook.State storage orders,
        Wallets.State storage wallets,
        Context memory ctx,
        Wallets.Counterparties memory c,
        uint32 id
    ) private returns (bytes memory) {
        uint32 d = ctx.d;
        Wallets.Account memory a = wallets.accounts[id];
        if (a.settleNext == 0) return Fail.with(IEnergyMarket.NothingToSettle.selector, id);
        if (d != a.settleNext) return d < a.settleNext ? Fail.with(IEnergyMarket.AlreadySettled.selector, d, id) : Fail.with(IEnergyMarket.SettleOutOfOrder.selector, d, a.settleNext);
        (bool measured, bool posted, int64 actual) = Metering.energyOf(meters.readings[id][d & 3], d);
        uint256 bid = uint256(orders.slots[id][d & 3]);
        bool hasBid = bid != 0 && uint32(bid >> 8) == d;
        if (!posted) {
            if (!hasBid && participants.records[id].ratedPowerW == 0) return Fail.with(IEnergyMarket.NothingToSettle.selector, id);
            if (!ctx.graceOver) return Fail.with(IEnergyMarket.ReadingPending.selector, d, id);
        }
        int64 actualWh = measured ? actual : int64(0); // a missing reading: zero (or a swap's partial energy); the next carries it
        int64 declaredWh;
        int64 clearedWh;
        uint256 rewardWei;
        int256 incentiveWei;
        uint256 premium;
        uint256 unlock;
        uint256 forfeitWei;
        if (hasBid && bid & OrderBook.REVEALED == 0) {
            forfeitWei = Params.forfeit(ctx.params, Params.ratedEnergyWh(participants.records[id].ratedPowerW, ctx.intervalSeconds));
            orders.close(d, id);
            emit IEnergyMarket.BidForfeited(d, id, forfeitWei);
        } else if (hasBid) {
            (bool buy, uint64 price, uint64 energy, uint64 remaining, uint256 proceeds) = OrderBook.fieldsOf(bid);
            declaredWh = buy ? -int64(energy) : int64(energy);
            clearedWh = buy ? -int64(energy - remaining) : int64(energy - remaining);
            if (!buy) {
                unlock = Params.saleCollateral(ctx.params, energy) + proceeds;
                if (actualWh < clearedWh && clearedWh > 0) premium = unwindPremium(ctx.price, uint64(clearedWh), uint64(clearedWh - actualWh), proceeds);
            }
            (rewardWei, incentiveWei) = incentive(ctx, declaredWh, clearedWh, actualWh, buy ? price >= ctx.price : price <= ctx.price);
        }
        int256 balancingWei = balancing(ctx, clearedWh, actualWh, premium);
        wallets.settle(id, a, c, Wallets.Flows({unlock: unlock, forfeit: forfeitWei, balancing: balancingWei, incentive: incentiveWei, settleNext: d + 1}));
        emit IEnergyMarket.ParticipantSettled(d, id, declaredWh, clearedWh, actualWh, balancingWei, rewardWei, incentiveWei, !posted);
        if (a.owes || a.isOwed) {
            wallets.store(c);
            wallets.settleDebts(id, ctx.gridId);
            (c.gridBalance, c.poolBalance) = (wallets.accounts[ctx.gridId].balance, wallets.accounts[Wallets.POOL].balance);
        }
        return Fail.none();
    }

    function forfeit(Wallets.State storage wallets, Context memory ctx, uint32 id, uint256 amount) private {
        wallets.pay(id, Wallets.POOL, amount);
        emit IEnergyMarket.BidForfeited(ctx.d, id, amount);
    }

    /// @dev Deviation payment between participant and grid (formulas 1-3), positive when the grid pays;
    /// a short seller adds the unwind premium.
    function balancing(Context memory ctx, int64 cleared, int64 actual, uint256 premium) private pure returns (int256) {
        if (actual < cleared) return -int256(Params.valueOf(uint64(cleared - actual), ctx.price, ctx.params.shortRatioPpm) + premium);
        if (actual > cleared) return int256(Params.valueOf(uint64(actual - cleared), ctx.price, ctx.params.longRatioPpm));
        return 0;
    }

    /// @notice What the undelivered part of a sale earned above its value at A: its share of the
    /// proceeds (rounded up) less its energy at A (rounded down), never negative. Selling energy and
    /// not delivering it so always costs more than it brought.
    function unwindPremium(uint256 price, uint256 sold, uint256 shortWh, uint256 proceeds) internal pure returns (uint256) {
        uint256 undelivered = shortWh < sold ? shortWh : sold;
        uint256 earned = (proceeds * undelivered + sold - 1) / sold;
        uint256 atPrice = OrderBook.costOf(undelivered, price);
        return earned > atPrice ? earned - atPrice : 0;
    }

    /// @dev Reward on consistent and penalty on deviating energy (formulas 4-5), netted. The reward
    /// counts the declared energy when the bid was priced to trade at A (`marketable`: a sell at or below
    /// it, a buy at or above it), otherwise only the cleared energy: an unfillable bid earns nothing.
    function incentive(Context memory ctx, int64 declared, int64 cleared, int64 actual, bool marketable)
        private
        pure
        returns (uint256 rewardWei, int256 incentiveWei)
    {
        int64 b = marketable ? declared : cleared;
        uint64 consistent = (b > 0 && actual > 0) || (b < 0 && actual < 0) ? min(abs(b), abs(actual)) : 0;
        rewardWei = Params.valueOf(consistent, ctx.price, ctx.params.rewardRatioPpm);
        incentiveWei = int256(rewardWei) - int256(Params.valueOf(abs(declared - actual), ctx.price, ctx.params.penaltyRatioPpm));
    }

    function emitSettled(uint32 d, uint32 id, Outcome memory o) private {
        emit IEnergyMarket.ParticipantSettled(
            d, id, o.declaredWh, o.clearedWh, o.actualWh, o.balancingWei, o.rewardWei, o.incentiveWei, o.readingMissing
        );
    }

    /// @dev Energies are meter differences and bid quantities, far from int64's minimum.
    function abs(int64 x) private pure returns (uint64) {
        unchecked {
            return x < 0 ? uint64(-x) : uint64(x);
        }
    }

    function min(uint64 x, uint64 y) private pure returns (uint64) {
        return x < y ? x : y;
    }
}
