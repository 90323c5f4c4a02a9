// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IEnergyMarket} from "../interfaces/IEnergyMarket.sol";

/// @title Meters: one-to-one binding of meters to prosumers and their cumulative register readings.
/// @dev A meter posts import (forward active, DL/T 645 00010000) and export (reverse active,
/// 00020000) registers for each interval end, in interval order. Each binding opens a new epoch:
/// readings of a new meter never compare with an old meter's registers. All functions are O(1).
library Metering {
    struct Meter {
        uint64 number; // 0: no meter
        uint32 ratedPowerW;
        uint32 epoch;
        uint32 lastEnd; // last reading's interval + 1 in this epoch, 0 for none
    }

    struct Reading {
        uint64 importWh;
        uint64 exportWh;
        uint32 epoch;
        bool posted;
    }

    struct State {
        mapping(uint32 => Meter) meters;
        mapping(uint32 => address) accountOf;
        mapping(address => uint32) byAccount;
        mapping(uint64 => uint32) byNumber;
        mapping(uint32 => mapping(uint32 => Reading)) readings;
    }

    /// @notice Bind a meter to `pid`; the number and account are taken from any other holder.
    /// @return lostA a participant that lost its meter to this binding (0 for none)
    /// @return lostB another one (the number and the account may come from two holders)
    function bind(State storage s, uint32 pid, uint64 number, address account, uint32 ratedPowerW)
        internal
        returns (uint32 lostA, uint32 lostB)
    {
        if (number == 0 || account == address(0) || ratedPowerW == 0) revert IEnergyMarket.ZeroValue();
        lostA = s.byNumber[number];
        if (lostA == pid) lostA = 0;
        if (lostA != 0) unbind(s, lostA);
        lostB = s.byAccount[account];
        if (lostB == pid) lostB = 0;
        if (lostB != 0) unbind(s, lostB);
        Meter storage old = s.meters[pid];
        if (old.number != 0) {
            delete s.byAccount[s.accountOf[pid]];
            delete s.byNumber[old.number];
        }
        uint32 epoch = old.epoch + 1;
        s.meters[pid] = Meter({number: number, ratedPowerW: ratedPowerW, epoch: epoch, lastEnd: 0});
        s.accountOf[pid] = account;
        s.byAccount[account] = pid;
        s.byNumber[number] = pid;
        emit IEnergyMarket.MeterBound(pid, number, account, ratedPowerW, epoch);
    }

    /// @notice Take `pid`'s meter away (it was bound to someone else).
    function unbind(State storage s, uint32 pid) private {
        Meter storage m = s.meters[pid];
        uint64 number = m.number;
        delete s.byAccount[s.accountOf[pid]];
        delete s.byNumber[number];
        delete s.accountOf[pid];
        m.number = 0;
        m.ratedPowerW = 0;
        m.lastEnd = 0;
        emit IEnergyMarket.MeterUnbound(pid, number);
    }

    /// @notice Record the registers `account`'s meter read at the end of interval `d`.
    /// @param current the interval block time is in; `d` must have ended
    /// @return posted false for an identical re-post (nothing changes)
    function post(
        State storage s,
        address account,
        uint64 number,
        uint32 d,
        uint64 importWh,
        uint64 exportWh,
        uint32 current,
        uint32 intervalSeconds
    ) internal returns (bool posted) {
        uint32 pid = s.byAccount[account];
        if (pid == 0) revert IEnergyMarket.UnknownMeterAccount(account);
        Meter memory m = s.meters[pid];
        if (m.number != number) revert IEnergyMarket.WrongMeterNumber(number);
        if (d >= current) revert IEnergyMarket.IntervalNotEnded(d);
        Reading memory r = s.readings[pid][d];
        if (r.posted) {
            if (r.importWh == importWh && r.exportWh == exportWh && r.epoch == m.epoch) return false;
            revert IEnergyMarket.ConflictingReading(pid, d);
        }
        if (m.lastEnd != 0) {
            uint32 last = m.lastEnd - 1;
            if (d < last) revert IEnergyMarket.ReadingOutOfOrder(d, last);
            Reading memory prev = s.readings[pid][last];
            uint64 maxWh = uint64((uint256(m.ratedPowerW) * (d - last) * intervalSeconds) / 3600);
            checkIncrease(prev.importWh, importWh, maxWh);
            checkIncrease(prev.exportWh, exportWh, maxWh);
        }
        s.readings[pid][d] = Reading({importWh: importWh, exportWh: exportWh, epoch: m.epoch, posted: true});
        s.meters[pid].lastEnd = d + 1;
        emit IEnergyMarket.ReadingPosted(pid, d, importWh, exportWh);
        return true;
    }

    /// @dev A register never goes down and rises at most `maxWh`.
    function checkIncrease(uint64 previousWh, uint64 postedWh, uint64 maxWh) private pure {
        if (postedWh < previousWh) revert IEnergyMarket.RegisterDecreased(previousWh, postedWh);
        if (postedWh - previousWh > maxWh) revert IEnergyMarket.ImplausibleReading(postedWh - previousWh, maxWh);
    }

    function view_(State storage s, uint32 pid) internal view returns (IEnergyMarket.MeterView memory v) {
        Meter memory m = s.meters[pid];
        v = IEnergyMarket.MeterView({
            meterNumber: m.number,
            account: s.accountOf[pid],
            ratedPowerW: m.ratedPowerW,
            epoch: m.epoch,
            hasReading: m.lastEnd != 0,
            lastInterval: m.lastEnd == 0 ? 0 : m.lastEnd - 1
        });
    }
}
