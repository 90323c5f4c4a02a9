import type { ScheduleTimes } from "../../lib/deployment";

/** What the portal server tells the page: the network, the node (proxied at /rpc) and the market. */
export interface PortalConfig {
  network: string;
  chainId: number;
  /** JSON-RPC URL, relative to the page (the portal server proxies the node) or absolute */
  rpcUrl: string;
  market: string;
  operator: string;
  deployedAtBlock: number;
  schedule: ScheduleTimes;
  /** display rate, CNY per ether (the paper: 626.2) */
  cnyPerEther: string;
  /** The portal's relayer (at relay/), which carries signed messages and pays their gas; null when there is none. */
  relayer: { address: string } | null;
}

export async function loadConfig(): Promise<PortalConfig> {
  const res = await fetch("config.json", { cache: "no-store" });
  if (!res.ok) throw new Error(`the portal server gave no market configuration (config.json: HTTP ${res.status})`);
  return (await res.json()) as PortalConfig;
}
