// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IEnergyMarket} from "../interfaces/IEnergyMarket.sol";

/// @title Sealed bids and the four sorted books of each delivery interval.
/// @dev One bid per participant and interval, stored under its participant ID. Revealed bids are kept
/// in four singly linked lists (green sells, other sells, green buys, other buys), sells by price
/// ascending, buys by price descending, ties by lower participant ID. Insertion starts from a hint
/// computed off-chain (`hintFor`), so a reveal costs O(1) with a fresh hint and O(n) at worst.
/// A participant's slot of an interval holds first its commitment, then its revealed bid: the reveal
/// overwrites the commitment instead of filling a fresh slot (20,000 gas, less the 4,800 refund
/// that deleting the commitment would earn).
/// A commitment is stored with its lowest byte cleared; a bid always has REVEALED in its lowest byte.
library OrderBook {
    uint8 internal constant REVEALED = 1;
    uint8 internal constant BUY = 2;
    uint8 internal constant GREEN = 4;
    uint8 internal constant CLOSED = 8; // settled (grid bids only; others settle by cursor)

    uint8 internal constant SELL_GREEN = 0;
    uint8 internal constant SELL_OTHER = 1;
    uint8 internal constant BUY_GREEN = 2;
    uint8 internal constant BUY_OTHER = 3;

    struct Bid {
        uint48 energyWh;
        uint48 remainingWh;
        uint96 priceWeiPerKWh;
        uint32 next;
        uint8 flags;
    }

    /// @notice Book heads and clearing progress of one interval, one storage slot.
    struct Book {
        uint32 sellGreen;
        uint32 sellOther;
        uint32 buyGreen;
        uint32 buyOther;
        IEnergyMarket.Stage stage;
        uint32 trades;
        uint64 tradedWh;
    }

    struct State {
        mapping(uint32 => mapping(uint32 => bytes32)) slots; // interval => participant => commitment or bid
        mapping(uint32 => Book) books;
        mapping(uint32 => uint256) tradedValue; // sum of energyWh * priceWeiPerKWh over trades
    }

    // ------------------------------------------------------------ commit and reveal

    /// @notice The hash a bidder commits: bound to chain, market, interval and bidder.
    function commitmentOf(
        uint32 d,
        address bidder,
        IEnergyMarket.Side side,
        uint64 energyWh,
        uint128 priceWeiPerKWh,
        bytes32 salt
    ) internal view returns (bytes32) {
        return keccak256(abi.encode(block.chainid, address(this), d, bidder, side, energyWh, priceWeiPerKWh, salt));
    }

    /// @notice Store (or replace) a commitment.
    /// @return fresh whether this is the participant's first commitment for `d`
    function commit(State storage s, uint32 d, uint32 id, bytes32 commitment) internal returns (bool fresh) {
        if (commitment == bytes32(0)) revert IEnergyMarket.ZeroValue();
        bytes32 slot = s.slots[d][id];
        if (isBid(slot)) revert IEnergyMarket.AlreadyRevealed(d, id);
        s.slots[d][id] = sealOf(commitment);
        return slot == bytes32(0);
    }

    /// @notice Check a reveal against the stored commitment (the insertion then replaces it).
    function openCommitment(State storage s, uint32 d, uint32 id, bytes32 revealed) internal view {
        bytes32 slot = s.slots[d][id];
        if (isBid(slot)) revert IEnergyMarket.AlreadyRevealed(d, id);
        if (slot == bytes32(0)) revert IEnergyMarket.NoCommitment(d, id);
        if (slot != sealOf(revealed)) revert IEnergyMarket.BadReveal(d, id);
    }

    /// @notice Whether `id` committed for `d` and never revealed.
    function isSealed(State storage s, uint32 d, uint32 id) internal view returns (bool) {
        bytes32 slot = s.slots[d][id];
        return slot != bytes32(0) && !isBid(slot);
    }

    /// @notice Forget an unrevealed commitment.
    function dropCommitment(State storage s, uint32 d, uint32 id) internal {
        delete s.slots[d][id];
    }

    /// @notice The revealed bid of `id` for `d` (all zero when none).
    function bidOf(State storage s, uint32 d, uint32 id) internal view returns (Bid memory) {
        return decode(s.slots[d][id]);
    }

    function storeBid(State storage s, uint32 d, uint32 id, Bid memory bid) internal {
        s.slots[d][id] = encode(bid);
    }

    // ------------------------------------------------------------ slot encoding

    function sealOf(bytes32 commitment) internal pure returns (bytes32) {
        return commitment & ~bytes32(uint256(0xff));
    }

    function isBid(bytes32 slot) internal pure returns (bool) {
        return uint256(slot) & REVEALED != 0;
    }

    /// @dev Layout, low to high bits: flags 8, next 32, price 96, remaining 48, energy 48.
    function encode(Bid memory b) internal pure returns (bytes32) {
        return bytes32(
            uint256(b.flags) | (uint256(b.next) << 8) | (uint256(b.priceWeiPerKWh) << 40) | (uint256(b.remainingWh) << 136)
                | (uint256(b.energyWh) << 184)
        );
    }

    function decode(bytes32 slot) internal pure returns (Bid memory b) {
        if (!isBid(slot)) return b;
        uint256 v = uint256(slot);
        b.flags = uint8(v);
        b.next = uint32(v >> 8);
        b.priceWeiPerKWh = uint96(v >> 40);
        b.remainingWh = uint48(v >> 136);
        b.energyWh = uint48(v >> 184);
    }

    /// @notice Insert a revealed bid into its sorted book (replacing its commitment).
    function insert(State storage s, uint32 d, uint32 id, Bid memory bid, uint32 hint) internal {
        mapping(uint32 => bytes32) storage slots = s.slots[d];
        Book storage book = s.books[d];
        uint8 list = listOf(bid.flags);
        uint32 prev = 0;
        Bid memory prevBid;
        if (hint != 0 && hint != id) {
            Bid memory h = decode(slots[hint]);
            if (h.flags & REVEALED != 0 && listOf(h.flags) == list && sortsBefore(h, hint, bid, id)) (prev, prevBid) = (hint, h);
        }
        uint32 cur = prev == 0 ? headOf(book, list) : prevBid.next;
        while (cur != 0) {
            Bid memory c = decode(slots[cur]);
            if (!sortsBefore(c, cur, bid, id)) break;
            (prev, prevBid) = (cur, c);
            cur = c.next;
        }
        bid.next = cur;
        slots[id] = encode(bid);
        if (prev == 0) {
            setStoredHead(book, list, id);
        } else {
            prevBid.next = id;
            slots[prev] = encode(prevBid);
        }
    }

    /// @notice The bid after which a new bid would sort, walking from the head (for off-chain use).
    function hintFor(State storage s, uint32 d, uint32 id, Bid memory bid) internal view returns (uint32 prev) {
        mapping(uint32 => bytes32) storage slots = s.slots[d];
        uint32 cur = headOf(s.books[d], listOf(bid.flags));
        while (cur != 0) {
            Bid memory c = decode(slots[cur]);
            if (!sortsBefore(c, cur, bid, id)) break;
            prev = cur;
            cur = c.next;
        }
    }

    // ------------------------------------------------------------ ordering

    /// @notice Book index of a bid: side, then green or not.
    function listOf(uint8 flags) internal pure returns (uint8) {
        return (flags & BUY != 0 ? 2 : 0) + (flags & GREEN != 0 ? 0 : 1);
    }

    /// @notice Whether bid `a` comes before bid `b` of the same side: better price, then lower ID.
    function sortsBefore(Bid memory a, uint32 aId, Bid memory b, uint32 bId) internal pure returns (bool) {
        if (a.priceWeiPerKWh != b.priceWeiPerKWh) {
            return a.flags & BUY != 0 ? a.priceWeiPerKWh > b.priceWeiPerKWh : a.priceWeiPerKWh < b.priceWeiPerKWh;
        }
        return aId < bId;
    }

    function headOf(Book memory book, uint8 list) internal pure returns (uint32) {
        if (list == SELL_GREEN) return book.sellGreen;
        if (list == SELL_OTHER) return book.sellOther;
        if (list == BUY_GREEN) return book.buyGreen;
        return book.buyOther;
    }

    function setHead(Book memory book, uint8 list, uint32 id) internal pure {
        if (list == SELL_GREEN) book.sellGreen = id;
        else if (list == SELL_OTHER) book.sellOther = id;
        else if (list == BUY_GREEN) book.buyGreen = id;
        else book.buyOther = id;
    }

    function setStoredHead(Book storage book, uint8 list, uint32 id) internal {
        if (list == SELL_GREEN) book.sellGreen = id;
        else if (list == SELL_OTHER) book.sellOther = id;
        else if (list == BUY_GREEN) book.buyGreen = id;
        else book.buyOther = id;
    }

    /// @notice Funds a buy of `energyWh` at `priceWeiPerKWh` needs (rounded down, as trades are).
    function costOf(uint256 energyWh, uint256 priceWeiPerKWh) internal pure returns (uint256) {
        return (energyWh * priceWeiPerKWh) / 1000;
    }

    /// @notice Average trade price of an interval, or `referencePrice` without trades.
    function averagePrice(State storage s, uint32 d, uint256 referencePrice) internal view returns (uint256) {
        uint64 traded = s.books[d].tradedWh;
        return traded == 0 ? referencePrice : s.tradedValue[d] / traded;
    }

    function view_(State storage s, uint32 d, uint32 id) internal view returns (IEnergyMarket.BidView memory v) {
        Bid memory b = bidOf(s, d, id);
        v = IEnergyMarket.BidView({
            committed: isSealed(s, d, id),
            revealed: b.flags & REVEALED != 0,
            side: b.flags & BUY != 0 ? IEnergyMarket.Side.Buy : IEnergyMarket.Side.Sell,
            green: b.flags & GREEN != 0,
            energyWh: b.energyWh,
            remainingWh: b.remainingWh,
            priceWeiPerKWh: b.priceWeiPerKWh,
            next: b.next,
            closed: b.flags & CLOSED != 0
        });
    }
}
