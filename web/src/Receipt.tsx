/** Where a carried action stands: signed, sent in a transaction (hash), included in a block; who paid the gas; why the relayer did not carry it. */
import type { Carriage } from "./carry";

export const shortHash = (hash: string) => `${hash.slice(0, 10)}…${hash.slice(-6)}`;

/** The receipt of one action, step by step (an action's card shows it under its notice). */
export function Receipt({ c, testid }: { c: Carriage | null | undefined; testid: string }) {
  if (!c) return null;
  const relayed = c.via === "relayer";
  const step = (done: boolean, now: boolean) => (done ? "done" : now ? "now" : "todo");
  return (
    <div class="receipt" data-testid={testid} data-via={c.via} data-status={c.status} data-hash={c.hash} data-block={c.block}>
      {c.fallback && (
        <p class="receipt-note" data-testid={`${testid}-fallback`}>
          {c.fallback}
        </p>
      )}
      <ol class="receipt-steps">
        <li class="done">{relayed ? "Signed here, carried by the platform's relayer" : "Signed here, sent from your account"}</li>
        <li class={step(!!c.hash, !c.hash)}>
          {c.hash ? (
            <>
              Transaction{" "}
              <code title={c.hash} data-testid={`${testid}-hash`}>
                {shortHash(c.hash)}
              </code>
            </>
          ) : (
            "Waiting for the relayer's next batch…"
          )}
        </li>
        <li class={step(c.block !== undefined, !!c.hash)} data-testid={`${testid}-block`}>
          {c.block !== undefined ? `Included in block ${c.block}` : c.status === "included" ? "Found on chain" : "Waiting for a block…"}
        </li>
      </ol>
      {c.status === "included" && <p class="receipt-gas muted small">{relayed ? "The relayer paid the gas: your account paid nothing." : "Your account paid the gas."}</p>}
    </div>
  );
}

/** One line for a table cell: block, transaction and who carried it. */
export function ReceiptLine({ c, label, testid }: { c: Carriage | undefined; label: string; testid: string }) {
  if (!c?.hash) return null;
  return (
    <span class="receipt-line muted small" data-testid={testid} data-via={c.via} data-hash={c.hash} data-block={c.block}>
      {label}: {c.block !== undefined ? `block ${c.block}` : "sent"} · <code title={c.hash}>{shortHash(c.hash)}</code> · {c.via === "relayer" ? "by the relayer" : c.fallback ? "from your account (relayer unavailable)" : "from your account"}
    </span>
  );
}
