// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title The distribution-network retail electricity market
/// @notice Registration, meter binding, internal wallets, sealed bids, green-first double-auction
/// clearing, deviation balancing against the public grid and reward/penalty for accurate bids
/// (Han Dong et al., 2019). The rules, and every change made to them to keep cheats unprofitable, are
/// written out in docs/MECHANISM.md.
/// @dev Units: energy in Wh, prices in wei per kWh, money in wei, ratios in parts per million.
/// Delivery interval `d` is traded in interval `d-1`, delivered in `d` and settled in `d+1`.
/// A participant keeps its bids and readings of its last four intervals in a ring of storage slots,
/// so interval `d` must be settled before the same participant can bid or post a reading for `d+4`.
interface IEnergyMarket {
    // ---------------------------------------------------------------- types

    /// @notice Fixed timing of the market, set at deployment.
    struct Schedule {
        uint64 startTime; // start of interval 0 (unix seconds)
        uint32 intervalSeconds; // length of an interval (900 in the paper)
        uint32 commitSeconds; // sealed-bid commits, from the start of the trading interval d-1
        uint32 revealSeconds; // reveals, right after the commit window
        uint32 settleOffsetSeconds; // settlement of d opens this long after the start of d+1
        uint32 readingGraceSeconds; // after settlement opens, how long to wait for a missing reading
    }

    /// @notice Bounds fixed at deployment that no parameter change and no meter binding can exceed.
    struct Limits {
        uint64 maxPriceWeiPerKWh; // ceiling of the highest bid price
        uint64 maxBandPriceWeiPerKWh; // ceiling of the balancing band (floor, reference, cap): what balancing can charge
        uint96 maxMarginWei; // ceiling of the margin (and so of the forfeit floor)
        uint32 maxRatedPowerW; // ceiling of a meter's rated power
    }

    /// @notice Market parameters of the operator; a new set applies from a future interval only.
    /// Ratios are bounded in code: 1 <= W' <= 2, M'' <= W'' <= 1, M' <= 0.1, M'' <= 0.5.
    struct MarketParams {
        uint96 marginWei; // must stay in a trader's wallet while its bids are unsettled (保证金)
        uint96 forfeitWei; // least forfeit of a commit never validly revealed (at most the margin)
        uint32 maxEnergyWh; // a larger bid quantity is absurd
        uint32 minVolumeWh; // an interval that traded less uses the reference price for balancing
        uint64 referencePriceWeiPerKWh; // balancing price of an interval without (enough) trades
        uint64 maxPriceWeiPerKWh; // a higher bid price is absurd
        uint64 floorPriceWeiPerKWh; // the balancing price A is never below this
        uint64 capPriceWeiPerKWh; // nor above this
        uint32 shortRatioPpm; // W': paid by a participant short of its cleared position (1.1)
        uint32 longRatioPpm; // W'': paid by the grid to a participant long of it (0.9)
        uint32 rewardRatioPpm; // M': reward on consistent energy (0.01)
        uint32 penaltyRatioPpm; // M'': penalty on deviating energy (0.05)
    }

    /// @notice A prosumer's commit, signed off-chain (EIP-712 `Commit`) for a relayer to carry.
    struct SignedCommit {
        uint32 participant;
        bytes32 commitment;
        bytes32 replaces; // the commitment this one replaces, zero for the first: a replay changes nothing
        bytes32 r; // EIP-2098 compact signature
        bytes32 vs;
    }

    /// @notice A meter's reading, signed off-chain by the meter's key (EIP-712 `Reading`).
    struct SignedReading {
        uint64 meterNumber;
        uint32 interval;
        uint64 importWh;
        uint64 exportWh;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice A prosumer's registration, signed off-chain by its account (EIP-712 `Registration`).
    struct SignedRegistration {
        address account;
        string name;
        bool green;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice A meter binding the operator proposes and the prosumer must accept.
    struct MeterProposal {
        uint64 meterNumber; // 12 decimal digits (DL/T 645 address)
        address account; // the meter's own key, which signs and posts its readings
        uint32 ratedPowerW; // bounds every reading and bid, and sizes the security
        uint64 openImportWh; // the new meter's registers when it starts serving the prosumer
        uint64 openExportWh;
        uint64 closeImportWh; // the replaced meter's registers when it stops (ignored without one)
        uint64 closeExportWh;
    }

    enum Side {
        Sell,
        Buy
    }

