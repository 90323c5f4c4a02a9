import { useEffect, useRef, useState } from "preact/hooks";
import type { Carriage } from "./carry";
import { explain } from "./errors";
import { touched } from "./store";

export interface Query<T> {
  data?: T;
  error?: string;
  loading: boolean;
  reload: () => void;
}

/**
 * Run a chain read now, whenever `deps` change, and again after a new block whose events touch
 * what it shows (`touches` gets the keys: event names, `p:<id>`, `i:<interval>`; omitted: every block).
 */
export function useChainQuery<T>(fn: () => Promise<T>, deps: unknown[], touches?: (keys: Set<string>) => boolean): Query<T> {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const seq = useRef(0);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const run = () => {
    const n = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    fnRef.current().then(
      (data) => n === seq.current && setState({ data, loading: false }),
      (e) => n === seq.current && setState((s) => ({ data: s.data, error: (e as Error).message, loading: false })),
    );
  };
  useEffect(run, deps);
  const t = touched.value;
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    if (!touches || touches(t.keys)) run();
  }, [t.block]);
  return { ...state, reload: run };
}

/** Keys helpers for `touches`. */
export const anyOf =
  (...keys: string[]) =>
  (set: Set<string>) =>
    keys.some((k) => set.has(k));

/** What an action tells the user: its outcome, or what went wrong. */
export interface Notice {
  kind: "error" | "ok";
  text: string;
}

/**
 * A user action's state: `run` clears the last notice and receipt, marks the action busy (with
 * `key`, e.g. the row it acts on), shows the text the action returns as its outcome or the
 * explained error, and clears busy again. `track` shows the receipt of what the action sent
 * (carry.ts) as it moves. `clear` drops both when what they were about has moved on.
 */
export function useAction<K = true>() {
  const [msg, setMsg] = useState<Notice | null>(null);
  const [receipt, track] = useState<Carriage | null>(null);
  const [busy, setBusy] = useState<K | undefined>(undefined);
  const run = async (action: () => Promise<string | void>, key: K = true as K) => {
    setMsg(null);
    track(null);
    setBusy(key);
    try {
      const outcome = await action();
      if (outcome) setMsg({ kind: "ok", text: outcome });
    } catch (err) {
      setMsg({ kind: "error", text: explain(err) });
    } finally {
      setBusy(undefined);
    }
  };
  return {
    msg,
    busy,
    run,
    receipt,
    track,
    clear: () => {
      setMsg(null);
      track(null);
    },
  };
}
