/**
 * EIP-712 messages a prosumer or a meter signs off-chain so that anyone (the portal's relayer,
 * cycle:run, a meter gateway) can carry them to the market: the same types as
 * contracts/libraries/Signatures.sol, and their compact (EIP-2098) signatures.
 */
import { Signature, TypedDataDomain, TypedDataField } from "ethers";
import type { IEnergyMarket } from "../typechain-types";

/** Anything that signs typed data: an ethers Wallet, a HardhatEthersSigner, a browser wallet. */
export interface TypedSigner {
  getAddress(): Promise<string>;
  signTypedData(domain: TypedDataDomain, types: Record<string, TypedDataField[]>, value: Record<string, unknown>): Promise<string>;
}

/** The market's EIP-712 domain. */
export function marketDomain(chainId: bigint | number, market: string): TypedDataDomain {
  return { name: "EnergyMarket", version: "1", chainId, verifyingContract: market };
}

export const TYPES = {
  Commit: [
    { name: "participant", type: "uint32" },
    { name: "interval", type: "uint32" },
    { name: "commitment", type: "bytes32" },
    { name: "replaces", type: "bytes32" },
  ],
  Reading: [
    { name: "meterNumber", type: "uint64" },
    { name: "interval", type: "uint32" },
    { name: "importWh", type: "uint64" },
    { name: "exportWh", type: "uint64" },
  ],
  Registration: [
    { name: "account", type: "address" },
    { name: "name", type: "string" },
    { name: "green", type: "bool" },
  ],
  Withdrawal: [
    { name: "participant", type: "uint32" },
    { name: "amount", type: "uint256" },
    { name: "nonce", type: "uint32" },
  ],
  MeterAcceptance: [
    { name: "participant", type: "uint32" },
    { name: "proposal", type: "bytes32" },
  ],
} satisfies Record<string, TypedDataField[]>;

export const ZERO_HASH = "0x" + "00".repeat(32);

/** A signature split the way the contract takes it (EIP-2098: r and yParity|s). */
export interface Compact {
  r: string;
  vs: string;
}

async function sign(signer: TypedSigner, domain: TypedDataDomain, type: keyof typeof TYPES, value: Record<string, unknown>): Promise<Compact> {
  const sig = Signature.from(await signer.signTypedData(domain, { [type]: TYPES[type] }, value));
  return { r: sig.r, vs: sig.yParityAndS };
}

/** A prosumer's commit for `interval`; `replaces` is the commitment it replaces (zero for the first). */
export async function signCommit(
  signer: TypedSigner,
  domain: TypedDataDomain,
  c: { participant: bigint | number; interval: number; commitment: string; replaces?: string },
): Promise<IEnergyMarket.SignedCommitStruct> {
  const value = { participant: c.participant, interval: c.interval, commitment: c.commitment, replaces: c.replaces ?? ZERO_HASH };
  return { participant: c.participant, commitment: c.commitment, replaces: value.replaces, ...(await sign(signer, domain, "Commit", value)) };
}

/** A meter's registers at the end of `interval`, signed by the meter's own key. */
export async function signReading(
  meter: TypedSigner,
  domain: TypedDataDomain,
  r: { meterNumber: bigint | number; interval: number; importWh: bigint; exportWh: bigint },
): Promise<IEnergyMarket.SignedReadingStruct> {
  return { ...r, ...(await sign(meter, domain, "Reading", r)) };
}

/** A prosumer's registration, signed by the account it registers. */
export async function signRegistration(signer: TypedSigner, domain: TypedDataDomain, name: string, green: boolean): Promise<IEnergyMarket.SignedRegistrationStruct> {
  const account = await signer.getAddress();
  return { account, name, green, ...(await sign(signer, domain, "Registration", { account, name, green })) };
}

/** A withdrawal to the prosumer's own account; `nonce` is `withdrawalNonce(participant)`. */
export async function signWithdrawal(signer: TypedSigner, domain: TypedDataDomain, w: { participant: bigint | number; amount: bigint; nonce: bigint | number }): Promise<Compact> {
  return sign(signer, domain, "Withdrawal", w);
}

/** A prosumer's consent to the meter proposal `proposal` (the hash `meterProposalOf` returns). */
export async function signAcceptance(signer: TypedSigner, domain: TypedDataDomain, a: { participant: bigint | number; proposal: string }): Promise<Compact> {
  return sign(signer, domain, "MeterAcceptance", a);
}