    /// @notice The opening of a sealed bid: what its commitment hashes, with the book position hint.
    struct Opening {
        uint32 participant;
        Side side;
        uint64 energyWh;
        uint64 priceWeiPerKWh;
        bytes32 salt;
        uint32 hintPrevId; // a bid already in the same book that sorts before this one, 0 for none
    }

    /// @notice Stage of the clearing of one delivery interval.
    enum Stage {
        NotStarted,
        Green, // green sellers against green buyers
        All, // everyone with quantity left
        Release, // unfilled buy reservations returned to their wallets
        Done
    }

    /// @notice Phase of a delivery interval, derived from block time and clearing progress.
    enum Phase {
        Upcoming, // its trading interval has not started
        Commit, // sealed commits accepted
        Reveal, // reveals accepted
        Clearing, // reveal closed, clearing not finished
        Delivery, // cleared; waiting for delivery, readings and the settlement window
        Settlement // settlement open
    }

    struct ParticipantView {
        uint32 id;
        address account;
        string name;
        bool green;
        bool authorized;
        bool grid;
    }

    struct WalletView {
        uint256 balance; // funds in the wallet (includes everything locked below)
        uint256 reserved; // buy reservations until clearing (outside the balance)
        uint256 locked; // sale collateral and sale proceeds until their interval is settled
        uint256 security; // kept while a meter is bound: two intervals of rated energy at the cap price
        uint256 owed; // what this participant owes and could not pay yet
        uint256 due; // what others owe this participant
        uint256 withdrawable; // what withdraw() would pay now
    }

    struct MeterView {
        uint64 meterNumber; // 0: none bound
        address account;
        uint32 ratedPowerW;
        bool hasReading; // a reading was posted since binding
        uint32 lastInterval; // interval of the last reading, valid when hasReading
        uint64 importWh; // registers of the last reading (or the opening registers)
        uint64 exportWh;
    }

    struct BidView {
        bool committed; // committed and not (yet) revealed
        bool revealed;
        Side side;
        bool green;
        uint64 energyWh;
        uint64 remainingWh; // not matched (after clearing: unfilled)
        uint64 priceWeiPerKWh;
        uint32 next; // next bid in its sorted book (0 = end)
        bool closed; // the grid's bid was settled (other participants: see settlementOf)
        uint256 proceedsWei; // a seller's proceeds so far, rounded up to the gwei
    }

    struct IntervalView {
        Phase phase;
        Stage stage;
        uint32 trades;
        uint64 tradedWh;
        uint256 averagePriceWeiPerKWh; // the mean trade price (reference price while no trade)
        uint256 balancingPriceWeiPerKWh; // A used for balancing and incentives: banded, reference below the minimum volume
        uint64 commitStart;
        uint64 revealStart;
        uint64 revealEnd;
        uint64 settleStart;
    }

    /// @notice A participant's settlement cursor.
    struct SettlementView {
        bool started; // the participant has (had) a meter
        uint32 nextInterval; // next delivery interval to settle
    }

    // ---------------------------------------------------------------- errors

