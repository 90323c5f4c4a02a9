// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IEnergyMarket} from "../interfaces/IEnergyMarket.sol";
import {Fail} from "./Fail.sol";
import {MarketState} from "./MarketState.sol";
import {OrderBook} from "./OrderBook.sol";
import {Params} from "./Params.sol";
import {Participants} from "./Participants.sol";
import {Signatures} from "./Signatures.sol";
import {Wallets} from "./Wallets.sol";

/// @title Sealed bids: the checks and effects of a commit and a reveal, for single calls and batches.
/// @dev Each function returns the custom error refusing the bid (empty on success) and changes nothing
/// when it refuses. The caller has checked the phase. Deployed as a linked library.
library Trading {
    using Wallets for Wallets.State;
    using OrderBook for OrderBook.State;
    using Params for Params.State;

    /// @notice A single commit for `d` (its phase already checked).
    function commitOne(MarketState.Layout storage m, uint32 d, uint32 id, bytes32 commitment, uint32 intervalSeconds) external returns (bytes memory) {
        return commit(m, d, id, m.participants.records[id], commitment, bytes32(0), false, m.params.at(d), intervalSeconds);
    }

    /// @notice A single reveal for `d` (its phase already checked).
    function revealOne(MarketState.Layout storage m, uint32 d, IEnergyMarket.Opening memory o, uint32 intervalSeconds) external returns (bytes memory) {
        return reveal(m, d, o, m.params.at(d), intervalSeconds);
    }

    /// @notice Commit for `d`: the bidder is authorized, metered (or the grid), free of debt and holds
    /// the margin and its meter's security (the grid: the flat forfeit).
    /// @param replaces for a relayed commit, the commitment it replaces (zero: the slot must hold none)
    /// @param p the parameters of `d`
    function commit(
        MarketState.Layout storage m,
        uint32 d,
        uint32 id,
        Participants.Record memory r,
        bytes32 commitment,
        bytes32 replaces,
        bool relayed,
        IEnergyMarket.MarketParams memory p,
        uint32 intervalSeconds
    ) private returns (bytes memory err) {
        uint32 settleNext;
        (err, settleNext) = mayCommit(m, id, r, p, intervalSeconds);
        if (err.length == 0) err = m.orders.checkCommit(d, id, commitment, replaces, relayed, settleNext);
        if (err.length != 0) return err;
        m.orders.commit(d, id, commitment);
        emit IEnergyMarket.BidCommitted(d, id, commitment);
    }

    /// @dev Whether `id` may bid, and its settlement cursor.
    function mayCommit(MarketState.Layout storage m, uint32 id, Participants.Record memory r, IEnergyMarket.MarketParams memory p, uint32 intervalSeconds)
        private
        view
        returns (bytes memory err, uint32 settleNext)
    {
        if (!r.authorized) return (Fail.with(IEnergyMarket.NotAuthorized.selector, id), 0);
        if (!r.grid && r.ratedPowerW == 0) return (Fail.with(IEnergyMarket.NoMeterBound.selector, id), 0);
        Wallets.Account memory a = m.wallets.accounts[id];
        if (a.owes) return (Fail.with(IEnergyMarket.HasDebt.selector, id, m.wallets.totals[id].owed), 0);
        uint256 needed = r.grid ? p.forfeitWei : p.marginWei + Params.security(p, Params.ratedEnergyWh(r.ratedPowerW, intervalSeconds));
        uint256 available = a.balance > a.locked ? a.balance - a.locked : 0;
        if (available < needed) return (Fail.with(IEnergyMarket.InsufficientFunds.selector, id, needed, available), 0);
        return (Fail.none(), a.settleNext);
    }

    /// @notice Reveal for `d`: the opening matches the commitment (anyone may submit it), the bid is
    /// within bounds and the meter's rated energy, and the wallet covers it beyond the margin and the
    /// security. Authorization is not checked again: a bid committed while authorized can be revealed.
    /// @param p the parameters of `d`
    function reveal(MarketState.Layout storage m, uint32 d, IEnergyMarket.Opening memory o, IEnergyMarket.MarketParams memory p, uint32 intervalSeconds)
        private
        returns (bytes memory err)
    {
        uint32 id = o.participant;
        if (id == 0 || id > m.participants.count) return Fail.with(IEnergyMarket.UnknownParticipant.selector, id);
        Participants.Record memory r = m.participants.records[id];
        err = m.orders.checkOpening(d, id, OrderBook.commitmentOf(d, r.account, o.side, o.energyWh, o.priceWeiPerKWh, o.salt));
        if (err.length != 0) return err;
        err = fund(m.wallets, o, r, p, intervalSeconds);
        if (err.length != 0) return err;
        uint8 flags = OrderBook.REVEALED | (o.side == IEnergyMarket.Side.Buy ? OrderBook.BUY : 0) | (r.green ? OrderBook.GREEN : 0);
        m.orders.insert(d, id, OrderBook.newBid(flags, d, o.priceWeiPerKWh, uint32(o.energyWh)), o.hintPrevId);
        emit IEnergyMarket.BidRevealed(d, id, o.side, o.energyWh, o.priceWeiPerKWh);
    }

    /// @notice Commit signed bids for `d` (its phase already checked); refused entries are skipped.
    function commitBatch(
        MarketState.Layout storage m,
        uint32 d,
        IEnergyMarket.SignedCommit[] calldata entries,
        bytes32 domainSeparator,
        uint32 intervalSeconds
    ) external {
        uint32 count = m.participants.count;
        IEnergyMarket.MarketParams memory p = m.params.at(d);
        for (uint256 i = 0; i < entries.length; i++) {
            IEnergyMarket.SignedCommit calldata e = entries[i];
            bytes memory err;
            if (e.participant == 0 || e.participant > count) {
                err = Fail.with(IEnergyMarket.UnknownParticipant.selector, e.participant);
            } else {
                bytes32 structHash = keccak256(abi.encode(Signatures.COMMIT_TYPEHASH, e.participant, d, e.commitment, e.replaces));
                address signer = Signatures.signer(domainSeparator, structHash, e.r, e.vs);
                Participants.Record memory r = m.participants.records[e.participant];
                if (signer != r.account) err = Fail.with(IEnergyMarket.WrongSigner.selector, e.participant, uint160(signer));
                else err = commit(m, d, e.participant, r, e.commitment, e.replaces, true, p, intervalSeconds);
            }
            if (err.length != 0) emit IEnergyMarket.EntrySkipped(d, e.participant, i, err);
        }
    }

    /// @notice Reveal openings for `d` (its phase already checked); refused entries are skipped.
    function revealBatch(MarketState.Layout storage m, uint32 d, IEnergyMarket.Opening[] calldata entries, uint32 intervalSeconds) external {
        IEnergyMarket.MarketParams memory p = m.params.at(d);
        for (uint256 i = 0; i < entries.length; i++) {
            bytes memory err = reveal(m, d, entries[i], p, intervalSeconds);
            if (err.length != 0) emit IEnergyMarket.EntrySkipped(d, entries[i].participant, i, err);
        }
    }

    /// @dev Check a revealed bid's bounds and put up its funds: a buy reserves its cost, a sell locks its
    /// collateral, both beyond the margin and the meter's security (the grid holds neither). The wallet
    /// slot is read and written once.
    function fund(
        Wallets.State storage wallets,
        IEnergyMarket.Opening memory o,
        Participants.Record memory r,
        IEnergyMarket.MarketParams memory p,
        uint32 intervalSeconds
    ) private returns (bytes memory err) {
        uint256 ratedWh = r.grid ? 0 : Params.ratedEnergyWh(r.ratedPowerW, intervalSeconds);
        err = Params.checkBid(p, o.energyWh, o.priceWeiPerKWh, ratedWh);
        if (err.length != 0) return err;
        Wallets.Account memory a = wallets.accounts[o.participant];
        uint256 held = uint256(a.locked) + (r.grid ? 0 : p.marginWei + Params.security(p, ratedWh));
        if (a.owes) held += wallets.totals[o.participant].owed;
        uint256 available = a.balance > held ? a.balance - held : 0;
        bool buy = o.side == IEnergyMarket.Side.Buy;
        uint256 needed = buy ? OrderBook.costOf(o.energyWh, o.priceWeiPerKWh) : r.grid ? 0 : Params.saleCollateral(p, o.energyWh);
        if (needed > available) return Fail.with(IEnergyMarket.InsufficientFunds.selector, o.participant, needed, available);
        if (buy) a.balance -= uint112(needed);
        else a.locked += uint96(needed);
        wallets.accounts[o.participant] = a;
    }
}
