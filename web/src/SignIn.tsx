import { useContext, useState } from "preact/hooks";
import { ClientContext } from "./context";
import { explain } from "./errors";
import { short } from "./format";
import { hasInjectedWallet, session, signInWithInjected, signInWithKeystore, signOut } from "./session";
import { Card, Message } from "./ui";

export function SignIn({ purpose }: { purpose: string }) {
  const client = useContext(ClientContext);
  const s = session.value;
  const [text, setText] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [progress, setProgress] = useState<number | null>(null);

  if (s) {
    return (
      <div class="signed-in" data-testid="signed-in">
        <span>
          Signed in as <code title={s.address}>{short(s.address)}</code> ({s.kind === "keystore" ? "keystore, key in this page's memory only" : "browser wallet"}) on chain{" "}
          {client.config.chainId}
        </span>
        <button class="link" onClick={() => signOut()}>
          Sign out
        </button>
      </div>
    );
  }

  const onFile = async (e: Event) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (!f) return;
    setText(await f.text());
    setError(null);
  };
  const keystore = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setProgress(0);
    try {
      await signInWithKeystore(client, text, password, (p) => setProgress(Math.round(p * 100)));
      setPassword("");
      setText("");
    } catch (err) {
      setError(explain(err));
    } finally {
      setProgress(null);
    }
  };
  const injected = async () => {
    setError(null);
    try {
      await signInWithInjected(client);
    } catch (err) {
      setError(explain(err));
    }
  };

  return (
    <Card title="Sign in" id="sign-in">
      <p class="muted">{purpose}</p>
      {hasInjectedWallet() && (
        <p>
          <button class="primary" onClick={injected} data-testid="injected-sign-in">
            Use the browser wallet
          </button>{" "}
          <span class="muted">switches it to chain {client.config.chainId}, adding the chain if the wallet does not know it</span>
        </p>
      )}
      <form class="form" onSubmit={keystore} data-testid="keystore-form">
        <label>
          Encrypted JSON keystore
          <input type="file" accept=".json,application/json,text/plain" onChange={onFile} data-testid="keystore-file" />
        </label>
        <details>
          <summary>or paste it</summary>
          <textarea rows={3} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} data-testid="keystore-text" />
        </details>
        <label>
          Password
          <input type="password" autocomplete="current-password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} data-testid="keystore-password" />
        </label>
        <button class="primary" type="submit" disabled={!text || progress !== null} data-testid="keystore-submit">
          {progress !== null ? `Decrypting… ${progress}%` : "Unlock"}
        </button>
        <p class="muted small">The key is decrypted in this page and kept in memory only: reloading or closing the tab forgets it.</p>
        <Message kind="error" text={error} testid="sign-in-error" />
      </form>
    </Card>
  );
}