    /// @dev The caller is not the operator.
    error NotOperator(address caller);
    /// @dev The caller is not the proposed next operator.
    error NotProposedOperator(address caller);
    /// @dev The caller's account has no participant.
    error NotRegistered(address account);
    /// @dev This account already has a participant.
    error AlreadyRegistered(address account);
    /// @dev No participant has this ID.
    error UnknownParticipant(uint32 id);
    /// @dev The participant is not authorized to trade.
    error NotAuthorized(uint32 id);
    /// @dev A name must be 1 to 64 bytes.
    error InvalidName();
    /// @dev The public grid is already registered.
    error GridAlreadyRegistered(uint32 gridId);
    /// @dev The public grid is not registered yet.
    error GridNotRegistered();
    /// @dev The grid cannot do this (have a meter, be deauthorized).
    error NotForGrid(uint32 id);
    /// @dev A zero address, zero meter number or zero rated power.
    error ZeroValue();
    /// @dev The participant has no meter bound.
    error NoMeterBound(uint32 id);
    /// @dev A meter number is 1 to 999999999999 (12 decimal digits).
    error InvalidMeterNumber(uint64 meterNumber);
    /// @dev Rated power above the deployment's limit.
    error RatedPowerTooHigh(uint32 ratedPowerW, uint32 maxW);
    /// @dev The meter number or account serves another participant.
    error MeterInUse(uint32 holder);
    /// @dev No meter proposal for this participant, or not the one accepted.
    error NoSuchProposal(uint32 id, bytes32 proposal);
    /// @dev The participant still has bids or readings to settle.
    error NotSettledYet(uint32 id, uint32 nextInterval);
    /// @dev The caller is no bound meter account.
    error UnknownMeterAccount(address account);
    /// @dev The meter number does not match the caller's meter.
    error WrongMeterNumber(uint64 meterNumber);
    /// @dev Readings are accepted only once the interval has ended.
    error IntervalNotEnded(uint32 interval);
    /// @dev A reading for an interval before the meter's last reading (or before its binding).
    error ReadingOutOfOrder(uint32 interval, uint32 nextInterval);
    /// @dev The interval was already settled for this participant: the next reading carries its energy.
    error ReadingTooLate(uint32 interval, uint32 settledUntil);
    /// @dev A cumulative register went down.
    error RegisterDecreased(uint64 previousWh, uint64 postedWh);
    /// @dev More energy than the meter's rated power can deliver in the elapsed time.
    error ImplausibleReading(uint64 energyWh, uint64 maxWh);
    /// @dev A different reading was already posted for this interval.
    error ConflictingReading(uint32 participantId, uint32 interval);
    /// @dev The ring slot still holds an unsettled older interval: settle it first.
    error SettlementBehind(uint32 id, uint32 unsettledInterval);
    /// @dev A zero amount.
    error ZeroAmount();
    /// @dev Not enough free funds for the operation.
    error InsufficientFunds(uint32 id, uint256 needed, uint256 available);
    /// @dev Sending ether to the caller failed.
    error TransferFailed();
    /// @dev A reentrant call.
    error Reentrancy();
    /// @dev A participant with unpaid debts may not bid.
    error HasDebt(uint32 id, uint256 owed);
    /// @dev Bids are only for the next delivery interval.
    error WrongInterval(uint32 interval, uint32 expected);
    /// @dev The interval is not in a phase that allows this.
    error WrongPhase(uint32 interval, Phase phase);
    /// @dev No commitment to reveal.
    error NoCommitment(uint32 interval, uint32 id);
    /// @dev The reveal does not match the commitment.
    error BadReveal(uint32 interval, uint32 id);
    /// @dev The bid was already revealed.
    error AlreadyRevealed(uint32 interval, uint32 id);
    /// @dev A relayed commit names another commitment to replace than the one held: a replayed or stale
    /// message changes nothing.
    error NotReplacing(uint32 interval, uint32 id);
    /// @dev A zero bid quantity.
    error ZeroQuantity();
    /// @dev A bid quantity above the market's maximum or the meter's rated energy per interval.
    error QuantityTooLarge(uint64 energyWh, uint64 maxWh);
    /// @dev A zero bid price.
    error ZeroPrice();
    /// @dev A bid price above the market's maximum.
    error PriceTooHigh(uint128 priceWeiPerKWh, uint128 maxWeiPerKWh);
    /// @dev Settlement of this participant and interval already happened.
    error AlreadySettled(uint32 interval, uint32 id);
    /// @dev Participants are settled interval after interval; this one is next.
    error SettleOutOfOrder(uint32 interval, uint32 nextInterval);
    /// @dev The participant has nothing to settle (no meter and no bid).
    error NothingToSettle(uint32 id);
    /// @dev The meter reading is not in and the grace period has not passed.
    error ReadingPending(uint32 interval, uint32 id);
    /// @dev A batch bound of zero.
    error ZeroSteps();
    /// @dev Parameters out of their documented bounds.
    error InvalidParams();
    /// @dev Schedule or limits out of range.
    error InvalidSchedule();
    /// @dev Parameters may only change from an interval whose trading has not started.
    error ParamsNotInFuture(uint32 fromInterval, uint32 earliest);
    /// @dev Nothing is owed by this debtor to this creditor.
    error NothingOwed(uint32 debtor, uint32 creditor);
    /// @dev Participant IDs are limited to 2^24 - 1.
    error TooManyParticipants();
    /// @dev A message for participant `id` was not signed by its account (or was signed for another
    /// chain, market or content).
    error WrongSigner(uint32 id, address signer);
    /// @dev A batch longer than the market takes in one call.
    error BatchTooLarge(uint256 length, uint256 max);
    /// @dev A signed withdrawal whose nonce is not the participant's next one (a replay, or out of order).
    error WrongNonce(uint32 id, uint32 nonce, uint32 expected);

