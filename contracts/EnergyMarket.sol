// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IEnergyMarket} from "./interfaces/IEnergyMarket.sol";
import {Clearing} from "./libraries/Clearing.sol";
import {Clock} from "./libraries/Clock.sol";
import {Metering} from "./libraries/Metering.sol";
import {OrderBook} from "./libraries/OrderBook.sol";
import {Participants} from "./libraries/Participants.sol";
import {Settlement} from "./libraries/Settlement.sol";
import {Wallets} from "./libraries/Wallets.sol";

/// @title EnergyMarket
/// @notice The distribution-network retail electricity market of Han Dong et al. (2019).
/// @dev Thin: checks access and phase, calls the library that owns the state, emits. Phases come from
/// block time (`Clock`); clearing and settlement are permissionless once their time has come.
contract EnergyMarket is IEnergyMarket {
    using Participants for Participants.State;
    using Metering for Metering.State;
    using Wallets for Wallets.State;
    using OrderBook for OrderBook.State;
    using Settlement for Settlement.State;

    uint64 private immutable START_TIME;
    uint32 private immutable INTERVAL_SECONDS;
    uint32 private immutable COMMIT_SECONDS;
    uint32 private immutable REVEAL_SECONDS;
    uint32 private immutable SETTLE_OFFSET_SECONDS;
    uint32 private immutable READING_GRACE_SECONDS;

    /// @inheritdoc IEnergyMarket
    address public operator;
    uint32 private _paramsCount; // parameter sets scheduled so far (one slot with the operator)
    uint32 private _newestParamsFrom; // first interval of the newest set
    bool private _entered;

    Participants.State private _participants;
    Metering.State private _meters;
    Wallets.State private _wallets;
    OrderBook.State private _orders;
    Settlement.State private _settlement;
    mapping(uint256 => MarketParams) private _params; // by version
    mapping(uint256 => uint32) private _paramsFrom; // version => first interval

    modifier onlyOperator() {
        if (msg.sender != operator) revert NotOperator(msg.sender);
        _;
    }

    modifier nonReentrant() {
        if (_entered) revert Reentrancy();
        _entered = true;
        _;
        _entered = false;
    }

    /// @param s timing; `startTime` 0 means the deployment block's time
    /// @param params parameters from interval 0 on
    constructor(Schedule memory s, MarketParams memory params) {
        if (s.startTime == 0) s.startTime = uint64(block.timestamp);
        Clock.validate(s);
        START_TIME = s.startTime;
        INTERVAL_SECONDS = s.intervalSeconds;
        COMMIT_SECONDS = s.commitSeconds;
        REVEAL_SECONDS = s.revealSeconds;
        SETTLE_OFFSET_SECONDS = s.settleOffsetSeconds;
        READING_GRACE_SECONDS = s.readingGraceSeconds;
        operator = msg.sender;
        emit OperatorChanged(address(0), msg.sender);
        _pushParams(params, 0);
    }

    // ------------------------------------------------------------------ participants and meters

    /// @inheritdoc IEnergyMarket
    function register(string calldata name, bool green) external returns (uint32) {
        return _participants.add(msg.sender, name, green, false);
    }

    /// @inheritdoc IEnergyMarket
    function registerGrid(address account, string calldata name) external onlyOperator returns (uint32 id) {
        if (_participants.gridId != 0) revert GridAlreadyRegistered(_participants.gridId);
        id = _participants.add(account, name, false, true);
        _participants.gridId = id;
    }

    /// @inheritdoc IEnergyMarket
    function authorize(uint32 id, bool allowed) external onlyOperator {
        Participants.Record storage r = _participants.get(id);
        if (r.grid) revert NotForGrid(id);
        r.authorized = allowed;
        emit AuthorizationChanged(id, allowed);
    }

    /// @inheritdoc IEnergyMarket
    function bindMeter(uint32 participantId, uint64 meterNumber, address meterAccount, uint32 ratedPowerW) external onlyOperator {
        Participants.Record storage r = _participants.get(participantId);
        if (r.grid) revert NotForGrid(participantId);
        (uint32 lostA, uint32 lostB) = _meters.bind(participantId, meterNumber, meterAccount, ratedPowerW);
        if (lostA != 0) _participants.records[lostA].metered = false;
        if (lostB != 0) _participants.records[lostB].metered = false;
        r.metered = true;
        _settlement.start(participantId, currentInterval() + 1);
    }

    /// @inheritdoc IEnergyMarket
    function postReading(uint64 meterNumber, uint32 interval, uint64 importWh, uint64 exportWh) external {
        _meters.post(msg.sender, meterNumber, interval, importWh, exportWh, currentInterval(), INTERVAL_SECONDS);
    }

    // ------------------------------------------------------------------ wallets

    /// @inheritdoc IEnergyMarket
    function deposit() external payable {
        uint32 id = _participants.idOfRegistered(msg.sender);
        if (msg.value == 0) revert ZeroAmount();
        _wallets.credit(id, msg.value);
        emit Deposited(id, msg.value);
        if (_wallets.totals[id].owed != 0) {
            _wallets.collect(id, _participants.gridId);
            _wallets.collect(id, Wallets.POOL);
        }
    }

    /// @inheritdoc IEnergyMarket
    function withdraw(uint256 amount) external nonReentrant {
        uint32 id = _participants.idOfRegistered(msg.sender);
        if (amount == 0) revert ZeroAmount();
        _wallets.withdraw(id, amount, _lockedMargin(id));
        emit Withdrawn(id, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    /// @inheritdoc IEnergyMarket
    function fundPool() external payable {
        if (msg.value == 0) revert ZeroAmount();
        _wallets.credit(Wallets.POOL, msg.value);
        emit PoolFunded(msg.sender, msg.value);
    }

    /// @inheritdoc IEnergyMarket
    function collect(uint32 debtor, uint32 creditor) external {
        if (_wallets.collect(debtor, creditor) == 0) revert NothingOwed(debtor, creditor);
    }

    // ------------------------------------------------------------------ bids, clearing, settlement

    /// @inheritdoc IEnergyMarket
    function commitBid(uint32 interval, bytes32 commitment) external {
        uint32 id = _participants.idOfRegistered(msg.sender);
        Participants.Record storage r = _participants.requireAuthorized(id);
        _requireTradingPhase(interval, Phase.Commit);
        if (!r.grid && !r.metered) revert NoMeterBound(id);
        uint256 owed = _wallets.totals[id].owed;
        if (owed != 0) revert HasDebt(id, owed);
        // The forfeit of a commit never revealed is paid at settlement from the margin, which stays
        // locked in the wallet from now until this interval is settled.
        _wallets.requireBalance(id, _params[_paramsIndex(interval)].forfeitWei);
        if (_orders.commit(interval, id, commitment)) _settlement.noteBid(id, interval);
        emit BidCommitted(interval, id, commitment);
    }

    /// @inheritdoc IEnergyMarket
    function revealBid(uint32 interval, Side side, uint64 energyWh, uint128 priceWeiPerKWh, bytes32 salt, uint32 hintPrevId) external {
        uint32 id = _participants.idOfRegistered(msg.sender);
        Participants.Record storage r = _participants.requireAuthorized(id);
        _requireTradingPhase(interval, Phase.Reveal);
        _orders.openCommitment(interval, id, OrderBook.commitmentOf(interval, msg.sender, side, energyWh, priceWeiPerKWh, salt));
        MarketParams storage p = _params[_paramsIndex(interval)];
        _checkBid(energyWh, priceWeiPerKWh, p);
        if (side == Side.Buy) {
            _wallets.reserve(id, OrderBook.costOf(energyWh, priceWeiPerKWh), p.marginWei);
        } else {
            _wallets.requireBalance(id, p.marginWei);
        }
        uint8 flags = OrderBook.REVEALED | (side == Side.Buy ? OrderBook.BUY : 0) | (r.green ? OrderBook.GREEN : 0);
        OrderBook.Bid memory bid = OrderBook.Bid({
            energyWh: uint48(energyWh),
            remainingWh: uint48(energyWh),
            priceWeiPerKWh: uint96(priceWeiPerKWh),
            next: 0,
            flags: flags
        });
        _orders.insert(interval, id, bid, hintPrevId);
        emit BidRevealed(interval, id, side, r.green, energyWh, priceWeiPerKWh);
    }

    /// @inheritdoc IEnergyMarket
    function clear(uint32 interval, uint256 maxSteps) external returns (bool done) {
        if (maxSteps == 0) revert ZeroSteps();
        Phase phase = _phase(interval);
        if (phase != Phase.Clearing) revert WrongPhase(interval, phase);
        done = Clearing.run(_orders, _wallets, interval, maxSteps);
    }

    /// @inheritdoc IEnergyMarket
    function settle(uint32 interval, uint32[] calldata ids) external {
        Phase phase = _phase(interval);
        if (phase != Phase.Settlement) revert WrongPhase(interval, phase);
        uint32 grid = _participants.gridId;
        if (grid == 0) revert GridNotRegistered();
        MarketParams memory p = paramsAt(interval);
        Settlement.Context memory ctx = Settlement.Context({
            d: interval,
            gridId: grid,
            graceOver: block.timestamp >= uint256(Clock.settleStart(_schedule(), interval)) + READING_GRACE_SECONDS,
            averagePrice: _orders.averagePrice(interval, p.referencePriceWeiPerKWh),
            params: p
        });
        _settlement.settleAll(_meters, _orders, _wallets, ctx, ids);
    }

    // ------------------------------------------------------------------ operator

    /// @inheritdoc IEnergyMarket
    function scheduleParams(MarketParams calldata params, uint32 fromInterval) external onlyOperator {
        uint32 earliest = currentInterval() + 2;
        uint32 last = _newestParamsFrom;
        if (last > earliest) earliest = last;
        if (fromInterval < earliest) revert ParamsNotInFuture(fromInterval, earliest);
        if (fromInterval == last) _paramsCount -= 1; // replaces the pending set
        _pushParams(params, fromInterval);
    }

    /// @inheritdoc IEnergyMarket
    function transferOperator(address next) external onlyOperator {
        if (next == address(0)) revert ZeroValue();
        emit OperatorChanged(operator, next);
        operator = next;
    }

    // ------------------------------------------------------------------ queries

    /// @inheritdoc IEnergyMarket
    function schedule() external view returns (uint64, uint32, uint32, uint32, uint32, uint32) {
        return (START_TIME, INTERVAL_SECONDS, COMMIT_SECONDS, REVEAL_SECONDS, SETTLE_OFFSET_SECONDS, READING_GRACE_SECONDS);
    }

    /// @inheritdoc IEnergyMarket
    function currentInterval() public view returns (uint32) {
        return Clock.intervalAt(_schedule(), block.timestamp);
    }

    /// @inheritdoc IEnergyMarket
    function paramsAt(uint32 interval) public view returns (MarketParams memory) {
        return _params[_paramsIndex(interval)];
    }

    /// @inheritdoc IEnergyMarket
    function participantCount() external view returns (uint32) {
        return _participants.count;
    }

    /// @inheritdoc IEnergyMarket
    function gridId() external view returns (uint32) {
        return _participants.gridId;
    }

    /// @inheritdoc IEnergyMarket
    function idOf(address account) external view returns (uint32) {
        return _participants.idOf[account];
    }

    /// @inheritdoc IEnergyMarket
    function participantOfMeter(address meterAccount) external view returns (uint32) {
        return _meters.byAccount[meterAccount];
    }

    /// @inheritdoc IEnergyMarket
    function participant(uint32 id) external view returns (ParticipantView memory) {
        return _participants.view_(id);
    }

    /// @inheritdoc IEnergyMarket
    function walletOf(uint32 id) public view returns (WalletView memory) {
        Wallets.Account memory a = _wallets.accounts[id];
        return WalletView({
            balance: a.balance,
            reserved: a.reserved,
            owed: _wallets.totals[id].owed,
            due: _wallets.totals[id].due,
            withdrawable: _wallets.withdrawable(id, _lockedMargin(id))
        });
    }

    /// @inheritdoc IEnergyMarket
    function pool() external view returns (uint256 balance, uint256 owed) {
        return (_wallets.accounts[Wallets.POOL].balance, _wallets.totals[Wallets.POOL].owed);
    }

    /// @inheritdoc IEnergyMarket
    function debtOf(uint32 debtor, uint32 creditor) external view returns (uint256) {
        return _wallets.debts[debtor][creditor];
    }

    /// @inheritdoc IEnergyMarket
    function meterOf(uint32 id) public view returns (MeterView memory) {
        return _meters.view_(id);
    }

    /// @inheritdoc IEnergyMarket
    function readingOf(uint32 participantId, uint32 interval) external view returns (bool posted, uint64 importWh, uint64 exportWh) {
        Metering.Reading memory r = _meters.readings[participantId][interval];
        return (r.posted, r.importWh, r.exportWh);
    }

    /// @inheritdoc IEnergyMarket
    function settlementOf(uint32 id) public view returns (SettlementView memory) {
        return _settlement.view_(id);
    }

    /// @inheritdoc IEnergyMarket
    function bidOf(uint32 interval, uint32 id) external view returns (BidView memory) {
        return _orders.view_(interval, id);
    }

    /// @inheritdoc IEnergyMarket
    function bookHead(uint32 interval, Side side, bool green) external view returns (uint32) {
        uint8 flags = (side == Side.Buy ? OrderBook.BUY : 0) | (green ? OrderBook.GREEN : 0);
        return OrderBook.headOf(_orders.books[interval], OrderBook.listOf(flags));
    }

    /// @inheritdoc IEnergyMarket
    function revealHint(uint32 interval, uint32 id, Side side, bool green, uint128 priceWeiPerKWh) external view returns (uint32) {
        uint8 flags = OrderBook.REVEALED | (side == Side.Buy ? OrderBook.BUY : 0) | (green ? OrderBook.GREEN : 0);
        OrderBook.Bid memory bid = OrderBook.Bid({energyWh: 0, remainingWh: 0, priceWeiPerKWh: uint96(priceWeiPerKWh), next: 0, flags: flags});
        return _orders.hintFor(interval, id, bid);
    }

    /// @inheritdoc IEnergyMarket
    function intervalOf(uint32 interval) external view returns (IntervalView memory v) {
        Schedule memory s = _schedule();
        OrderBook.Book memory book = _orders.books[interval];
        v = IntervalView({
            phase: _phase(interval),
            stage: book.stage,
            trades: book.trades,
            tradedWh: book.tradedWh,
            averagePriceWeiPerKWh: _orders.averagePrice(interval, paramsAt(interval).referencePriceWeiPerKWh),
            commitStart: Clock.commitStart(s, interval),
            revealStart: Clock.revealStart(s, interval),
            revealEnd: Clock.revealEnd(s, interval),
            settleStart: Clock.settleStart(s, interval)
        });
    }

    /// @inheritdoc IEnergyMarket
    function bidCommitment(uint32 interval, address bidder, Side side, uint64 energyWh, uint128 priceWeiPerKWh, bytes32 salt)
        external
        view
        returns (bytes32)
    {
        return OrderBook.commitmentOf(interval, bidder, side, energyWh, priceWeiPerKWh, salt);
    }

    /// @inheritdoc IEnergyMarket
    function myRecord() external view returns (ParticipantView memory, WalletView memory, MeterView memory, SettlementView memory) {
        uint32 id = _participants.idOfRegistered(msg.sender);
        return (_participants.view_(id), walletOf(id), meterOf(id), settlementOf(id));
    }

    // ------------------------------------------------------------------ internals

    function _schedule() private view returns (Schedule memory) {
        return Schedule({
            startTime: START_TIME,
            intervalSeconds: INTERVAL_SECONDS,
            commitSeconds: COMMIT_SECONDS,
            revealSeconds: REVEAL_SECONDS,
            settleOffsetSeconds: SETTLE_OFFSET_SECONDS,
            readingGraceSeconds: READING_GRACE_SECONDS
        });
    }

    function _phase(uint32 interval) private view returns (Phase) {
        return Clock.phaseOf(_schedule(), interval, _orders.books[interval].stage == Stage.Done, block.timestamp);
    }

    /// @dev Bids go to the next delivery interval, in the given window of its trading interval.
    function _requireTradingPhase(uint32 interval, Phase expected) private view {
        uint32 next = currentInterval() + 1;
        if (interval != next) revert WrongInterval(interval, next);
        // Commit and reveal come before clearing, so whether it is done does not matter here.
        Phase phase = Clock.phaseOf(_schedule(), interval, false, block.timestamp);
        if (phase != expected) revert WrongPhase(interval, phase);
    }

    /// @dev Index of the parameter set in force for `interval` (sets are few; the newest is checked first).
    function _paramsIndex(uint32 interval) private view returns (uint256 i) {
        i = _paramsCount - 1;
        if (interval >= _newestParamsFrom) return i;
        while (_paramsFrom[i] > interval) i--;
    }

    function _checkBid(uint64 energyWh, uint128 priceWeiPerKWh, MarketParams storage p) private view {
        if (energyWh == 0) revert ZeroQuantity();
        if (energyWh > p.maxEnergyWh) revert QuantityTooLarge(energyWh, p.maxEnergyWh);
        if (priceWeiPerKWh == 0) revert ZeroPrice();
        if (priceWeiPerKWh > p.maxPriceWeiPerKWh) revert PriceTooHigh(priceWeiPerKWh, p.maxPriceWeiPerKWh);
    }

    /// @dev The margin (of the bid's interval) stays in a prosumer's wallet until its last bid is settled.
    function _lockedMargin(uint32 id) private view returns (uint256) {
        if (id == _participants.gridId) return 0;
        (bool locked, uint32 bidInterval) = _settlement.marginLock(id);
        return locked ? _params[_paramsIndex(bidInterval)].marginWei : 0;
    }

    function _pushParams(MarketParams memory p, uint32 fromInterval) private {
        if (
            p.maxEnergyWh == 0 || p.maxEnergyWh > type(uint48).max || p.maxPriceWeiPerKWh == 0 || p.maxPriceWeiPerKWh > type(uint96).max
                || p.referencePriceWeiPerKWh == 0 || p.referencePriceWeiPerKWh > p.maxPriceWeiPerKWh || p.shortRatioPpm > 10e6
                || p.longRatioPpm > 10e6 || p.rewardRatioPpm > 10e6 || p.penaltyRatioPpm > 10e6 || p.forfeitWei > p.marginWei
        ) revert InvalidParams();
        uint32 version = _paramsCount;
        _params[version] = p;
        _paramsFrom[version] = fromInterval;
        _paramsCount = version + 1;
        _newestParamsFrom = fromInterval;
        emit ParamsScheduled(fromInterval, version, p);
    }
}
