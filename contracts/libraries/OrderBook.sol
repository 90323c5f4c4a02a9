// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IEnergyMarket} from "../interfaces/IEnergyMarket.sol";
import {Fail} from "./Fail.sol";

/// @title Sealed bids and the four sorted books of each delivery interval.
/// @dev One bid per participant and interval, kept in a ring of four slots per participant (slot
/// `d % 4`, tagged with its interval): a new interval reuses the slot of `d - 4`, which must have been
/// settled, so a bid never costs a fresh storage slot. A slot holds first the commitment, then,
/// overwritten by the reveal, the packed bid.
/// Revealed bids are kept in four singly linked lists per interval (green sells, other sells, green
/// buys, other buys), sells by price ascending, buys by price descending, ties by lower participant ID.
/// Insertion starts from a hint computed off-chain (`hintFor`), so a reveal costs O(1) with a fresh
/// hint and O(n) at worst.
/// Slot layout, low to high bits: flags 8, interval 32, then for a commitment its top 216 bits, for a
/// bid: next 24, price 64, energy 32, remaining 32, proceeds in gwei 64.
library OrderBook {
    uint8 internal constant REVEALED = 1;
    uint8 internal constant BUY = 2;
    uint8 internal constant GREEN = 4;
    uint8 internal constant CLOSED = 8; // settled (grid bids only; others settle by cursor)
    uint8 internal constant SEALED = 16; // a commitment

    uint8 internal constant SELL_GREEN = 0;
    uint8 internal constant SELL_OTHER = 1;
    uint8 internal constant BUY_GREEN = 2;
    uint8 internal constant BUY_OTHER = 3;

    uint256 private constant HASH_MASK = ~uint256(type(uint40).max);

    struct Bid {
        uint32 energyWh;
        uint32 remainingWh;
        uint64 priceWeiPerKWh;
        uint64 proceedsGwei; // a seller's trade amounts, each rounded up to the gwei
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
        mapping(uint32 => bytes32[4]) slots; // participant => ring of commitments or bids
        mapping(uint32 => Book) books;
        mapping(uint32 => uint256) tradedValue; // sum of energyWh * priceWeiPerKWh over trades
    }

    // ------------------------------------------------------------ commit and reveal

    /// @notice The hash a bidder commits: bound to chain, market, interval and bidder.
    function commitmentOf(uint32 d, address bidder, IEnergyMarket.Side side, uint64 energyWh, uint64 priceWeiPerKWh, bytes32 salt)
        internal
        view
        returns (bytes32)
    {
        return keccak256(abi.encode(block.chainid, address(this), d, bidder, side, energyWh, priceWeiPerKWh, salt));
    }

    /// @notice The raw slot of `id` for interval `d` and the interval it holds (0 with the slot empty).
    function slotOf(State storage s, uint32 d, uint32 id) internal view returns (bytes32 slot, uint32 holds) {
        slot = s.slots[id][d & 3];
        holds = uint32(uint256(slot) >> 8);
    }

    /// @notice Whether a slot holding interval `holds` (of another interval than the one wanted) is
    /// still needed: a bid or commitment that has not been settled.
    function isOpen(bytes32 slot, uint32 holds, uint32 settleNext) internal pure returns (bool) {
        if (slot == bytes32(0) || uint256(slot) & CLOSED != 0) return false;
        return holds >= settleNext;
    }

    /// @notice Check a commitment for `d` against the slot (a replacement, a replay, a busy slot).
    /// @param replaces for a relayed commit, the commitment it replaces (zero: the slot must hold none)
    /// @param relayed whether `replaces` is enforced (direct commits may always replace a commitment)
    function checkCommit(State storage s, uint32 d, uint32 id, bytes32 commitment, bytes32 replaces, bool relayed, uint32 settleNext)
        internal
        view
        returns (bytes memory)
    {
        if (commitment == bytes32(0)) return Fail.with(IEnergyMarket.ZeroValue.selector);
        (bytes32 slot, uint32 holds) = slotOf(s, d, id);
        bool current = slot != bytes32(0) && holds == d;
        if (current && uint256(slot) & REVEALED != 0) return Fail.with(IEnergyMarket.AlreadyRevealed.selector, d, id);
        if (!current && isOpen(slot, holds, settleNext)) return Fail.with(IEnergyMarket.SettlementBehind.selector, id, holds);
        if (relayed) {
            bytes32 held = current ? slot & bytes32(HASH_MASK) : bytes32(0);
            if (held != replaces & bytes32(HASH_MASK)) return Fail.with(IEnergyMarket.NotReplacing.selector, d, id);
        }
        return Fail.none();
    }

    /// @notice Store (or replace) a commitment for `d`.
    function commit(State storage s, uint32 d, uint32 id, bytes32 commitment) internal {
        s.slots[id][d & 3] = bytes32((uint256(commitment) & HASH_MASK) | (uint256(d) << 8) | SEALED);
    }

    /// @notice Check a reveal against the stored commitment (the insertion then replaces it).
    function checkOpening(State storage s, uint32 d, uint32 id, bytes32 revealed) internal view returns (bytes memory) {
        (bytes32 slot, uint32 holds) = slotOf(s, d, id);
        if (slot == bytes32(0) || holds != d) return Fail.with(IEnergyMarket.NoCommitment.selector, d, id);
        if (uint256(slot) & REVEALED != 0) return Fail.with(IEnergyMarket.AlreadyRevealed.selector, d, id);
        if (uint256(slot) & HASH_MASK != uint256(revealed) & HASH_MASK) return Fail.with(IEnergyMarket.BadReveal.selector, d, id);
        return Fail.none();
    }

    /// @notice Whether `id` committed for `d` and never revealed (nor was settled).
    function isSealed(State storage s, uint32 d, uint32 id) internal view returns (bool) {
        (bytes32 slot, uint32 holds) = slotOf(s, d, id);
        return holds == d && uint256(slot) & (SEALED | CLOSED) == SEALED;
    }

    /// @notice Mark the slot of `d` closed (a settled grid bid, or a forfeited commitment).
    function close(State storage s, uint32 d, uint32 id) internal {
        bytes32[4] storage ring = s.slots[id];
        ring[d & 3] = ring[d & 3] | bytes32(uint256(CLOSED));
    }

    /// @notice The revealed bid of `id` for `d` (all zero when none).
    function bidOf(State storage s, uint32 d, uint32 id) internal view returns (Bid memory) {
        (bytes32 slot, uint32 holds) = slotOf(s, d, id);
        if (holds != d) return Bid(0, 0, 0, 0, 0, 0);
        return decode(slot);
    }

    function storeBid(State storage s, uint32 d, uint32 id, Bid memory bid) internal {
        s.slots[id][d & 3] = encode(bid, d);
    }

    // ------------------------------------------------------------ slot encoding

    function encode(Bid memory b, uint32 d) internal pure returns (bytes32) {
        return bytes32(
            uint256(b.flags) | (uint256(d) << 8) | (uint256(b.next) << 40) | (uint256(b.priceWeiPerKWh) << 64) | (uint256(b.energyWh) << 128)
                | (uint256(b.remainingWh) << 160) | (uint256(b.proceedsGwei) << 192)
        );
    }

    function decode(bytes32 slot) internal pure returns (Bid memory b) {
        uint256 v = uint256(slot);
        if (v & REVEALED == 0) return b;
        b.flags = uint8(v);
        b.next = uint24(v >> 40);
        b.priceWeiPerKWh = uint64(v >> 64);
        b.energyWh = uint32(v >> 128);
        b.remainingWh = uint32(v >> 160);
        b.proceedsGwei = uint64(v >> 192);
    }

    /// @notice What settlement reads of a revealed bid's slot: side, price, energy, unfilled energy and a
    /// seller's proceeds in wei (without building a Bid in memory).
    function fieldsOf(uint256 v) internal pure returns (bool buy, uint64 price, uint64 energyWh, uint64 remainingWh, uint256 proceedsWei) {
        buy = v & BUY != 0;
        price = uint64(v >> 64);
        energyWh = uint32(v >> 128);
        remainingWh = uint32(v >> 160);
        proceedsWei = uint256(uint64(v >> 192)) * 1 gwei;
    }

    /// @notice The packed word of a newly revealed bid of interval `d` (nothing filled, no link yet).
    function newBid(uint8 flags, uint32 d, uint64 priceWeiPerKWh, uint32 energyWh) internal pure returns (uint256) {
        return uint256(flags) | (uint256(d) << 8) | (uint256(priceWeiPerKWh) << 64) | (uint256(energyWh) << 128) | (uint256(energyWh) << 160);
    }

    /// @notice Insert a revealed bid (its packed word, from `newBid`) into its sorted book, replacing its
    /// commitment. Works on the packed words: a reveal reads the hint's slot and writes two.
    function insert(State storage s, uint32 d, uint32 id, uint256 word, uint32 hint) internal {
        uint8 list = listOf(uint8(word));
        uint32 prev = 0;
        uint256 prevWord;
        if (hint != 0 && hint != id) {
            uint256 h = uint256(s.slots[hint][d & 3]);
            if (h & REVEALED != 0 && uint32(h >> 8) == d && listOf(uint8(h)) == list && wordBefore(h, hint, word, id)) (prev, prevWord) = (hint, h);
        }
        uint32 cur = prev == 0 ? storedHeadOf(s.books[d], list) : linkOf(prevWord);
        while (cur != 0) {
            uint256 c = uint256(s.slots[cur][d & 3]);
            if (!wordBefore(c, cur, word, id)) break;
            (prev, prevWord) = (cur, c);
            cur = linkOf(c);
        }
        s.slots[id][d & 3] = bytes32(withLink(word, cur));
        if (prev == 0) setStoredHead(s.books[d], list, id);
        else s.slots[prev][d & 3] = bytes32(withLink(prevWord, id));
    }

    /// @dev `sortsBefore` on packed words.
    function wordBefore(uint256 a, uint32 aId, uint256 b, uint32 bId) private pure returns (bool) {
        uint64 pa = uint64(a >> 64);
        uint64 pb = uint64(b >> 64);
        if (pa != pb) return a & BUY != 0 ? pa > pb : pa < pb;
        return aId < bId;
    }

    function linkOf(uint256 word) private pure returns (uint32) {
        return uint24(word >> 40);
    }

    function withLink(uint256 word, uint32 next) private pure returns (uint256) {
        return (word & ~(uint256(type(uint24).max) << 40)) | (uint256(next) << 40);
    }

    function storedHeadOf(Book storage book, uint8 list) private view returns (uint32) {
        if (list == SELL_GREEN) return book.sellGreen;
        if (list == SELL_OTHER) return book.sellOther;
        if (list == BUY_GREEN) return book.buyGreen;
        return book.buyOther;
    }

    /// @notice The bid after which a new bid would sort, walking from the head (for off-chain use).
    function hintFor(State storage s, uint32 d, uint32 id, Bid memory bid) internal view returns (uint32 prev) {
        uint32 cur = headOf(s.books[d], listOf(bid.flags));
        while (cur != 0) {
            Bid memory c = bidOf(s, d, cur);
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

    /// @notice The reservation a buy bid still holds: its unfilled energy at its price, until clearing
    /// has released it (stage Done, or the Release stage has passed it).
    function reservationOf(State storage s, uint32 d, uint32 id) internal view returns (uint256) {
        Bid memory b = bidOf(s, d, id);
        if (b.flags & (REVEALED | BUY) != (REVEALED | BUY)) return 0;
        Book memory book = s.books[d];
        if (book.stage == IEnergyMarket.Stage.Done) return 0;
        if (book.stage == IEnergyMarket.Stage.Release && !inList(s, d, book, id, listOf(b.flags))) return 0;
        return costOf(b.remainingWh, b.priceWeiPerKWh);
    }

    /// @notice Money for `energyWh` at `priceWeiPerKWh`, rounded down (trades, reservations).
    /// Callers pass an energy below 2^64 and a price below 2^64: no overflow check.
    function costOf(uint256 energyWh, uint256 priceWeiPerKWh) internal pure returns (uint256) {
        unchecked {
            return (energyWh * priceWeiPerKWh) / 1000;
        }
    }

    /// @dev Whether `id` is still linked from the head of its list (O(n), views only).
    function inList(State storage s, uint32 d, Book memory book, uint32 id, uint8 list) private view returns (bool) {
        for (uint32 cur = headOf(book, list); cur != 0; cur = bidOf(s, d, cur).next) {
            if (cur == id) return true;
        }
        return false;
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
            closed: b.flags & CLOSED != 0,
            proceedsWei: uint256(b.proceedsGwei) * 1 gwei
        });
    }
}