    // ---------------------------------------------------------------- events

    /// @notice A participant registered (or the operator registered the grid).
    event ParticipantRegistered(uint32 indexed id, address indexed account, string name, bool green, bool grid);
    /// @notice The operator authorized or deauthorized trading.
    event AuthorizationChanged(uint32 indexed id, bool authorized);
    /// @notice The operator proposed a meter for a prosumer, who must accept it.
    event MeterProposed(uint32 indexed participantId, bytes32 proposal, MeterProposal meter);
    /// @notice A meter was bound to a participant (accepted proposal), serving it from `fromInterval`.
    event MeterBound(uint32 indexed participantId, uint64 indexed meterNumber, address meterAccount, uint32 ratedPowerW, uint32 fromInterval);
    /// @notice A participant's meter was released.
    event MeterUnbound(uint32 indexed participantId, uint64 indexed meterNumber);
    /// @notice A meter posted its cumulative registers at the end of an interval.
    event ReadingPosted(uint32 indexed participantId, uint32 indexed interval, uint64 importWh, uint64 exportWh);
    /// @notice Ether entered a wallet.
    event Deposited(uint32 indexed id, uint256 amount);
    /// @notice Ether left a wallet.
    event Withdrawn(uint32 indexed id, uint256 amount);
    /// @notice Ether entered the incentive pool.
    event PoolFunded(address indexed from, uint256 amount);
    /// @notice A payment could not be made in full; the rest is owed.
    event DebtRecorded(uint32 indexed debtor, uint32 indexed creditor, uint256 amount);
    /// @notice An owed amount was paid.
    event DebtPaid(uint32 indexed debtor, uint32 indexed creditor, uint256 amount);
    /// @notice New parameters were scheduled (a pending set for the same or a later interval is replaced).
    event ParamsScheduled(uint32 indexed fromInterval, uint32 version, MarketParams params);
    /// @notice The operator proposed to hand over its role.
    event OperatorProposed(address indexed current, address indexed proposed);
    /// @notice The operator role moved.
    event OperatorChanged(address indexed previous, address indexed next);
    /// @notice A sealed bid was committed (or its commitment replaced).
    event BidCommitted(uint32 indexed interval, uint32 indexed id, bytes32 commitment);
    /// @notice A sealed bid was revealed and became firm (in the green books if its participant is green).
    event BidRevealed(uint32 indexed interval, uint32 indexed id, Side side, uint64 energyWh, uint64 priceWeiPerKWh);
    /// @notice A commit was never validly revealed; the forfeit went to the pool.
    event BidForfeited(uint32 indexed interval, uint32 indexed id, uint256 amount);
    /// @notice Two bids traded. `amountWei` moved from the buyer to the seller.
    event TradeMatched(uint32 indexed interval, uint32 indexed sellerId, uint32 indexed buyerId, Stage stage, uint64 energyWh, uint128 priceWeiPerKWh, uint256 amountWei);
    /// @notice A clearing transaction ended; `stage` is where the next one continues.
    event ClearingProgressed(uint32 indexed interval, Stage stage, uint256 steps);
    /// @notice Clearing finished.
    event IntervalCleared(uint32 indexed interval, uint32 trades, uint64 tradedWh, uint256 averagePriceWeiPerKWh);
    /// @notice One participant's balancing and reward/penalty for a delivery interval.
    /// @param balancingWei positive: paid by the grid to the participant; negative: paid to the grid
    /// @param incentiveWei reward less penalty: positive paid from the pool, negative paid into it (the
    /// penalty is `rewardWei - incentiveWei`)
    event ParticipantSettled(
        uint32 indexed interval,
        uint32 indexed id,
        int64 declaredWh,
        int64 clearedWh,
        int64 actualWh,
        int256 balancingWei,
        uint256 rewardWei,
        int256 incentiveWei,
        bool readingMissing
    );
    /// @notice An entry of a batch (or a participant of a settle call) was skipped; the rest stands.
    /// @param subject the participant ID (the meter number for readings)
    /// @param reason the custom error that entry would have reverted with
    event EntrySkipped(uint32 indexed interval, uint256 indexed subject, uint256 index, bytes reason);

    // ---------------------------------------------------------------- participants and meters

    /// @notice Register the caller as a prosumer; IDs follow registration order from 1.
    /// @param name display name, 1 to 64 bytes
    /// @param green renewable generation when selling, green preference when buying
    function register(string calldata name, bool green) external returns (uint32 id);

