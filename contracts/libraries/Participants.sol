// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IEnergyMarket} from "../interfaces/IEnergyMarket.sol";

/// @title Participant registry: prosumers and the public grid, IDs in registration order.
/// @dev All functions are O(1) (names are at most 64 bytes).
library Participants {
    struct Record {
        address account;
        bool green;
        bool authorized;
        bool grid;
        bool metered; // a meter is bound
    }

    struct State {
        mapping(uint32 => Record) records;
        mapping(uint32 => string) names;
        mapping(address => uint32) idOf;
        uint32 count;
        uint32 gridId;
    }

    /// @notice Add a participant with the next ID.
    function add(State storage s, address account, string calldata name, bool green, bool grid) internal returns (uint32 id) {
        if (account == address(0)) revert IEnergyMarket.ZeroValue();
        if (bytes(name).length == 0 || bytes(name).length > 64) revert IEnergyMarket.InvalidName();
        if (s.idOf[account] != 0) revert IEnergyMarket.AlreadyRegistered(account);
        id = ++s.count;
        s.records[id] = Record({account: account, green: green, authorized: grid, grid: grid, metered: false});
        s.names[id] = name;
        s.idOf[account] = id;
        emit IEnergyMarket.ParticipantRegistered(id, account, name, green, grid);
    }

    /// @notice The ID of a registered account, or revert.
    function idOfRegistered(State storage s, address account) internal view returns (uint32 id) {
        id = s.idOf[account];
        if (id == 0) revert IEnergyMarket.NotRegistered(account);
    }

    /// @notice The record of an existing ID, or revert.
    function get(State storage s, uint32 id) internal view returns (Record storage r) {
        if (id == 0 || id > s.count) revert IEnergyMarket.UnknownParticipant(id);
        r = s.records[id];
    }

    /// @notice Reverts unless `id` may trade.
    function requireAuthorized(State storage s, uint32 id) internal view returns (Record storage r) {
        r = s.records[id];
        if (!r.authorized) revert IEnergyMarket.NotAuthorized(id);
    }

    function view_(State storage s, uint32 id) internal view returns (IEnergyMarket.ParticipantView memory v) {
        Record storage r = get(s, id);
        v = IEnergyMarket.ParticipantView({id: id, account: r.account, name: s.names[id], green: r.green, authorized: r.authorized, grid: r.grid});
    }
}
