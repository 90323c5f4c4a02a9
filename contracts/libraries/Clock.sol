// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IEnergyMarket} from "../interfaces/IEnergyMarket.sol";

/// @title Market clock: interval index and phase, derived from block time and the schedule.
/// @dev Delivery interval `d` is traded in `d-1` (commit, then reveal, then clearing), delivered
/// in `d`, and settled from `settleOffsetSeconds` into `d+1`. All functions are O(1).
library Clock {
    /// @notice The interval that time `t` falls in (0 before the start).
    function intervalAt(IEnergyMarket.Schedule memory s, uint256 t) internal pure returns (uint32) {
        if (t < s.startTime) return 0;
        return uint32((t - s.startTime) / s.intervalSeconds);
    }

    /// @notice Start time of interval `d`.
    function startOf(IEnergyMarket.Schedule memory s, uint32 d) internal pure returns (uint64) {
        return s.startTime + uint64(d) * s.intervalSeconds;
    }

    /// @notice When commits for delivery interval `d` open (the start of `d-1`).
    function commitStart(IEnergyMarket.Schedule memory s, uint32 d) internal pure returns (uint64) {
        return d == 0 ? s.startTime : startOf(s, d - 1);
    }

    function revealStart(IEnergyMarket.Schedule memory s, uint32 d) internal pure returns (uint64) {
        return commitStart(s, d) + s.commitSeconds;
    }

    function revealEnd(IEnergyMarket.Schedule memory s, uint32 d) internal pure returns (uint64) {
        return revealStart(s, d) + s.revealSeconds;
    }

    /// @notice When settlement of delivery interval `d` opens.
    function settleStart(IEnergyMarket.Schedule memory s, uint32 d) internal pure returns (uint64) {
        return startOf(s, d + 1) + s.settleOffsetSeconds;
    }

    /// @notice Phase of delivery interval `d` at time `t`, given whether its clearing is done.
    function phaseOf(IEnergyMarket.Schedule memory s, uint32 d, bool cleared, uint256 t) internal pure returns (IEnergyMarket.Phase) {
        if (d == 0 || t < commitStart(s, d)) return IEnergyMarket.Phase.Upcoming;
        if (t < revealStart(s, d)) return IEnergyMarket.Phase.Commit;
        if (t < revealEnd(s, d)) return IEnergyMarket.Phase.Reveal;
        if (!cleared) return IEnergyMarket.Phase.Clearing;
        if (t < settleStart(s, d)) return IEnergyMarket.Phase.Delivery;
        return IEnergyMarket.Phase.Settlement;
    }

    /// @notice Reverts unless the schedule leaves room for every phase inside one interval.
    function validate(IEnergyMarket.Schedule memory s) internal pure {
        if (
            s.intervalSeconds == 0 || s.commitSeconds == 0 || s.revealSeconds == 0
                || uint256(s.commitSeconds) + s.revealSeconds >= s.intervalSeconds || s.settleOffsetSeconds >= s.intervalSeconds
        ) revert IEnergyMarket.InvalidSchedule();
    }
}
