/** Waiting in tests: a sleep, polling a condition until it holds or a deadline passes, and a transaction's receipt. */
import type { TransactionReceipt, TransactionResponse } from "ethers";

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Polls `condition` every `pollMs` until it holds; throws "timed out waiting for <what>" after `timeoutMs`. */
export async function waitUntil(condition: () => Promise<boolean> | boolean, timeoutMs: number, what: string, pollMs = 50): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(pollMs);
  }
}

/**
 * The receipt of `tx`, polled until the node has it; throws when the transaction reverted. Unlike
 * ethers' `wait()`, which looks for the receipt once and then only on a new block: on an automining
 * node under load the block holding it can be mined between those two looks, and with no later
 * block the wait never ends. Throws after `timeoutMs` (a node restarted without it, say).
 */
export async function mined(tx: TransactionResponse | null | Promise<TransactionResponse | null>, timeoutMs = 60_000, pollMs = 20): Promise<TransactionReceipt> {
  const response = await tx;
  if (!response) throw new Error("no transaction to wait for");
  for (const until = Date.now() + timeoutMs; ; ) {
    if (Date.now() > until) throw new Error(`transaction ${response.hash} not mined within ${timeoutMs / 1000} s`);
    const receipt = await response.provider.getTransactionReceipt(response.hash);
    if (receipt) {
      if (receipt.status !== 1) throw new Error(`transaction ${response.hash} reverted`);
      return receipt;
    }
    await sleep(pollMs);
  }
}
