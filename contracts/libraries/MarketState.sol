// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Metering} from "./Metering.sol";
import {OrderBook} from "./OrderBook.sol";
import {Params} from "./Params.sol";
import {Participants} from "./Participants.sol";
import {Wallets} from "./Wallets.sol";

/// @title The market's whole state, one struct of the libraries' own states.
/// @dev Lets the linked libraries that work across concerns (trading, settlement, views) take one
/// storage pointer; each library still owns and changes only its own part.
library MarketState {
    struct Layout {
        Participants.State participants;
        Metering.State meters;
        Wallets.State wallets;
        OrderBook.State orders;
        Params.State params;
    }
}
