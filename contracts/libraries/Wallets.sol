// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IEnergyMarket} from "../interfaces/IEnergyMarket.sol";

/// @title Internal wallets: the one place value moves.
/// @dev Every account (participant IDs, the incentive pool as ID 0) holds `balance` (free, includes
/// the margin) and `reserved` (buy reservations until clearing). Value only moves between accounts,
/// so the contract's ether balance always equals the sum of all balances and reservations; ether
/// enters through `credit` (deposit) and leaves through `withdraw`. A payment that the payer's balance
/// cannot cover is paid in part and the rest recorded as a debt. All functions are O(1).
library Wallets {
    uint32 internal constant POOL = 0;

    struct Account {
        uint128 balance;
        uint128 reserved;
    }

    struct State {
        mapping(uint32 => Account) accounts;
        mapping(uint32 => Totals) totals;
        mapping(uint32 => mapping(uint32 => uint256)) debts; // debtor => creditor => amount
    }

    /// @notice Debts of and to an account, one slot.
    struct Totals {
        uint128 owed; // owed by the account
        uint128 due; // owed to the account
    }

    /// @notice Ether entered `id`'s balance.
    function credit(State storage s, uint32 id, uint256 amount) internal {
        s.accounts[id].balance += uint128(amount);
    }

    /// @notice Ether leaves `id`'s balance; `locked` (the margin) and debts stay.
    function withdraw(State storage s, uint32 id, uint256 amount, uint256 locked) internal {
        uint256 available = withdrawable(s, id, locked);
        if (amount > available) revert IEnergyMarket.InsufficientFunds(id, amount, available);
        s.accounts[id].balance -= uint128(amount);
    }

    /// @notice Free funds above debts and `locked`.
    function withdrawable(State storage s, uint32 id, uint256 locked) internal view returns (uint256) {
        uint256 held = uint256(s.totals[id].owed) + locked;
        uint256 balance = s.accounts[id].balance;
        return balance > held ? balance - held : 0;
    }

    /// @notice Move `amount` from balance to reserved, keeping `keep` in the balance.
    function reserve(State storage s, uint32 id, uint256 amount, uint256 keep) internal {
        Account storage a = s.accounts[id];
        uint256 available = a.balance > keep ? a.balance - keep : 0;
        if (amount > available) revert IEnergyMarket.InsufficientFunds(id, amount + keep, a.balance);
        a.balance -= uint128(amount);
        a.reserved += uint128(amount);
    }

    /// @notice Reverts unless `id`'s balance holds at least `minimum` (a seller's margin).
    function requireBalance(State storage s, uint32 id, uint256 minimum) internal view {
        uint256 balance = s.accounts[id].balance;
        if (balance < minimum) revert IEnergyMarket.InsufficientFunds(id, minimum, balance);
    }

    /// @notice Return `amount` of `id`'s reservation to its balance.
    function release(State storage s, uint32 id, uint256 amount) internal {
        Account storage a = s.accounts[id];
        a.reserved -= uint128(amount);
        a.balance += uint128(amount);
    }

    /// @notice A buyer's trades: `released` of its reservation is used up, of which `paid` went to
    /// sellers (credited to them by `credit` in the same transaction) and the rest returns to its balance.
    function useReservation(State storage s, uint32 buyer, uint256 released, uint256 paid) internal {
        Account storage a = s.accounts[buyer];
        a.reserved -= uint128(released);
        a.balance += uint128(released - paid);
    }

    /// @notice Pay `amount` from `from`'s balance to `to`; what the balance cannot cover becomes a debt.
    /// @return unpaid the part recorded as owed
    function pay(State storage s, uint32 from, uint32 to, uint256 amount) internal returns (uint256 unpaid) {
        if (amount == 0) return 0;
        uint256 balance = s.accounts[from].balance;
        uint256 paid = amount < balance ? amount : balance;
        s.accounts[from].balance = uint128(balance - paid);
        s.accounts[to].balance += uint128(paid);
        unpaid = amount - paid;
        if (unpaid != 0) {
            s.debts[from][to] += unpaid;
            s.totals[from].owed += uint128(unpaid);
            s.totals[to].due += uint128(unpaid);
            emit IEnergyMarket.DebtRecorded(from, to, unpaid);
        }
    }

    /// @notice Pay what `debtor` owes `creditor`, as far as the debtor's balance allows.
    /// @return paid the amount paid
    function collect(State storage s, uint32 debtor, uint32 creditor) internal returns (uint256 paid) {
        uint256 debt = s.debts[debtor][creditor];
        if (debt == 0) return 0;
        uint256 balance = s.accounts[debtor].balance;
        paid = debt < balance ? debt : balance;
        if (paid == 0) return 0;
        s.accounts[debtor].balance = uint128(balance - paid);
        s.accounts[creditor].balance += uint128(paid);
        s.debts[debtor][creditor] = debt - paid;
        s.totals[debtor].owed -= uint128(paid);
        s.totals[creditor].due -= uint128(paid);
        emit IEnergyMarket.DebtPaid(debtor, creditor, paid);
    }
}
