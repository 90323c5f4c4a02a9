// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

/// @title EIP-712 messages that prosumers and meters sign off-chain, so a relayer can carry them.
/// @dev The domain is the market's (name "EnergyMarket", version "1", chain id, market address), so a
/// message for another chain or market recovers another signer and is refused. Signatures are compact
/// (EIP-2098: r and vs); a malleable (high-s) signature recovers no signer.
library Signatures {
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant NAME_HASH = keccak256("EnergyMarket");
    bytes32 internal constant VERSION_HASH = keccak256("1");

    /// @dev A prosumer's sealed bid for an interval; `replaces` is the commitment it replaces (zero: none).
    bytes32 internal constant COMMIT_TYPEHASH = keccak256("Commit(uint32 participant,uint32 interval,bytes32 commitment,bytes32 replaces)");
    /// @dev A meter's registers at the end of an interval.
    bytes32 internal constant READING_TYPEHASH = keccak256("Reading(uint64 meterNumber,uint32 interval,uint64 importWh,uint64 exportWh)");
    /// @dev A prosumer's registration.
    bytes32 internal constant REGISTRATION_TYPEHASH = keccak256("Registration(address account,string name,bool green)");
    /// @dev A withdrawal to the prosumer's own account; `nonce` counts its signed withdrawals.
    bytes32 internal constant WITHDRAWAL_TYPEHASH = keccak256("Withdrawal(uint32 participant,uint256 amount,uint32 nonce)");
    /// @dev A prosumer's consent to a meter proposal.
    bytes32 internal constant ACCEPTANCE_TYPEHASH = keccak256("MeterAcceptance(uint32 participant,bytes32 proposal)");

    /// @notice The market's domain separator.
    function domain() internal view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }

    /// @notice The signer of the typed message `structHash` in `domainSeparator`, or zero if none.
    function signer(bytes32 domainSeparator, bytes32 structHash, bytes32 r, bytes32 vs) internal pure returns (address who) {
        (who,,) = ECDSA.tryRecover(MessageHashUtils.toTypedDataHash(domainSeparator, structHash), r, vs);
    }
}
