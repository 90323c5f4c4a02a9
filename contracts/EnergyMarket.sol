// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IEnergyMarket} from "./interfaces/IEnergyMarket.sol";
import {Accounts} from "./libraries/Accounts.sol";
import {Clearing} from "./libraries/Clearing.sol";
import {Clock} from "./libraries/Clock.sol";
import {MarketState} from "./libraries/MarketState.sol";
import {Fail} from "./libraries/Fail.sol";
import {Metering} from "./libraries/Metering.sol";
import {OrderBook} from "./libraries/OrderBook.sol";
import {Params} from "./libraries/Params.sol";
import {Participants} from "./libraries/Participants.sol";
import {Settlement} from "./libraries/Settlement.sol";
import {Signatures} from "./libraries/Signatures.sol";
import {Trading} from "./libraries/Trading.sol";
import {Views} from "./libraries/Views.sol";
import {Wallets} from "./libraries/Wallets.sol";

/// @title EnergyMarket
/// @notice The distribution-network retail electricity market of Han Dong et al. (2019).
/// @dev Thin: checks access and phase, calls the library that owns the state, emits. Phases come from
/// block time (`Clock`); clearing and settlement are permissionless once their time has come. Checks a
/// batch shares with a single call return the custom error (`Fail`); a single call reverts with it.
contract EnergyMarket is IEnergyMarket {
    using Participants for Participants.State;
    using Metering for Metering.State;
    using Wallets for Wallets.State;
    using OrderBook for OrderBook.State;
    using Params for Params.State;

    uint64 private immutable START_TIME;
    uint32 private immutable INTERVAL_SECONDS;
    uint32 private immutable COMMIT_SECONDS;
    uint32 private immutable REVEAL_SECONDS;
    uint32 private immutable SETTLE_OFFSET_SECONDS;
    uint32 private immutable READING_GRACE_SECONDS;
    uint64 private immutable MAX_PRICE;
    uint64 private immutable MAX_BAND_PRICE;
    uint96 private immutable MAX_MARGIN;
    uint32 private immutable MAX_RATED_POWER;
    uint256 private immutable CHAIN_ID;
    bytes32 private immutable DOMAIN_SEPARATOR;
    uint256 private constant MAX_BATCH = 500;

    /// @inheritdoc IEnergyMarket
    address public operator;
    bool private _entered;
    /// @inheritdoc IEnergyMarket
    address public pendingOperator;

    MarketState.Layout private _m;

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
    /// @param l bounds no parameter or meter may exceed, for the market's life
    /// @param params parameters from interval 0 on
    constructor(Schedule memory s, Limits memory l, MarketParams memory params) {
        if (s.startTime == 0) s.startTime = uint64(block.timestamp);
        Clock.validate(s);
        if (l.maxPriceWeiPerKWh == 0 || l.maxBandPriceWeiPerKWh == 0 || l.maxRatedPowerW == 0 || l.maxRatedPowerW > Metering.MAX_RATED_POWER_W) {
            revert InvalidSchedule();
        }
        START_TIME = s.startTime;
        INTERVAL_SECONDS = s.intervalSeconds;
        COMMIT_SECONDS = s.commitSeconds;
        REVEAL_SECONDS = s.revealSeconds;
        SETTLE_OFFSET_SECONDS = s.settleOffsetSeconds;
        READING_GRACE_SECONDS = s.readingGraceSeconds;
        MAX_PRICE = l.maxPriceWeiPerKWh;
        MAX_BAND_PRICE = l.maxBandPriceWeiPerKWh;
        MAX_MARGIN = l.maxMarginWei;
        MAX_RATED_POWER = l.maxRatedPowerW;
        CHAIN_ID = block.chainid;
        DOMAIN_SEPARATOR = Signatures.domain();
        operator = msg.sender;
        emit OperatorChanged(address(0), msg.sender);
        Params.validate(params, l);
        _m.params.schedule(params, 0, 0);
    }

    // ------------------------------------------------------------------ participants and meters

    /// @inheritdoc IEnergyMarket
    function register(string calldata name, bool green) external returns (uint32) {
        return _m.participants.add(msg.sender, name, green, false);
    }

    /// @inheritdoc IEnergyMarket
    function registerGrid(address account, string calldata name) external onlyOperator returns (uint32 id) {
        if (_m.participants.gridId != 0) revert GridAlreadyRegistered(_m.participants.gridId);
        id = _m.participants.add(account, name, false, true);
        _m.participants.gridId = id;
    }

    /// @inheritdoc IEnergyMarket
    function authorize(uint32 id, bool allowed) external onlyOperator {
        _m.participants.prosumer(id).authorized = allowed;
        emit AuthorizationChanged(id, allowed);
    }

    /// @inheritdoc IEnergyMarket
    function proposeMeter(uint32 participantId, MeterProposal calldata meter) external onlyOperator returns (bytes32) {
        _m.participants.prosumer(participantId);
        return _m.meters.propose(participantId, meter, MAX_RATED_POWER);
    }

    /// @inheritdoc IEnergyMarket
    function acceptMeter(bytes32 proposal) external {
        Accounts.acceptMeter(_m, _m.participants.idOfRegistered(msg.sender), proposal, currentInterval(), INTERVAL_SECONDS);
    }

    /// @inheritdoc IEnergyMarket
    function unbindMeter(uint32 participantId) external onlyOperator {
        Accounts.unbindMeter(_m, participantId);
    }

    /// @inheritdoc IEnergyMarket
    function postReading(uint64 meterNumber, uint32 interval, uint64 importWh, uint64 exportWh) external {
        Metering.postOne(_m.meters, _m.wallets, msg.sender, meterNumber, interval, importWh, exportWh, currentInterval(), INTERVAL_SECONDS);
    }

    // ------------------------------------------------------------------ wallets

    /// @inheritdoc IEnergyMarket
    function deposit() external payable {
        _deposit(_m.participants.idOfRegistered(msg.sender));
    }

    /// @inheritdoc IEnergyMarket
    function depositFor(uint32 id) external payable {
        _m.participants.get(id);
        _deposit(id);
    }

    /// @inheritdoc IEnergyMarket
    function withdraw(uint256 amount) external nonReentrant {
        _pay(Accounts.debit(_m, _m.participants.idOfRegistered(msg.sender), amount, currentInterval(), INTERVAL_SECONDS), amount);
    }

    /// @inheritdoc IEnergyMarket
    function fundPool() external payable {
        if (msg.value == 0) revert ZeroAmount();
        _m.wallets.credit(Wallets.POOL, msg.value);
        emit PoolFunded(msg.sender, msg.value);
    }

    /// @inheritdoc IEnergyMarket
    function collect(uint32 debtor, uint32 creditor) external {
        if (_m.wallets.collect(debtor, creditor) == 0) revert NothingOwed(debtor, creditor);
    }

    // ------------------------------------------------------------------ bids, clearing, settlement

    /// @inheritdoc IEnergyMarket
    function commitBid(uint32 interval, bytes32 commitment) external {
        uint32 id = _m.participants.idOfRegistered(msg.sender);
        _requireTradingPhase(interval, Phase.Commit);
        Fail.check(Trading.commitOne(_m, interval, id, commitment, INTERVAL_SECONDS));
    }

    /// @inheritdoc IEnergyMarket
    function revealBid(uint32 interval, Side side, uint64 energyWh, uint64 priceWeiPerKWh, bytes32 salt, uint32 hintPrevId) external {
        uint32 id = _m.participants.idOfRegistered(msg.sender);
        _requireTradingPhase(interval, Phase.Reveal);
        Fail.check(Trading.revealOne(_m, interval, Opening(id, side, energyWh, priceWeiPerKWh, salt, hintPrevId), INTERVAL_SECONDS));
    }

    /// @inheritdoc IEnergyMarket
    function clear(uint32 interval, uint256 maxSteps) external returns (bool done) {
        if (maxSteps == 0) revert ZeroSteps();
        Phase phase = _phase(interval);
        if (phase != Phase.Clearing) revert WrongPhase(interval, phase);
        done = Clearing.run(_m.orders, _m.wallets, interval, maxSteps);
    }

    /// @inheritdoc IEnergyMarket
    function settle(uint32 interval, uint32[] calldata ids) external {
        Phase phase = _phase(interval);
        if (phase != Phase.Settlement) revert WrongPhase(interval, phase);
        uint32 grid = _m.participants.gridId;
        if (grid == 0) revert GridNotRegistered();
        MarketParams memory p = _m.params.at(interval);
        Settlement.Context memory ctx = Settlement.Context({
            d: interval,
            gridId: grid,
            intervalSeconds: INTERVAL_SECONDS,
            graceOver: block.timestamp >= uint256(Clock.settleStart(_schedule(), interval)) + READING_GRACE_SECONDS,
            price: _balancingPrice(interval, p),
            params: p
        });
        Settlement.settleAll(_m, ctx, ids);
    }

    // ------------------------------------------------------------------ relayed

    /// @inheritdoc IEnergyMarket
    function commitBatch(uint32 interval, SignedCommit[] calldata entries) external {
        _requireBatch(entries.length);
        _requireTradingPhase(interval, Phase.Commit);
        Trading.commitBatch(_m, interval, entries, domainSeparator(), INTERVAL_SECONDS);
    }

    /// @inheritdoc IEnergyMarket
    function revealBatch(uint32 interval, Opening[] calldata entries) external {
        _requireBatch(entries.length);
        _requireTradingPhase(interval, Phase.Reveal);
        Trading.revealBatch(_m, interval, entries, INTERVAL_SECONDS);
    }

    /// @inheritdoc IEnergyMarket
    function postReadings(SignedReading[] calldata entries) external {
        _requireBatch(entries.length);
        Metering.postBatch(_m.meters, _m.wallets, entries, domainSeparator(), currentInterval(), INTERVAL_SECONDS);
    }

    /// @inheritdoc IEnergyMarket
    function registerBatch(SignedRegistration[] calldata entries) external {
        _requireBatch(entries.length);
        Participants.registerBatch(_m.participants, entries, domainSeparator());
    }

    /// @inheritdoc IEnergyMarket
    function withdrawFor(uint32 id, uint256 amount, uint32 nonce, bytes32 r, bytes32 vs) external nonReentrant {
        _pay(Accounts.debitSigned(_m, id, amount, nonce, r, vs, domainSeparator(), currentInterval(), INTERVAL_SECONDS), amount);
    }

    /// @inheritdoc IEnergyMarket
    function acceptMeterFor(uint32 id, bytes32 proposal, bytes32 r, bytes32 vs) external {
        Accounts.acceptMeterSigned(_m, id, proposal, r, vs, domainSeparator(), currentInterval(), INTERVAL_SECONDS);
    }

    /// @inheritdoc IEnergyMarket
    function domainSeparator() public view returns (bytes32) {
        return block.chainid == CHAIN_ID ? DOMAIN_SEPARATOR : Signatures.domain();
    }

    /// @inheritdoc IEnergyMarket
    function withdrawalNonce(uint32 id) external view returns (uint32) {
        return _m.participants.records[id].nonce;
    }

    /// @inheritdoc IEnergyMarket
    function maxBatch() external pure returns (uint256) {
        return MAX_BATCH;
    }

    // ------------------------------------------------------------------ operator

    /// @inheritdoc IEnergyMarket
    function scheduleParams(MarketParams calldata params, uint32 fromInterval) external onlyOperator {
        Params.validate(params, limits());
        _m.params.schedule(params, fromInterval, currentInterval());
    }

    /// @inheritdoc IEnergyMarket
    function transferOperator(address next) external onlyOperator {
        if (next == address(0)) revert ZeroValue();
        pendingOperator = next;
        emit OperatorProposed(operator, next);
    }

    /// @inheritdoc IEnergyMarket
    function acceptOperator() external {
        if (msg.sender != pendingOperator) revert NotProposedOperator(msg.sender);
        emit OperatorChanged(operator, msg.sender);
        operator = msg.sender;
        pendingOperator = address(0);
    }

    // ------------------------------------------------------------------ queries

    /// @inheritdoc IEnergyMarket
    function schedule() external view returns (uint64, uint32, uint32, uint32, uint32, uint32) {
        return (START_TIME, INTERVAL_SECONDS, COMMIT_SECONDS, REVEAL_SECONDS, SETTLE_OFFSET_SECONDS, READING_GRACE_SECONDS);
    }

    /// @inheritdoc IEnergyMarket
    function limits() public view returns (Limits memory) {
        return Limits({maxPriceWeiPerKWh: MAX_PRICE, maxBandPriceWeiPerKWh: MAX_BAND_PRICE, maxMarginWei: MAX_MARGIN, maxRatedPowerW: MAX_RATED_POWER});
    }

    /// @inheritdoc IEnergyMarket
    function currentInterval() public view returns (uint32) {
        return Clock.intervalAt(_schedule(), block.timestamp);
    }

    /// @inheritdoc IEnergyMarket
    function paramsAt(uint32 interval) public view returns (MarketParams memory) {
        return _m.params.at(interval);
    }

    /// @inheritdoc IEnergyMarket
    function participantCount() external view returns (uint32) {
        return _m.participants.count;
    }

    /// @inheritdoc IEnergyMarket
    function gridId() external view returns (uint32) {
        return _m.participants.gridId;
    }

    /// @inheritdoc IEnergyMarket
    function idOf(address account) external view returns (uint32) {
        return _m.participants.idOf[account];
    }

    /// @inheritdoc IEnergyMarket
    function participantOfMeter(address meterAccount) external view returns (uint32) {
        return _m.meters.meters[meterAccount].pid;
    }

    /// @inheritdoc IEnergyMarket
    function participant(uint32 id) external view returns (ParticipantView memory) {
        return _m.participants.view_(id);
    }

    /// @inheritdoc IEnergyMarket
    function walletOf(uint32 id) public view returns (WalletView memory) {
        return Accounts.wallet(_m, id, currentInterval(), INTERVAL_SECONDS);
    }

    /// @inheritdoc IEnergyMarket
    function pool() external view returns (uint256 balance, uint256 owed) {
        return (_m.wallets.accounts[Wallets.POOL].balance, _m.wallets.totals[Wallets.POOL].owed);
    }

    /// @inheritdoc IEnergyMarket
    function debtOf(uint32 debtor, uint32 creditor) external view returns (uint256) {
        return _m.wallets.debts[debtor][creditor];
    }

    /// @inheritdoc IEnergyMarket
    function meterOf(uint32 id) public view returns (MeterView memory) {
        return _m.meters.view_(id);
    }

    /// @inheritdoc IEnergyMarket
    function meterProposalOf(uint32 id) external view returns (bytes32 proposal, MeterProposal memory meter) {
        Metering.Proposal memory p = _m.meters.proposals[id];
        return (p.hash, p.meter);
    }

    /// @inheritdoc IEnergyMarket
    function readingOf(uint32 participantId, uint32 interval) external view returns (bool posted, uint64 importWh, uint64 exportWh) {
        Metering.Reading memory r = _m.meters.readingOf(participantId, interval);
        posted = r.flags & Metering.POSTED != 0;
        if (posted) (importWh, exportWh) = (r.importWh, r.exportWh);
    }

    /// @inheritdoc IEnergyMarket
    function settlementOf(uint32 id) public view returns (SettlementView memory) {
        return SettlementView({started: _m.participants.records[id].ratedPowerW != 0, nextInterval: _m.wallets.accounts[id].settleNext});
    }

    /// @inheritdoc IEnergyMarket
    function bidOf(uint32 interval, uint32 id) external view returns (BidView memory) {
        return _m.orders.view_(interval, id);
    }

    /// @inheritdoc IEnergyMarket
    function bookHead(uint32 interval, Side side, bool green) external view returns (uint32) {
        uint8 flags = (side == Side.Buy ? OrderBook.BUY : 0) | (green ? OrderBook.GREEN : 0);
        return OrderBook.headOf(_m.orders.books[interval], OrderBook.listOf(flags));
    }

    /// @inheritdoc IEnergyMarket
    function revealHint(uint32 interval, uint32 id, Side side, bool green, uint64 priceWeiPerKWh) external view returns (uint32) {
        uint8 flags = OrderBook.REVEALED | (side == Side.Buy ? OrderBook.BUY : 0) | (green ? OrderBook.GREEN : 0);
        OrderBook.Bid memory bid = OrderBook.Bid({energyWh: 0, remainingWh: 0, priceWeiPerKWh: priceWeiPerKWh, proceedsGwei: 0, next: 0, flags: flags});
        return _m.orders.hintFor(interval, id, bid);
    }

    /// @inheritdoc IEnergyMarket
    function intervalOf(uint32 interval) external view returns (IntervalView memory v) {
        v = Views.interval(_m, _schedule(), interval);
        v.phase = _phase(interval);
    }

    /// @inheritdoc IEnergyMarket
    function bidCommitment(uint32 interval, address bidder, Side side, uint64 energyWh, uint64 priceWeiPerKWh, bytes32 salt)
        external
        view
        returns (bytes32)
    {
        return OrderBook.commitmentOf(interval, bidder, side, energyWh, priceWeiPerKWh, salt);
    }

    // ------------------------------------------------------------------ internals

    /// @dev Send a debited withdrawal to its account.
    function _pay(address to, uint256 amount) private {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    function _requireBatch(uint256 length) private pure {
        if (length > MAX_BATCH) revert BatchTooLarge(length, MAX_BATCH);
    }

    function _deposit(uint32 id) private {
        if (msg.value == 0) revert ZeroAmount();
        _m.wallets.credit(id, msg.value);
        emit Deposited(id, msg.value);
        _m.wallets.settleDebts(id, _m.participants.gridId);
    }

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
        return Clock.phaseOf(_schedule(), interval, _m.orders.books[interval].stage == Stage.Done, block.timestamp);
    }

    /// @dev Bids go to the next delivery interval, in the given window of its trading interval.
    function _requireTradingPhase(uint32 interval, Phase expected) private view {
        uint32 next = currentInterval() + 1;
        if (interval != next) revert WrongInterval(interval, next);
        // Commit and reveal come before clearing, so whether it is done does not matter here.
        Phase phase = Clock.phaseOf(_schedule(), interval, false, block.timestamp);
        if (phase != expected) revert WrongPhase(interval, phase);
    }

    function _balancingPrice(uint32 interval, MarketParams memory p) private view returns (uint256) {
        return Params.balancingPrice(p, _m.orders.books[interval].tradedWh, _m.orders.tradedValue[interval]);
    }
}