    /// @notice Register the public-grid account (operator only); the grid is authorized at once.
    function registerGrid(address account, string calldata name) external returns (uint32 id);

    /// @notice Allow or stop a prosumer's trading (operator only). A bid committed while authorized
    /// can still be revealed.
    function authorize(uint32 id, bool allowed) external;

    /// @notice Propose a meter for a prosumer (operator only); it is bound when the prosumer accepts.
    /// A new proposal replaces a pending one.
    /// @return proposal the hash the prosumer accepts (unique to this market, participant and proposal)
    function proposeMeter(uint32 participantId, MeterProposal calldata meter) external returns (bytes32 proposal);

    /// @notice Accept the pending meter proposal (the prosumer only). Its wallet must hold the security
    /// the meter's rated power requires. The same meter number continues its register series; another
    /// meter's closing registers put the energy it measured since its last reading into this interval.
    function acceptMeter(bytes32 proposal) external;

    /// @notice Release a prosumer's meter (operator only) once everything it measured is settled.
    function unbindMeter(uint32 participantId) external;

    /// @notice Post a meter's cumulative registers at the end of `interval` (the meter account only).
    /// @dev An identical re-post of the last reading is a no-op.
    function postReading(uint64 meterNumber, uint32 interval, uint64 importWh, uint64 exportWh) external;

    // ---------------------------------------------------------------- wallets

    /// @notice Add ether to the caller's wallet; debts are collected from it first.
    function deposit() external payable;

    /// @notice Add ether to participant `id`'s wallet (anyone may pay in for anyone).
    function depositFor(uint32 id) external payable;

    /// @notice Withdraw free funds: balance less debts, locked sale funds, the security of a bound
    /// meter, and the margin while bids are unsettled.
    function withdraw(uint256 amount) external;

    /// @notice Add ether to the incentive pool (anyone); the pool's debts are collected by creditors.
    function fundPool() external payable;

    /// @notice Pay what `debtor` owes `creditor`, as far as the debtor's free funds allow (anyone).
    function collect(uint32 debtor, uint32 creditor) external;

    // ---------------------------------------------------------------- bids, clearing, settlement

    /// @notice Commit a sealed bid for delivery interval `interval` (the next one) during its commit window.
    /// @param commitment `bidCommitment(interval, msg.sender, side, energyWh, priceWeiPerKWh, salt)`
    function commitBid(uint32 interval, bytes32 commitment) external;

    /// @notice Reveal the committed bid during the reveal window; it is checked and becomes firm.
    /// @param hintPrevId a bid already in the same book that sorts before this one, 0 for none
    /// (`revealHint` computes it; a stale hint only costs gas)
    function revealBid(uint32 interval, Side side, uint64 energyWh, uint64 priceWeiPerKWh, bytes32 salt, uint32 hintPrevId) external;

    /// @notice Run up to `maxSteps` steps of the clearing of `interval` (anyone, after its reveal window).
    /// @return done whether clearing finished
    function clear(uint32 interval, uint256 maxSteps) external returns (bool done);

    /// @notice Settle balancing and reward/penalty of `interval` for each of `ids` (anyone, once open).
    /// A participant that cannot be settled now is skipped with `EntrySkipped`.
    function settle(uint32 interval, uint32[] calldata ids) external;

    // ---------------------------------------------------------------- relayed (signed off-chain, carried by anyone)

    /// @notice Commit signed bids for `interval` (its commit window); each entry is checked on its own
    /// and a refused one is skipped with `EntrySkipped`. A relayer pays the gas, the prosumer only signs.
    function commitBatch(uint32 interval, SignedCommit[] calldata entries) external;

    /// @notice Reveal bids for `interval` (its reveal window); the opening needs no signature, as the
    /// commitment binds the bidder. Refused entries are skipped with `EntrySkipped`.
    function revealBatch(uint32 interval, Opening[] calldata entries) external;

    /// @notice Post readings signed by their meters' keys; refused entries are skipped with `EntrySkipped`.
    function postReadings(SignedReading[] calldata entries) external;

    /// @notice Register prosumers who signed their registration; refused entries are skipped.
    function registerBatch(SignedRegistration[] calldata entries) external;

    /// @notice Withdraw to participant `id`'s own account on its signature (EIP-712 `Withdrawal`).
    function withdrawFor(uint32 id, uint256 amount, uint32 nonce, bytes32 r, bytes32 vs) external;

