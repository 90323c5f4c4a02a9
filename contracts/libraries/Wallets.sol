// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IEnergyMarket} from "../interfaces/IEnergyMarket.sol";

/// @title Internal wallets: the one place value moves.
/// @dev Every account (participant IDs, the incentive pool as ID 0) holds a `balance`. Buy reservations
/// leave the balance at reveal and live in the bid until clearing uses or releases them, so the
/// contract's ether always equals the balances, the pool and the open reservations. `locked` is the part
/// of the balance a seller may not withdraw until its sale is settled (collateral and proceeds); the
/// margin and a meter's security are held back at withdrawal, computed from the parameters. A payment
/// the payer's balance cannot cover is paid in part and the rest recorded as a debt.
/// The participant's settlement cursor is packed into the same slot, so settling a participant writes
/// one slot of its own. All functions are O(1).
library Wallets {
    uint32 internal constant POOL = 0;

    struct Account {
        uint112 balance;
        uint96 locked; // sale collateral and proceeds awaiting settlement (part of the balance)
        uint32 settleNext; // next delivery interval to settle (0: never metered)
        bool owes; // debts.owed != 0
        bool isOwed; // debts.due != 0
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
        s.accounts[id].balance += uint112(amount);
    }

    /// @notice Free funds: the balance less what is locked and `keep`, and less debts.
    function free(State storage s, uint32 id, uint256 keep) internal view returns (uint256) {
        Account storage a = s.accounts[id];
        uint256 held = uint256(a.locked) + keep;
        if (a.owes) held += s.totals[id].owed;
        return a.balance > held ? a.balance - held : 0;
    }

    /// @notice Ether leaves `id`'s balance; reverts beyond its free funds (keeping `keep`).
    function withdraw(State storage s, uint32 id, uint256 amount, uint256 keep) internal {
        uint256 available = free(s, id, keep);
        if (amount > available) revert IEnergyMarket.InsufficientFunds(id, amount, available);
        s.accounts[id].balance -= uint112(amount);
    }

    /// @notice A buy reservation leaves the balance (it lives in the bid until clearing).
    function reserve(State storage s, uint32 id, uint256 amount) internal {
        s.accounts[id].balance -= uint112(amount);
    }

    /// @notice Lock `amount` of the balance until it is unlocked.
    function lock(State storage s, uint32 id, uint256 amount) internal {
        s.accounts[id].locked += uint96(amount);
    }

    /// @notice Unlock `amount` (a settled sale's collateral and proceeds).
    function unlock(State storage s, uint32 id, uint256 amount) internal {
        Account storage a = s.accounts[id];
        a.locked = amount < a.locked ? a.locked - uint96(amount) : 0;
    }

    /// @notice A seller's trades: `value` is credited, `lockedValue` of it locked until settlement.
    function creditSale(State storage s, uint32 seller, uint256 value, uint256 lockedValue) internal {
        Account storage a = s.accounts[seller];
        a.balance += uint112(value);
        a.locked += uint96(lockedValue);
    }

    /// @notice Part of a buyer's reservation returns to its balance (unfilled, or bought below its price).
    function release(State storage s, uint32 id, uint256 amount) internal {
        s.accounts[id].balance += uint112(amount);
    }

    /// @notice Pay `amount` from `from`'s balance to `to`; what the balance cannot cover becomes a debt.
    /// @return unpaid the part recorded as owed
    function pay(State storage s, uint32 from, uint32 to, uint256 amount) internal returns (uint256 unpaid) {
        if (amount == 0) return 0;
        Account storage a = s.accounts[from];
        uint256 balance = a.balance;
        uint256 paid = amount < balance ? amount : balance;
        a.balance = uint112(balance - paid);
        s.accounts[to].balance += uint112(paid);
        unpaid = amount - paid;
        if (unpaid != 0) {
            recordDebt(s, from, to, unpaid);
            a.owes = true;
            s.accounts[to].isOwed = true;
        }
    }

    /// @notice Pay what `debtor` owes `creditor`, as far as the debtor's balance allows.
    /// @return paid the amount paid
    function collect(State storage s, uint32 debtor, uint32 creditor) internal returns (uint256 paid) {
        uint256 debt = s.debts[debtor][creditor];
        if (debt == 0) return 0;
        Account storage a = s.accounts[debtor];
        uint256 balance = a.balance;
        paid = debt < balance ? debt : balance;
        if (paid == 0) return 0;
        a.balance = uint112(balance - paid);
        s.accounts[creditor].balance += uint112(paid);
        s.debts[debtor][creditor] = debt - paid;
        Totals storage t = s.totals[debtor];
        t.owed -= uint128(paid);
        if (t.owed == 0) a.owes = false;
        Totals storage c = s.totals[creditor];
        c.due -= uint128(paid);
        if (c.due == 0) s.accounts[creditor].isOwed = false;
        emit IEnergyMarket.DebtPaid(debtor, creditor, paid);
    }

    /// @notice What one participant's settlement moves, in the order it is paid.
    struct Flows {
        uint256 unlock; // of its locked sale funds
        uint256 forfeit; // to the pool, for a commit never revealed
        int256 balancing; // positive: the grid pays it; negative: it pays the grid
        int256 incentive; // positive: the pool pays it; negative: it pays the pool
        uint32 settleNext; // its settlement cursor after this
    }

    /// @notice The grid's and the pool's balances while a settlement batch pays them, read once and
    /// written once (`store`) instead of at every payment.
    struct Counterparties {
        uint32 grid;
        uint256 gridBalance;
        uint256 poolBalance;
    }

    function counterparties(State storage s, uint32 grid) internal view returns (Counterparties memory) {
        return Counterparties({grid: grid, gridBalance: s.accounts[grid].balance, poolBalance: s.accounts[POOL].balance});
    }

    /// @notice Write the batch's running balances back (before anything else reads them from storage).
    function store(State storage s, Counterparties memory c) internal {
        s.accounts[c.grid].balance = uint112(c.gridBalance);
        s.accounts[POOL].balance = uint112(c.poolBalance);
    }

    /// @notice Apply a participant's settlement: its own slot is written once, the grid's and the pool's
    /// balances move in `c`; what a payer's balance cannot cover becomes a debt, as with `pay`.
    /// @param a the participant's account as read at the start of its settlement (updated here)
    function settle(State storage s, uint32 id, Account memory a, Counterparties memory c, Flows memory f) internal {
        a.locked = f.unlock < a.locked ? a.locked - uint96(f.unlock) : 0;
        a.settleNext = f.settleNext;
        if (f.forfeit != 0) c.poolBalance += payFrom(s, a, id, POOL, f.forfeit);
        if (f.balancing < 0) c.gridBalance += payFrom(s, a, id, c.grid, uint256(-f.balancing));
        else if (f.balancing > 0) c.gridBalance = payTo(s, a, id, c.grid, c.gridBalance, uint256(f.balancing));
        if (f.incentive < 0) c.poolBalance += payFrom(s, a, id, POOL, uint256(-f.incentive));
        else if (f.incentive > 0) c.poolBalance = payTo(s, a, id, POOL, c.poolBalance, uint256(f.incentive));
        s.accounts[id] = a;
    }

    /// @dev `a` (account `id`, held in memory) pays `to`; returns what `to` received.
    function payFrom(State storage s, Account memory a, uint32 id, uint32 to, uint256 amount) private returns (uint256 paid) {
        paid = amount < a.balance ? amount : a.balance;
        a.balance -= uint112(paid);
        if (amount > paid) {
            recordDebt(s, id, to, amount - paid);
            a.owes = true;
            s.accounts[to].isOwed = true;
        }
    }

    /// @dev `from`, whose balance is `balance`, pays `a` (account `id`, held in memory); returns what
    /// `from` has left.
    function payTo(State storage s, Account memory a, uint32 id, uint32 from, uint256 balance, uint256 amount) private returns (uint256) {
        uint256 paid = amount < balance ? amount : balance;
        a.balance += uint112(paid);
        if (amount > paid) {
            recordDebt(s, from, id, amount - paid);
            s.accounts[from].owes = true;
            a.isOwed = true;
        }
        return balance - paid;
    }

    function recordDebt(State storage s, uint32 from, uint32 to, uint256 unpaid) private {
        s.debts[from][to] += unpaid;
        s.totals[from].owed += uint128(unpaid);
        s.totals[to].due += uint128(unpaid);
        emit IEnergyMarket.DebtRecorded(from, to, unpaid);
    }

    /// @notice Collect what `id` owes the grid and the pool, and what they owe `id`, as funds allow.
    function settleDebts(State storage s, uint32 id, uint32 grid) internal {
        Account storage a = s.accounts[id];
        if (a.owes) {
            collect(s, id, grid);
            collect(s, id, POOL);
        }
        if (a.isOwed) {
            collect(s, grid, id);
            collect(s, POOL, id);
        }
    }
}
