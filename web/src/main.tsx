import { render } from "preact";
import { signal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { MarketClient } from "./chain";
import { loadConfig } from "./config";
import { ClientContext } from "./context";
import { setCnyPerEther } from "./format";
import { DAY_INTERVALS, OperatorPage } from "./Operator";
import { PhaseClock } from "./PhaseClock";
import { ProsumerPage } from "./Prosumer";
import { sending, session, signOut } from "./session";
import { short } from "./format";
import { LiveMarket, nodeError, now } from "./store";
import "./styles.css";

type Route = "prosumer" | "operator";
const routeOf = (): Route => (location.hash.startsWith("#/operator") ? "operator" : "prosumer");
const route = signal<Route>(routeOf());
window.addEventListener("hashchange", () => (route.value = routeOf()));

function App({ client, live }: { client: MarketClient; live: LiveMarket }) {
  const r = route.value;
  useEffect(() => {
    document.documentElement.dataset.ready = r;
    performance.mark(`portal-ready-${r}`);
  }, [r]);
  useEffect(() => {
    // the day's energy per interval, after the first render
    // by chain time (a test chain may run ahead of the wall clock)
    const current = client.intervalAt(now.peek());
    const t = setTimeout(() => {
      const ds: number[] = [];
      for (let d = current; d >= Math.max(1, current - DAY_INTERVALS); d--) ds.push(d);
      void live.loadEnergy(ds).catch(() => undefined);
    }, 50);
    return () => clearTimeout(t);
  }, []);
  return (
    <ClientContext.Provider value={client}>
      <header class="top">
        <div class="brand">
          <strong>grid-ledger</strong>
          <span class="muted">retail electricity market</span>
        </div>
        <nav>
          <a href="#/prosumer" class={r === "prosumer" ? "active" : ""} data-testid="nav-prosumer">
            Prosumer
          </a>
          <a href="#/operator" class={r === "operator" ? "active" : ""} data-testid="nav-operator">
            Operator
          </a>
        </nav>
        <PhaseClock />
        {session.value && (
          <p class="session-chip" data-testid="session-chip">
            <code title={session.value.address}>{short(session.value.address)}</code>
            <button class="link" onClick={() => signOut()}>
              sign out
            </button>
          </p>
        )}
        {sending.value && (
          <p class="sending" role="status" data-testid="sending">
            {sending.value}…
          </p>
        )}
        {nodeError.value && <p class="msg msg-error node-error">{nodeError.value}</p>}
      </header>
      <main>{r === "operator" ? <OperatorPage /> : <ProsumerPage />}</main>
    </ClientContext.Provider>
  );
}

async function boot() {
  const root = document.getElementById("app")!;
  try {
    const config = await loadConfig();
    setCnyPerEther(config.cnyPerEther);
    const client = new MarketClient(config);
    const chainId = BigInt(await client.provider.send("eth_chainId", []));
    if (chainId !== BigInt(config.chainId)) throw new Error(`the node is on chain ${chainId}, the deployment file says chain ${config.chainId}`);
    const live = new LiveMarket(client);
    await live.start();
    root.textContent = "";
    render(<App client={client} live={live} />, root);
  } catch (e) {
    root.innerHTML = "";
    const p = document.createElement("p");
    p.className = "msg msg-error boot";
    p.setAttribute("role", "alert");
    p.textContent = `The portal cannot reach the market: ${(e as Error).message}`;
    root.append(p);
  }
}

void boot();
