/**
 * The numbers Han Dong et al. (2019) publish for their worked day (section 3.2 and Table 1), as
 * printed: energy in kWh with 2 decimals, prices and money in 10^-3 eth with 3. The report sets a
 * run of scenarios/paper-day.json beside them.
 */

/** Table 1: the clearing at 03:00 (trades 1-3, supply above demand) and 14:00 (trades 4-6). */
export const PAPER_TABLE_1 = [
  { trade: 1, label: "03:00", seller: "wind", buyer: "ev", kWh: "0.84", price: "0.532" },
  { trade: 2, label: "03:00", seller: "controllable", buyer: "ev", kWh: "0.10", price: "0.484" },
  { trade: 3, label: "03:00", seller: "controllable", buyer: "conventional", kWh: "0.10", price: "0.488" },
  { trade: 4, label: "14:00", seller: "wind", buyer: "ev", kWh: "0.25", price: "0.743" },
  { trade: 5, label: "14:00", seller: "wind", buyer: "conventional", kWh: "0.18", price: "0.762" },
  { trade: 6, label: "14:00", seller: "controllable", buyer: "conventional", kWh: "0.12", price: "0.779" },
] as const;

/** Table 1's total supply and demand of each interval, kWh. */
export const PAPER_TOTALS = [
  { label: "03:00", supply: "1.53", demand: "1.04" },
  { label: "14:00", supply: "0.55", demand: "1.27" },
] as const;

/** Section 3.2: the conventional load balanced with the public grid (payment: + received, - paid). */
export const PAPER_BALANCING = [
  { label: "14:00", participant: "conventional", averagePrice: "0.757", deviationKWh: "0.85", payment: "-0.708" },
  { label: "18:30", participant: "conventional", averagePrice: "0.723", deviationKWh: "0.08", payment: "0.052" },
] as const;

/** Section 3.2: the conventional load's reward and penalty at 14:00. */
export const PAPER_INCENTIVE = { label: "14:00", participant: "conventional", consistentKWh: "1.02", deviatingKWh: "0.13", reward: "0.008", penalty: "0.005", net: "0.003" } as const;

/** The paper's users by the names scenarios/paper-day.json gives them, as the report writes them. */
export const PAPER_NAMES: Record<string, string> = { wind: "wind", controllable: "controllable", ev: "EV", conventional: "conventional" };
