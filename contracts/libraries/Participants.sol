// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IEnergyMarket} from "../interfaces/IEnergyMarket.sol";
import {Fail} from "./Fail.sol";
import {Signatures} from "./Signatures.sol";

/// @title Participant registry: prosumers and the public grid, IDs in registration order.
/// @dev One storage slot per participant holds everything a bid needs to know about it (account,
/// flags and its meter's rated power), so committing and revealing read it once. IDs stay below 2^24
/// (they are packed into order-book links). All functions are O(1) (names are at most 64 bytes).
/// Deployed as a linked library (for the batch of signed registrations).
library Participants {
    uint32 internal constant MAX_ID = type(uint24).max;

    struct Record {
        address account;
        bool green;
        bool authorized;
        bool grid;
        uint32 ratedPowerW; // of the bound meter; 0 while none
        uint32 nonce; // signed withdrawals used so far
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
        Fail.check(checkNew(s, account, name));
        id = ++s.count;
        s.records[id] = Record({account: account, green: green, authorized: grid, grid: grid, ratedPowerW: 0, nonce: 0});
        s.names[id] = name;
        s.idOf[account] = id;
        emit IEnergyMarket.ParticipantRegistered(id, account, name, green, grid);
    }

    /// @notice Whether `account` may register as `name`: the encoded error, or empty.
    function checkNew(State storage s, address account, string calldata name) internal view returns (bytes memory) {
        if (account == address(0)) return Fail.with(IEnergyMarket.ZeroValue.selector);
        if (bytes(name).length == 0 || bytes(name).length > 64) return Fail.with(IEnergyMarket.InvalidName.selector);
        if (s.idOf[account] != 0) return Fail.with(IEnergyMarket.AlreadyRegistered.selector, uint160(account));
        if (s.count >= MAX_ID) return Fail.with(IEnergyMarket.TooManyParticipants.selector);
        return Fail.none();
    }

    /// @notice Register prosumers who signed their registration; a refused entry is skipped with
    /// `EntrySkipped` (subject: the account).
    function registerBatch(State storage s, IEnergyMarket.SignedRegistration[] calldata entries, bytes32 domainSeparator) external {
        for (uint256 i = 0; i < entries.length; i++) {
            IEnergyMarket.SignedRegistration calldata e = entries[i];
            bytes32 structHash = keccak256(abi.encode(Signatures.REGISTRATION_TYPEHASH, e.account, keccak256(bytes(e.name)), e.green));
            address signer = Signatures.signer(domainSeparator, structHash, e.r, e.vs);
            bytes memory err = signer != e.account ? Fail.with(IEnergyMarket.WrongSigner.selector, 0, uint160(signer)) : checkNew(s, e.account, e.name);
            if (err.length == 0) add(s, e.account, e.name, e.green, false);
            else emit IEnergyMarket.EntrySkipped(0, uint160(e.account), i, err);
        }
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

    /// @notice The record of an existing prosumer (not the grid), or revert.
    function prosumer(State storage s, uint32 id) internal view returns (Record storage r) {
        r = get(s, id);
        if (r.grid) revert IEnergyMarket.NotForGrid(id);
    }

    function view_(State storage s, uint32 id) internal view returns (IEnergyMarket.ParticipantView memory v) {
        Record storage r = get(s, id);
        v = IEnergyMarket.ParticipantView({id: id, account: r.account, name: s.names[id], green: r.green, authorized: r.authorized, grid: r.grid});
    }
}