    /// @notice Accept a meter proposal on the prosumer's signature (EIP-712 `MeterAcceptance`).
    function acceptMeterFor(uint32 id, bytes32 proposal, bytes32 r, bytes32 vs) external;

    /// @notice The EIP-712 domain separator of this market (name "EnergyMarket", version "1").
    function domainSeparator() external view returns (bytes32);

    /// @notice Signed withdrawals participant `id` has made (the nonce its next one must carry).
    function withdrawalNonce(uint32 id) external view returns (uint32);

    /// @notice The most entries a batch may hold.
    function maxBatch() external pure returns (uint256);

    // ---------------------------------------------------------------- operator

    /// @notice Schedule new parameters from interval `fromInterval` on (operator only). At most one set
    /// is pending: scheduling again before it takes effect replaces it.
    function scheduleParams(MarketParams calldata params, uint32 fromInterval) external;

    /// @notice Propose another account as operator (operator only); it takes over when it accepts.
    function transferOperator(address next) external;

    /// @notice Take over the operator role (the proposed account only).
    function acceptOperator() external;

    // ---------------------------------------------------------------- queries

    /// @notice The fixed timing.
    function schedule()
        external
        view
        returns (uint64 startTime, uint32 intervalSeconds, uint32 commitSeconds, uint32 revealSeconds, uint32 settleOffsetSeconds, uint32 readingGraceSeconds);

    /// @notice The bounds fixed at deployment.
    function limits() external view returns (Limits memory);

    /// @notice The operator's account.
    function operator() external view returns (address);

    /// @notice The account proposed as next operator (zero for none).
    function pendingOperator() external view returns (address);

    /// @notice The interval block time is in.
    function currentInterval() external view returns (uint32);

    /// @notice Parameters in force for `interval`.
    function paramsAt(uint32 interval) external view returns (MarketParams memory);

    /// @notice Number of registered participants (IDs run 1..count).
    function participantCount() external view returns (uint32);

    /// @notice The grid's participant ID (0 while none).
    function gridId() external view returns (uint32);

    /// @notice Participant ID of an account (0 for none).
    function idOf(address account) external view returns (uint32);

    /// @notice Participant ID bound to a meter account (0 for none).
    function participantOfMeter(address meterAccount) external view returns (uint32);

    /// @notice A participant's record.
    function participant(uint32 id) external view returns (ParticipantView memory);

    /// @notice A participant's wallet.
    function walletOf(uint32 id) external view returns (WalletView memory);

    /// @notice The incentive pool: free funds and what it owes.
    function pool() external view returns (uint256 balance, uint256 owed);

    /// @notice What `debtor` owes `creditor` (the pool is ID 0).
    function debtOf(uint32 debtor, uint32 creditor) external view returns (uint256);

    /// @notice A participant's meter.
    function meterOf(uint32 id) external view returns (MeterView memory);

    /// @notice The meter proposal waiting for participant `id`'s acceptance, and its hash (zero for none).
    function meterProposalOf(uint32 id) external view returns (bytes32 proposal, MeterProposal memory meter);

    /// @notice A participant's reading at the end of `interval`, while it is among its last four
    /// (older readings are in the `ReadingPosted` events).
    function readingOf(uint32 participantId, uint32 interval) external view returns (bool posted, uint64 importWh, uint64 exportWh);

    /// @notice A participant's settlement cursor.
    function settlementOf(uint32 id) external view returns (SettlementView memory);

    /// @notice A participant's bid for `interval` (while it is among its last four).
    function bidOf(uint32 interval, uint32 id) external view returns (BidView memory);

    /// @notice Head of one of the four sorted books of `interval` (remaining bids once clearing started).
    /// @param green green sellers/buyers or the others
    function bookHead(uint32 interval, Side side, bool green) external view returns (uint32);

    /// @notice The bid after which a new bid sorts in its book (0: at the head). O(n) in the book size.
    function revealHint(uint32 interval, uint32 id, Side side, bool green, uint64 priceWeiPerKWh) external view returns (uint32);

    /// @notice An interval's phase, timing and results.
    function intervalOf(uint32 interval) external view returns (IntervalView memory);

    /// @notice The commitment of a sealed bid.
    function bidCommitment(uint32 interval, address bidder, Side side, uint64 energyWh, uint64 priceWeiPerKWh, bytes32 salt)
        external
        view
        returns (bytes32);
}
