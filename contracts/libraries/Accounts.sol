// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IEnergyMarket} from "../interfaces/IEnergyMarket.sol";
import {MarketState} from "./MarketState.sol";
import {Metering} from "./Metering.sol";
import {OrderBook} from "./OrderBook.sol";
import {Params} from "./Params.sol";
import {Participants} from "./Participants.sol";
import {Signatures} from "./Signatures.sol";
import {Wallets} from "./Wallets.sol";

/// @title A prosumer's account over its life: accepting and releasing meters, what a withdrawal must
/// leave behind, signed withdrawals and acceptances, and the wallet as the market shows it.
/// @dev Works across the participants, meters, wallets and books; changes each through its own
/// library. Deployed as a linked library (keeps the market contract under the EIP-170 size limit).
library Accounts {
    using Participants for Participants.State;
    using Metering for Metering.State;
    using Wallets for Wallets.State;
    using OrderBook for OrderBook.State;
    using Params for Params.State;

    /// @notice Bind the proposal `proposal` to prosumer `id`, whose wallet must hold the new meter's security.
    function acceptMeter(MarketState.Layout storage m, uint32 id, bytes32 proposal, uint32 current, uint32 intervalSeconds) public {
        Participants.Record storage r = m.participants.prosumer(id);
        uint32 from = current == 0 ? 1 : current; // interval 0 never trades; a cursor of 0 means "never metered"
        Wallets.Account storage a = m.wallets.accounts[id];
        bool hadMeter = m.meters.accept(id, proposal, from, intervalSeconds, a.settleNext);
        uint32 ratedPowerW = m.meters.meterOf(id).ratedPowerW;
        uint256 needed = Params.security(m.params.at(from), Params.ratedEnergyWh(ratedPowerW, intervalSeconds));
        uint256 available = m.wallets.free(id, 0);
        if (available < needed) revert IEnergyMarket.InsufficientFunds(id, needed, available);
        r.ratedPowerW = ratedPowerW;
        if (!hadMeter && a.settleNext < from) a.settleNext = from;
    }

    /// @notice As `acceptMeter`, on the prosumer's signature.
    function acceptMeterSigned(
        MarketState.Layout storage m,
        uint32 id,
        bytes32 proposal,
        bytes32 r,
        bytes32 vs,
        bytes32 domainSeparator,
        uint32 current,
        uint32 intervalSeconds
    ) external {
        requireSigner(m, id, keccak256(abi.encode(Signatures.ACCEPTANCE_TYPEHASH, id, proposal)), r, vs, domainSeparator);
        acceptMeter(m, id, proposal, current, intervalSeconds);
    }

    /// @notice Release prosumer `id`'s meter once its bids and readings are settled.
    function unbindMeter(MarketState.Layout storage m, uint32 id) external {
        Participants.Record storage r = m.participants.prosumer(id);
        uint32 next = m.wallets.accounts[id].settleNext;
        if (m.meters.meterOf(id).nextReading > next || hasOpenSlots(m, id, next)) revert IEnergyMarket.NotSettledYet(id, next);
        m.meters.unbind(id);
        r.ratedPowerW = 0;
    }

    /// @notice Take `amount` out of `id`'s wallet for a withdrawal; returns the account to pay.
    function debit(MarketState.Layout storage m, uint32 id, uint256 amount, uint32 current, uint32 intervalSeconds) public returns (address) {
        if (amount == 0) revert IEnergyMarket.ZeroAmount();
        m.wallets.withdraw(id, amount, heldBack(m, id, current, intervalSeconds));
        emit IEnergyMarket.Withdrawn(id, amount);
        return m.participants.records[id].account;
    }

    /// @notice As `debit`, on the prosumer's signature with its next withdrawal nonce.
    function debitSigned(
        MarketState.Layout storage m,
        uint32 id,
        uint256 amount,
        uint32 nonce,
        bytes32 r,
        bytes32 vs,
        bytes32 domainSeparator,
        uint32 current,
        uint32 intervalSeconds
    ) external returns (address) {
        Participants.Record storage p = m.participants.get(id);
        requireSigner(m, id, keccak256(abi.encode(Signatures.WITHDRAWAL_TYPEHASH, id, amount, nonce)), r, vs, domainSeparator);
        if (nonce != p.nonce) revert IEnergyMarket.WrongNonce(id, nonce, p.nonce);
        p.nonce = nonce + 1;
        return debit(m, id, amount, current, intervalSeconds);
    }

    /// @notice A participant's wallet as the market shows it.
    function wallet(MarketState.Layout storage m, uint32 id, uint32 current, uint32 intervalSeconds)
        external
        view
        returns (IEnergyMarket.WalletView memory)
    {
        Wallets.Account memory a = m.wallets.accounts[id];
        Wallets.Totals memory t = m.wallets.totals[id];
        uint256 reserved;
        for (uint32 k = 0; k < 4; k++) {
            (, uint32 holds) = m.orders.slotOf(k, id);
            reserved += m.orders.reservationOf(holds, id);
        }
        return IEnergyMarket.WalletView({
            balance: a.balance,
            reserved: reserved,
            locked: a.locked,
            security: security(m, id, current, intervalSeconds),
            owed: t.owed,
            due: t.due,
            withdrawable: m.wallets.free(id, heldBack(m, id, current, intervalSeconds))
        });
    }

    /// @notice What a withdrawal leaves in the wallet besides locked sale funds and debts: the security
    /// of a bound meter, and the margin while a bid is unsettled.
    function heldBack(MarketState.Layout storage m, uint32 id, uint32 current, uint32 intervalSeconds) internal view returns (uint256 keep) {
        if (id == m.participants.gridId || id == Wallets.POOL) return 0;
        keep = security(m, id, current, intervalSeconds);
        if (hasOpenBid(m, id, m.wallets.accounts[id].settleNext)) keep += m.params.at(current).marginWei;
    }

    /// @dev The security a bound meter keeps in the wallet, at the parameters of the current interval.
    function security(MarketState.Layout storage m, uint32 id, uint32 current, uint32 intervalSeconds) private view returns (uint256) {
        uint32 ratedPowerW = m.participants.records[id].ratedPowerW;
        if (ratedPowerW == 0) return 0;
        return Params.security(m.params.at(current), Params.ratedEnergyWh(ratedPowerW, intervalSeconds));
    }

    /// @dev Whether a bid or commitment of `id` is not settled yet.
    function hasOpenBid(MarketState.Layout storage m, uint32 id, uint32 settleNext) private view returns (bool) {
        for (uint32 k = 0; k < 4; k++) {
            (bytes32 slot, uint32 holds) = m.orders.slotOf(k, id);
            if (OrderBook.isOpen(slot, holds, settleNext)) return true;
        }
        return false;
    }

    /// @dev Whether anything of `id` (a bid, a reading, a swap's energy) waits for settlement.
    function hasOpenSlots(MarketState.Layout storage m, uint32 id, uint32 settleNext) private view returns (bool) {
        if (hasOpenBid(m, id, settleNext)) return true;
        for (uint32 k = 0; k < 4; k++) {
            Metering.Reading memory r = m.meters.readingAt(id, k);
            if (r.flags != 0 && r.interval >= settleNext) return true;
        }
        return false;
    }

    function requireSigner(MarketState.Layout storage m, uint32 id, bytes32 structHash, bytes32 r, bytes32 vs, bytes32 domainSeparator) private view {
        address account = m.participants.get(id).account;
        address signer = Signatures.signer(domainSeparator, structHash, r, vs);
        if (signer != account) revert IEnergyMarket.WrongSigner(id, signer);
    }
}
