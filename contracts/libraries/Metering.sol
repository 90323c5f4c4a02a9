// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IEnergyMarket} from "../interfaces/IEnergyMarket.sol";
import {Fail} from "./Fail.sol";
import {Signatures} from "./Signatures.sol";
import {Wallets} from "./Wallets.sol";

/// @title Meters: bindings the prosumer consents to, and their cumulative register readings.
/// @dev The operator proposes a meter (number, account, rated power, opening registers and, for a
/// swap, the replaced meter's closing registers); it is bound when the prosumer accepts exactly that
/// proposal. A meter posts import (forward active, DL/T 645 00010000) and export (reverse active,
/// 00020000) registers for each interval end, in interval order. Each reading stores the net energy
/// since the meter's previous reading (or its opening registers), so a missing reading's energy is
/// carried by the next one, and a swap's closing registers put the old meter's last energy into the
/// interval of the swap: the energy settled always equals the register differences of whichever meters
/// served the participant. Readings are kept in a ring of four slots per participant, tagged with their
/// interval; an interval must be settled before its slot is reused. A meter's state is one slot keyed
/// by its account, so a signed reading finds its participant, number, rating and last registers in
/// one read. All functions are O(1).
library Metering {
    uint64 internal constant MAX_METER_NUMBER = 999_999_999_999;
    uint8 internal constant POSTED = 1; // the meter's reading at the end of the interval
    uint8 internal constant PARTIAL = 2; // energy of a replaced meter, waiting for the new meter's reading

    struct Meter {
        uint24 pid; // the participant it serves; 0: not bound
        uint40 number; // 12 decimal digits fit in 40 bits
        uint24 ratedPowerW; // up to 16.7 MW (the deployment's limit is checked against this)
        bool hasReading; // a reading was posted since the meter was bound
        uint32 nextReading; // first interval a reading may be posted for
        uint64 importWh; // registers of the last reading (or the opening registers)
        uint64 exportWh;
    }

    /// @notice The most rated power a meter can have.
    uint32 internal constant MAX_RATED_POWER_W = type(uint24).max;

    struct Proposal {
        bytes32 hash;
        IEnergyMarket.MeterProposal meter;
    }

    /// @notice A reading slot, decoded.
    struct Reading {
        uint8 flags;
        uint32 interval;
        int48 netWh; // export - import since the previous reading
        uint64 importWh;
        uint64 exportWh;
    }

    struct State {
        mapping(address => Meter) meters; // by the meter's account
        mapping(uint32 => address) accountOf; // participant => its meter's account
        mapping(uint64 => uint32) byNumber;
        mapping(uint32 => bytes32[4]) readings; // participant => ring of readings
        mapping(uint32 => Proposal) proposals;
        mapping(uint32 => uint32) proposalCount; // per participant: makes every proposal's hash unique
    }

    // ------------------------------------------------------------ binding

    /// @notice Store the operator's proposal for `pid` (replacing a pending one).
    /// @return hash what the prosumer accepts: unique to this market, participant and proposal
    function propose(State storage s, uint32 pid, IEnergyMarket.MeterProposal calldata m, uint32 maxRatedPowerW) external returns (bytes32 hash) {
        if (m.meterNumber == 0 || m.meterNumber > MAX_METER_NUMBER) revert IEnergyMarket.InvalidMeterNumber(m.meterNumber);
        if (m.account == address(0) || m.ratedPowerW == 0) revert IEnergyMarket.ZeroValue();
        if (m.ratedPowerW > maxRatedPowerW) revert IEnergyMarket.RatedPowerTooHigh(m.ratedPowerW, maxRatedPowerW);
        requireFree(s, pid, m.meterNumber, m.account);
        uint32 n = ++s.proposalCount[pid];
        hash = keccak256(abi.encode(block.chainid, address(this), pid, n, m));
        s.proposals[pid] = Proposal({hash: hash, meter: m});
        emit IEnergyMarket.MeterProposed(pid, hash, m);
    }

    /// @notice Bind the proposal `hash` to `pid` from interval `current` on.
    /// @return hadMeter whether a meter served `pid` before (its settlement cursor is running)
    function accept(State storage s, uint32 pid, bytes32 hash, uint32 current, uint32 intervalSeconds, uint32 settleNext)
        internal
        returns (bool hadMeter)
    {
        Proposal storage p = s.proposals[pid];
        if (hash == bytes32(0) || p.hash != hash) revert IEnergyMarket.NoSuchProposal(pid, hash);
        IEnergyMarket.MeterProposal memory m = p.meter;
        delete s.proposals[pid];
        requireFree(s, pid, m.meterNumber, m.account);
        address oldAccount = s.accountOf[pid];
        Meter memory old = s.meters[oldAccount];
        hadMeter = old.pid != 0;
        if (hadMeter) {
            delete s.meters[oldAccount];
            delete s.byNumber[old.number];
        }
        Meter memory next;
        if (hadMeter && old.number == m.meterNumber) {
            // The same meter (a new rated power or key): its register series goes on.
            next = old;
            next.ratedPowerW = uint24(m.ratedPowerW);
        } else {
            if (hadMeter) closeOld(s, pid, old, m, current, intervalSeconds, settleNext);
            next = Meter({
                pid: uint24(pid),
                number: uint40(m.meterNumber),
                ratedPowerW: uint24(m.ratedPowerW),
                hasReading: false,
                nextReading: current,
                importWh: m.openImportWh,
                exportWh: m.openExportWh
            });
        }
        s.meters[m.account] = next;
        s.accountOf[pid] = m.account;
        s.byNumber[m.meterNumber] = pid;
        emit IEnergyMarket.MeterBound(pid, m.meterNumber, m.account, m.ratedPowerW, next.nextReading);
    }

    /// @dev The replaced meter's energy since its last reading goes into the swap's interval.
    function closeOld(
        State storage s,
        uint32 pid,
        Meter memory old,
        IEnergyMarket.MeterProposal memory m,
        uint32 current,
        uint32 intervalSeconds,
        uint32 settleNext
    ) private {
        uint64 maxWh = maxRise(old, current, intervalSeconds);
        Fail.check(checkRise(old.importWh, m.closeImportWh, maxWh));
        Fail.check(checkRise(old.exportWh, m.closeExportWh, maxWh));
        int48 net = int48(int64(m.closeExportWh - old.exportWh) - int64(m.closeImportWh - old.importWh));
        Reading memory r = readingAt(s, pid, current);
        if (r.interval != current) {
            if (r.flags != 0 && r.interval >= settleNext) revert IEnergyMarket.SettlementBehind(pid, r.interval);
            r = Reading({flags: PARTIAL, interval: current, netWh: 0, importWh: 0, exportWh: 0});
        }
        r.netWh += net;
        r.importWh = m.openImportWh;
        r.exportWh = m.openExportWh;
        store(s, pid, r);
    }

    /// @notice Release `pid`'s meter.
    function unbind(State storage s, uint32 pid) internal returns (uint64 number) {
        address account = s.accountOf[pid];
        number = s.meters[account].number;
        if (account == address(0)) revert IEnergyMarket.NoMeterBound(pid);
        delete s.meters[account];
        delete s.byNumber[number];
        delete s.accountOf[pid];
        emit IEnergyMarket.MeterUnbound(pid, number);
    }

    /// @notice The meter serving `pid` (all zero for none).
    function meterOf(State storage s, uint32 pid) internal view returns (Meter memory) {
        return s.meters[s.accountOf[pid]];
    }

    /// @dev Reverts if the number or the account serves a participant other than `pid`.
    function requireFree(State storage s, uint32 pid, uint64 number, address account) private view {
        uint32 holder = s.byNumber[number];
        if (holder == 0 || holder == pid) holder = s.meters[account].pid;
        if (holder != 0 && holder != pid) revert IEnergyMarket.MeterInUse(holder);
    }

    // ------------------------------------------------------------ readings

    /// @notice Record the registers `account`'s meter read at the end of interval `d`.
    /// @param current the interval block time is in; `d` must have ended
    /// @return err the custom error refusing the reading (empty: recorded, or an identical re-post)
    /// @return pid the meter's participant (0 for an unknown account)
    function post(
        State storage s,
        Wallets.State storage wallets,
        address account,
        uint64 number,
        uint32 d,
        uint64 importWh,
        uint64 exportWh,
        uint32 current,
        uint32 intervalSeconds
    ) internal returns (bytes memory err, uint32 pid) {
        Meter memory m = s.meters[account];
        pid = m.pid;
        if (pid == 0) return (Fail.with(IEnergyMarket.UnknownMeterAccount.selector, uint160(account)), 0);
        if (m.number != number) return (Fail.with(IEnergyMarket.WrongMeterNumber.selector, number), pid);
        if (d >= current) return (Fail.with(IEnergyMarket.IntervalNotEnded.selector, d), pid);
        if (d < m.nextReading) {
            bool last = m.hasReading && d + 1 == m.nextReading; // before the first reading: before the binding
            if (last && importWh == m.importWh && exportWh == m.exportWh) return (Fail.none(), pid); // an identical re-post
            return (last ? Fail.with(IEnergyMarket.ConflictingReading.selector, pid, d) : Fail.with(IEnergyMarket.ReadingOutOfOrder.selector, d, m.nextReading), pid);
        }
        uint32 settleNext = wallets.accounts[pid].settleNext;
        if (d < settleNext) return (Fail.with(IEnergyMarket.ReadingTooLate.selector, d, settleNext), pid);
        bytes32[4] storage ring = s.readings[pid];
        uint256 slot = uint256(ring[d & 3]);
        uint32 holds = uint32(slot >> 8);
        int256 carried; // a swap's partial energy already in this interval
        if (holds == d && slot != 0) carried = int48(uint48(slot >> 40));
        else if (slot != 0 && holds >= settleNext) return (Fail.with(IEnergyMarket.SettlementBehind.selector, pid, holds), pid);
        uint256 maxWh = maxRise(m, d, intervalSeconds);
        if (importWh < m.importWh || exportWh < m.exportWh || importWh - m.importWh > maxWh || exportWh - m.exportWh > maxWh) {
            err = checkRise(m.importWh, importWh, uint64(maxWh));
            return (err.length != 0 ? err : checkRise(m.exportWh, exportWh, uint64(maxWh)), pid);
        }
        int256 net = carried + int256(uint256(exportWh - m.exportWh)) - int256(uint256(importWh - m.importWh));
        ring[d & 3] = bytes32(POSTED | (uint256(d) << 8) | (uint256(uint48(int48(net))) << 40) | (uint256(importWh) << 88) | (uint256(exportWh) << 152));
        (m.hasReading, m.nextReading, m.importWh, m.exportWh) = (true, d + 1, importWh, exportWh);
        s.meters[account] = m;
        emit IEnergyMarket.ReadingPosted(pid, d, importWh, exportWh);
    }

    /// @notice A reading posted by the meter account itself; reverts with the refusal.
    function postOne(
        State storage s,
        Wallets.State storage wallets,
        address account,
        uint64 number,
        uint32 d,
        uint64 importWh,
        uint64 exportWh,
        uint32 current,
        uint32 intervalSeconds
    ) external {
        (bytes memory err,) = post(s, wallets, account, number, d, importWh, exportWh, current, intervalSeconds);
        Fail.check(err);
    }

    /// @notice Readings signed by their meters' keys; a refused one is skipped with `EntrySkipped`
    /// (subject: the meter number).
    function postBatch(
        State storage s,
        Wallets.State storage wallets,
        IEnergyMarket.SignedReading[] calldata entries,
        bytes32 domainSeparator,
        uint32 current,
        uint32 intervalSeconds
    ) external {
        for (uint256 i = 0; i < entries.length; i++) {
            IEnergyMarket.SignedReading calldata e = entries[i];
            bytes32 structHash = keccak256(abi.encode(Signatures.READING_TYPEHASH, e.meterNumber, e.interval, e.importWh, e.exportWh));
            address meter = Signatures.signer(domainSeparator, structHash, e.r, e.vs);
            (bytes memory err,) = post(s, wallets, meter, e.meterNumber, e.interval, e.importWh, e.exportWh, current, intervalSeconds);
            if (err.length != 0) emit IEnergyMarket.EntrySkipped(e.interval, e.meterNumber, i, err);
        }
    }

    /// @dev The most a register can rise from the meter's last reading to the end of interval `d`.
    function maxRise(Meter memory m, uint32 d, uint32 intervalSeconds) private pure returns (uint64) {
        uint256 intervals = uint256(d) + 1 - m.nextReading;
        return uint64((uint256(m.ratedPowerW) * intervals * intervalSeconds) / 3600);
    }

    /// @dev A register never goes down and rises at most `maxWh`.
    function checkRise(uint64 previousWh, uint64 postedWh, uint64 maxWh) private pure returns (bytes memory) {
        if (postedWh < previousWh) return Fail.with(IEnergyMarket.RegisterDecreased.selector, previousWh, postedWh);
        if (postedWh - previousWh > maxWh) return Fail.with(IEnergyMarket.ImplausibleReading.selector, postedWh - previousWh, maxWh);
        return Fail.none();
    }

    /// @notice The reading slot of `pid` that interval `d` uses (it may hold another interval).
    function readingAt(State storage s, uint32 pid, uint32 d) internal view returns (Reading memory r) {
        uint256 v = uint256(s.readings[pid][d & 3]);
        r.flags = uint8(v);
        r.interval = uint32(v >> 8);
        r.netWh = int48(uint48(v >> 40));
        r.importWh = uint64(v >> 88);
        r.exportWh = uint64(v >> 152);
    }

    /// @notice What settlement reads of a reading slot for interval `d`: whether it holds energy of `d`
    /// (a reading or a swap's partial energy), whether the reading is posted, and the net energy.
    function energyOf(bytes32 slot, uint32 d) internal pure returns (bool measured, bool posted, int64 netWh) {
        uint256 v = uint256(slot);
        measured = uint32(v >> 8) == d && uint8(v) != 0;
        posted = measured && v & POSTED != 0;
        netWh = int48(uint48(v >> 40));
    }

    /// @notice Whether `pid` has a reading slot for interval `d` (posted, or a swap's partial energy).
    function readingOf(State storage s, uint32 pid, uint32 d) internal view returns (Reading memory r) {
        r = readingAt(s, pid, d);
        if (r.interval != d || r.flags == 0) r = Reading(0, d, 0, 0, 0);
    }

    function store(State storage s, uint32 pid, Reading memory r) private {
        s.readings[pid][r.interval & 3] = bytes32(
            uint256(r.flags) | (uint256(r.interval) << 8) | (uint256(uint48(r.netWh)) << 40) | (uint256(r.importWh) << 88)
                | (uint256(r.exportWh) << 152)
        );
    }

    function view_(State storage s, uint32 pid) internal view returns (IEnergyMarket.MeterView memory v) {
        Meter memory m = meterOf(s, pid);
        v = IEnergyMarket.MeterView({
            meterNumber: m.number,
            account: s.accountOf[pid],
            ratedPowerW: m.ratedPowerW,
            hasReading: m.hasReading,
            lastInterval: m.nextReading == 0 ? 0 : m.nextReading - 1,
            importWh: m.importWh,
            exportWh: m.exportWh
        });
    }
}
