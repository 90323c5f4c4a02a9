/**
 * A simulation result for the report's tests: the paper's 03:00, 14:00 and 18:30 intervals, settled
 * with W' 1.1, W'' 0.9, M' 0.01, M'' 0.05, plus a participant whose name breaks a page unescaped.
 */
import type { ParticipantIntervalResult, SimulationResult } from "../../lib/result";

/** A name that breaks the page if it is not escaped. */
export const HOSTILE = `O'Neil <script>alert("x")</script> & Co`;
export const HOSTILE_ESCAPED = "O&#39;Neil &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co";

function outcome(
  declaredKWh: string,
  clearedKWh: string,
  actualKWh: string,
  balancingEther = "0",
  rewardEther = "0",
  penaltyEther = "0",
  incentiveEther = "0",
): ParticipantIntervalResult {
  return { declaredKWh, clearedKWh, actualKWh, balancingEther, rewardEther, penaltyEther, incentiveEther };
}

export const FIXTURE: SimulationResult = {
  market: {
    intervalSeconds: 900,
    commitSeconds: 120,
    revealSeconds: 60,
    balancingShortRatio: "1.1",
    balancingLongRatio: "0.9",
    rewardRatio: "0.01",
    penaltyRatio: "0.05",
    marginEther: "0.001",
    referencePriceEtherPerKWh: "0.0007",
    incentivePoolEther: "1",
    cnyPerEther: "626.2",
  },
  participants: [
    { name: "wind", green: true, grid: false },
    { name: "controllable", green: false, grid: false },
    { name: "ev", green: true, grid: false },
    { name: "conventional", green: false, grid: false },
    { name: HOSTILE, green: false, grid: false },
    { name: "grid", green: false, grid: true },
  ],
  intervals: [
    {
      label: "03:00",
      averagePriceEtherPerKWh: "0.000523153846153846",
      bids: [
        { participant: "wind", side: "sell", energyKWh: "0.84", priceEtherPerKWh: "0.000504" },
        { participant: "controllable", side: "sell", energyKWh: "0.69", priceEtherPerKWh: "0.000408" },
        { participant: "ev", side: "buy", energyKWh: "0.94", priceEtherPerKWh: "0.00056" },
        { participant: "conventional", side: "buy", energyKWh: "0.1", priceEtherPerKWh: "0.000568" },
      ],
      trades: [
        { stage: "green", seller: "wind", buyer: "ev", energyKWh: "0.84", priceEtherPerKWh: "0.000532", amountEther: "0.00044688" },
        { stage: "all", seller: "controllable", buyer: "conventional", energyKWh: "0.1", priceEtherPerKWh: "0.000488", amountEther: "0.0000488" },
        { stage: "all", seller: "controllable", buyer: "ev", energyKWh: "0.1", priceEtherPerKWh: "0.000484", amountEther: "0.0000484" },
      ],
      rejectedBids: [],
      participants: {
        wind: outcome("0.84", "0.84", "0.83", "-0.000005754692307692", "0.000004342176923076", "0.000000261576923076", "0.0000040806"),
        controllable: outcome("0.69", "0.2", "0.2", "0", "0.000001046307692307", "0.000012817269230769", "-0.000011770961538462"),
        ev: outcome("-0.94", "-0.94", "-0.95", "-0.000005754692307692", "0.000004917646153846", "0.000000261576923076", "0.00000465606923077"),
        conventional: outcome("-0.1", "-0.1", "-0.11", "-0.000005754692307692", "0.000000523153846153", "0.000000261576923076", "0.000000261576923077"),
        [HOSTILE]: outcome("0", "0", "0"),
        grid: outcome("0", "0", "0", "0.000017264076923076"),
      },
    },
    {
      label: "14:00",
      averagePriceEtherPerKWh: "0.000757072727272727",
      trades: [
        { stage: "green", seller: "wind", buyer: "ev", energyKWh: "0.25", priceEtherPerKWh: "0.000743", amountEther: "0.00018575" },
        { stage: "all", seller: "wind", buyer: "conventional", energyKWh: "0.18", priceEtherPerKWh: "0.000762", amountEther: "0.00013716" },
        { stage: "all", seller: "controllable", buyer: "conventional", energyKWh: "0.12", priceEtherPerKWh: "0.000779", amountEther: "0.00009348" },
      ],
      rejectedBids: [{ participant: HOSTILE, reason: "wallet <margin> cannot cover energy × price" }],
      participants: {
        wind: outcome("0.43", "0.43", "0.43", "0", "0.000003255412727272", "0", "0.000003255412727272"),
        controllable: outcome("0.12", "0.12", "0.12", "0", "0.000000908487272727", "0", "0.000000908487272727"),
        ev: outcome("-0.25", "-0.25", "-0.25", "0", "0.000001892681818181", "0", "0.000001892681818181"),
        conventional: outcome("-1.02", "-0.3", "-1.15", "-0.000707862999999999", "0.000007722141818181", "0.000004920972727272", "0.000002801169090909"),
        [HOSTILE]: outcome("0", "0", "0"),
        grid: outcome("0", "0", "0", "0.000707862999999999"),
      },
    },
    {
      label: "18:30",
      averagePriceEtherPerKWh: "0.000723",
      trades: [
        { stage: "green", seller: "wind", buyer: "ev", energyKWh: "0.3", priceEtherPerKWh: "0.000723", amountEther: "0.0002169" },
        { stage: "all", seller: "controllable", buyer: "conventional", energyKWh: "0.6", priceEtherPerKWh: "0.000723", amountEther: "0.0004338" },
      ],
      rejectedBids: [],
      participants: {
        wind: outcome("0.3", "0.3", "0.3", "0", "0.000002169", "0", "0.000002169"),
        controllable: outcome("0.6", "0.6", "0.6", "0", "0.000004338", "0", "0.000004338"),
        ev: outcome("-0.3", "-0.3", "-0.3", "0", "0.000002169", "0", "0.000002169"),
        conventional: outcome("-0.6", "-0.6", "-0.52", "0.000052056", "0.0000037596", "0.000002892", "0.0000008676"),
        [HOSTILE]: outcome("0", "0", "0"),
        grid: outcome("0", "0", "0", "-0.000052056"),
      },
    },
  ],
  wallets: {
    wind: "1.000796716",
    controllable: "1.00017568",
    ev: "0.99950357",
    conventional: "0.998",
    [HOSTILE]: "0.5",
    grid: "100.000673",
  },
  incentivePoolEther: "0.99995",
  owed: { conventional: "0.000012" },
  gas: { total: 4_123_456, perInterval: { commit: 61_000, settle: 250_000 } },
};

