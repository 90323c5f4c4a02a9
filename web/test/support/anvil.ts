/** The repository's anvil helper (test/shared/anvil.ts), re-exported for the web tests. */
export { Anvil, ANVIL_CHAIN_ID, freePort, rpcProvider, delay } from "../../../test/shared/anvil";
