import type { ComponentChildren } from "preact";
import { cny, ether, exactEther } from "./format";

/** Ether with CNY beside it. */
export function Money({ wei, signed }: { wei: bigint; signed?: boolean }) {
  const plus = signed && wei > 0n ? "+" : "";
  return (
    <span class="money" title={`${exactEther(wei)} ETH`}>
      {plus}
      {ether(wei)} ETH <span class="cny">{cny(wei)}</span>
    </span>
  );
}

export function Card({ title, children, id, actions }: { title: ComponentChildren; children: ComponentChildren; id?: string; actions?: ComponentChildren }) {
  return (
    <section class="card" id={id} data-testid={id}>
      <header class="card-head">
        <h2>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}

export function Message({ kind, text, testid }: { kind: "error" | "ok" | "info" | "warn"; text?: string | null; testid?: string }) {
  if (!text) return null;
  return (
    <p class={`msg msg-${kind}`} role={kind === "error" ? "alert" : "status"} data-testid={testid}>
      {text}
    </p>
  );
}

export function Stat({ label, children, testid }: { label: string; children: ComponentChildren; testid?: string }) {
  return (
    <div class="stat" data-testid={testid}>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}
