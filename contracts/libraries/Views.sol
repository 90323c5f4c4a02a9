// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IEnergyMarket} from "../interfaces/IEnergyMarket.sol";
import {Clock} from "./Clock.sol";
import {MarketState} from "./MarketState.sol";
import {OrderBook} from "./OrderBook.sol";
import {Params} from "./Params.sol";
import {Wallets} from "./Wallets.sol";

/// @title Read-only summaries the market serves.
library Views {
    using OrderBook for OrderBook.State;
    using Params for Params.State;
    using Wallets for Wallets.State;

    /// @notice A participant's wallet; `security` and `keep` (what a withdrawal leaves) come from the market.
    function wallet(MarketState.Layout storage m, uint32 id, uint256 security, uint256 keep) internal view returns (IEnergyMarket.WalletView memory) {
        Wallets.Account memory a = m.wallets.accounts[id];
        Wallets.Totals memory t = m.wallets.totals[id];
        uint256 reserved;
        for (uint32 k = 0; k < 4; k++) {
            (, uint32 holds) = m.orders.slotOf(k, id);
            reserved += m.orders.reservationOf(holds, id);
        }
        return IEnergyMarket.WalletView({
            balance: a.balance,
            reserved: reserved,
            locked: a.locked,
            security: security,
            owed: t.owed,
            due: t.due,
            withdrawable: m.wallets.free(id, keep)
        });
    }

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
