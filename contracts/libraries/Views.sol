// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IEnergyMarket} from "../interfaces/IEnergyMarket.sol";
import {Clock} from "./Clock.sol";
import {MarketState} from "./MarketState.sol";
import {OrderBook} from "./OrderBook.sol";
import {Params} from "./Params.sol";

/// @title Read-only summaries the market serves.
library Views {
    using OrderBook for OrderBook.State;
    using Params for Params.State;

    /// @notice An interval's timing and results (the phase is the market's to fill in).
    function interval(MarketState.Layout storage m, IEnergyMarket.Schedule memory s, uint32 d) internal view returns (IEnergyMarket.IntervalView memory) {
        OrderBook.Book memory book = m.orders.books[d];
        IEnergyMarket.MarketParams memory p = m.params.at(d);
        uint256 value = m.orders.tradedValue[d];
        return IEnergyMarket.IntervalView({
            phase: IEnergyMarket.Phase.Upcoming,
            stage: book.stage,
            trades: book.trades,
            tradedWh: book.tradedWh,
            averagePriceWeiPerKWh: book.tradedWh == 0 ? p.referencePriceWeiPerKWh : value / book.tradedWh,
            balancingPriceWeiPerKWh: Params.balancingPrice(p, book.tradedWh, value),
            commitStart: Clock.commitStart(s, d),
            revealStart: Clock.revealStart(s, d),
            revealEnd: Clock.revealEnd(s, d),
            settleStart: Clock.settleStart(s, d)
        });
    }
}
