// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Custom errors as values.
/// @dev Checks that batches share with single calls return the encoded custom error instead of
/// reverting: a single call reverts with it (`check`), a batch skips the entry and logs it. Every
/// argument of the market's errors is an unsigned integer, an address or an enum, so each encodes as
/// one uint256 word.
library Fail {
    /// @notice No error: the empty bytes every unassigned `bytes memory` is (no allocation, unlike "").
    function none() internal pure returns (bytes memory empty) {}

    function with(bytes4 selector) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(selector);
    }

    function with(bytes4 selector, uint256 a) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(selector, a);
    }

    function with(bytes4 selector, uint256 a, uint256 b) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(selector, a, b);
    }

    function with(bytes4 selector, uint256 a, uint256 b, uint256 c) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(selector, a, b, c);
    }

    /// @notice Revert with `err` unless it is empty.
    function check(bytes memory err) internal pure {
        if (err.length != 0) {
            assembly ("memory-safe") {
                revert(add(err, 32), mload(err))
            }
        }
    }
}
