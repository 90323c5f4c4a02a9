// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IEnergyMarket} from "../interfaces/IEnergyMarket.sol";
import {Fail} from "./Fail.sol";

/// @title Market parameters over time, their bounds, and the amounts derived from them.
/// @dev Versions are appended in order of their first interval, and at most one version is pending
/// (first interval not yet in trading): scheduling again before it takes effect replaces it. So the
/// version of interval `d` is found walking back from the newest over at most `current + 2 - d`
/// versions: O(1) for the intervals being traded, delivered and settled, whatever the number of
/// versions scheduled over the market's life.
/// Every amount is `energy × price × ratio`, rounded down (Wh, wei per kWh, ppm).
library Params {
    uint32 internal constant PPM = 1_000_000;
    uint256 private constant PPM_PER_KWH = 1e9; // 1e6 ppm × 1000 Wh/kWh
    /// @dev Intervals of full-rate exposure the security covers: one is settled while the next is delivered.
    uint256 internal constant SECURITY_INTERVALS = 2;

    struct State {
        mapping(uint256 => IEnergyMarket.MarketParams) sets; // by version
        mapping(uint256 => uint32) from; // version => first interval
        uint32 count;
    }

    /// @notice Schedule `p` from `fromInterval` on; replaces the newest set if it is still pending.
    /// @return version the version `p` was stored as
    function schedule(State storage s, IEnergyMarket.MarketParams memory p, uint32 fromInterval, uint32 current)
        internal
        returns (uint32 version)
    {
        uint32 earliest = current + 2;
        if (fromInterval < earliest && s.count != 0) revert IEnergyMarket.ParamsNotInFuture(fromInterval, earliest);
        version = s.count;
        if (version != 0 && s.from[version - 1] >= earliest) version -= 1; // the pending set is replaced
        else s.count = version + 1;
        s.sets[version] = p;
        s.from[version] = fromInterval;
        emit IEnergyMarket.ParamsScheduled(fromInterval, version, p);
    }

    /// @notice The parameters in force for interval `d`.
    function at(State storage s, uint32 d) internal view returns (IEnergyMarket.MarketParams storage) {
        uint256 i = s.count - 1;
        while (s.from[i] > d) i--;
        return s.sets[i];
    }

    /// @notice Reverts unless `p` is within the documented bounds and the deployment's limits.
    function validate(IEnergyMarket.MarketParams memory p, IEnergyMarket.Limits memory l) internal pure {
        bool prices = p.floorPriceWeiPerKWh != 0 && p.floorPriceWeiPerKWh <= p.referencePriceWeiPerKWh
            && p.referencePriceWeiPerKWh <= p.capPriceWeiPerKWh && p.capPriceWeiPerKWh <= l.maxBandPriceWeiPerKWh
            && p.maxPriceWeiPerKWh != 0 && p.maxPriceWeiPerKWh <= l.maxPriceWeiPerKWh;
        bool ratios = p.shortRatioPpm > PPM && p.shortRatioPpm <= 2 * PPM && p.longRatioPpm <= PPM
            && p.penaltyRatioPpm <= p.longRatioPpm && p.penaltyRatioPpm <= PPM / 2 && p.rewardRatioPpm <= PPM / 10;
        bool money = p.marginWei <= l.maxMarginWei && p.forfeitWei <= p.marginWei && p.maxEnergyWh != 0;
        if (!(prices && ratios && money)) revert IEnergyMarket.InvalidParams();
    }

    // ------------------------------------------------------------ derived amounts

    /// @notice `energyWh × price × ratio`, rounded down. Every caller passes an energy below 2^64, a
    /// price below 2^64 and a ratio below 2^33, so the product stays below 2^161: no overflow check.
    function valueOf(uint256 energyWh, uint256 priceWeiPerKWh, uint256 ratioPpm) internal pure returns (uint256) {
        unchecked {
            return (energyWh * priceWeiPerKWh * ratioPpm) / PPM_PER_KWH;
        }
    }

    /// @notice The energy a meter of `ratedPowerW` can measure in one interval.
    function ratedEnergyWh(uint256 ratedPowerW, uint256 intervalSeconds) internal pure returns (uint256) {
        return (ratedPowerW * intervalSeconds) / 3600;
    }

    /// @notice What a bound meter keeps in the wallet: two intervals of its rated energy, short at the cap
    /// price with the penalty on top, the most its consumption can cost before it is settled.
    function security(IEnergyMarket.MarketParams memory p, uint256 ratedWh) internal pure returns (uint256) {
        return SECURITY_INTERVALS * valueOf(ratedWh, p.capPriceWeiPerKWh, uint256(p.shortRatioPpm) + p.penaltyRatioPpm);
    }

    /// @notice The forfeit of a commit never validly revealed: one interval of the meter's rated energy at
    /// the cap price plus its penalty, more than a bid (at most that energy) can gain by being withheld.
    function forfeit(IEnergyMarket.MarketParams memory p, uint256 ratedWh) internal pure returns (uint256) {
        uint256 byRating = valueOf(ratedWh, p.capPriceWeiPerKWh, uint256(PPM) + p.penaltyRatioPpm);
        return byRating > p.forfeitWei ? byRating : p.forfeitWei;
    }

    /// @notice What a sell bid locks from its reveal until it is settled, besides its proceeds: the most
    /// that not delivering can cost beyond them (short at the cap price, with the penalty).
    function saleCollateral(IEnergyMarket.MarketParams memory p, uint256 energyWh) internal pure returns (uint256) {
        return valueOf(energyWh, p.capPriceWeiPerKWh, uint256(p.shortRatioPpm) + p.penaltyRatioPpm);
    }

    /// @notice The price A that balancing and incentives use: the mean trade price within the band
    /// [floor, cap], or the reference price when the interval traded less than the minimum volume.
    function balancingPrice(IEnergyMarket.MarketParams memory p, uint256 tradedWh, uint256 tradedValue) internal pure returns (uint256) {
        if (tradedWh == 0 || tradedWh < p.minVolumeWh) return p.referencePriceWeiPerKWh;
        uint256 mean = tradedValue / tradedWh;
        if (mean < p.floorPriceWeiPerKWh) return p.floorPriceWeiPerKWh;
        if (mean > p.capPriceWeiPerKWh) return p.capPriceWeiPerKWh;
        return mean;
    }

    /// @notice Checks a bid's quantity and price; the encoded error, or empty.
    function checkBid(IEnergyMarket.MarketParams memory p, uint256 energyWh, uint256 priceWeiPerKWh, uint256 ratedWh)
        internal
        pure
        returns (bytes memory)
    {
        if (energyWh == 0) return Fail.with(IEnergyMarket.ZeroQuantity.selector);
        uint256 maxWh = ratedWh != 0 && ratedWh < p.maxEnergyWh ? ratedWh : p.maxEnergyWh;
        if (energyWh > maxWh) return Fail.with(IEnergyMarket.QuantityTooLarge.selector, energyWh, maxWh);
        if (priceWeiPerKWh == 0) return Fail.with(IEnergyMarket.ZeroPrice.selector);
        if (priceWeiPerKWh > p.maxPriceWeiPerKWh) return Fail.with(IEnergyMarket.PriceTooHigh.selector, priceWeiPerKWh, p.maxPriceWeiPerKWh);
        return Fail.none();
    }
}
