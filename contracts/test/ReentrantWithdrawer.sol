// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IEnergyMarket} from "../interfaces/IEnergyMarket.sol";

/// @title Attack mock: a participant whose receive() calls withdraw again.
contract ReentrantWithdrawer {
    IEnergyMarket public immutable market;
    uint256 public reentries;
    bytes public lastRevert;

    constructor(IEnergyMarket market_) {
        market = market_;
    }

    function register() external {
        market.register("attacker", false);
    }

    function depositAll() external payable {
        market.deposit{value: msg.value}();
    }

    function attack(uint256 amount) external {
        market.withdraw(amount);
    }

    receive() external payable {
        if (reentries == 0) {
            reentries = 1;
            try market.withdraw(msg.value) {} catch (bytes memory reason) {
                lastRevert = reason;
            }
        }
    }
}
