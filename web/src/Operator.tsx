/** The operator's pages: market status, charts of the day, each interval's results, participants and meters. */
import { signal } from "@preact/signals";
import { useContext, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { isAddress } from "ethers";
import { PHASES, STAGES, Side } from "../../lib/market";
import { kWhToWh, parseDecimal } from "../../lib/units";
import type { MarketClient, MarketLog } from "./chain";
import { ChartView } from "./Chart";
import { ClientContext } from "./context";
import { UserError } from "./errors";
import { ether, hhmm, kWh, short } from "./format";
import { anyOf, useAction, useChainQuery } from "./hooks";
import { send, session } from "./session";
import { SignIn } from "./SignIn";
import { EnergyAggregate, IntervalSummary, Participant, energy, energyLoaded, energyLoading, latestBlock, now, participants, summaries, touched } from "./store";
import { Card, Message, Money, Stat } from "./ui";
import { VirtualTable } from "./VirtualTable";

/** Intervals in the charts: a day of the paper's 15-minute intervals. */
export const DAY_INTERVALS = 96;

export const selectedInterval = signal<number | null>(null);

const nameOf = (id: number | bigint) => participants.value[Number(id) - 1]?.name ?? `#${id}`;

export function OperatorPage() {
  const client = useContext(ClientContext);
  const operator = useChainQuery(() => client.market.operator(), [], anyOf("OperatorChanged"));
  const s = session.value;
  const isOperator = !!s && !!operator.data && s.address.toLowerCase() === operator.data.toLowerCase();
  return (
    <div class="page" data-testid="operator-page">
      <MarketStatus operator={operator.data} />
      <Charts />
      <IntervalResults />
      <ParticipantsCard isOperator={isOperator} operator={operator.data} />
      <MetersCard />
    </div>
  );
}

function MarketStatus({ operator }: { operator?: string }) {
  const client = useContext(ClientContext);
  const current = client.intervalAt(now.value);
  const q = useChainQuery(
    async () => {
      const ds = [current - 1, current, current + 1].filter((d) => d >= 1);
      const [views, pool, count] = await Promise.all([Promise.all(ds.map((d) => client.market.intervalOf(d))), client.market.pool(), client.market.participantCount()]);
      return { ds, views, pool, count: Number(count) };
    },
    [current],
  );
  return (
    <Card title="Market" id="market-status">
      <dl class="stats">
        <Stat label="Current interval" testid="current-interval">
          {current} <span class="muted">({hhmm(client.times(current).start)}–{hhmm(client.times(current).end)})</span>
        </Stat>
        {q.data?.ds.map((d, i) => (
          <Stat label={`Interval ${d}`}>
            {PHASES[Number(q.data!.views[i].phase)].toLowerCase()}
            {Number(q.data!.views[i].stage) > 0 && Number(q.data!.views[i].stage) < 4 ? `, clearing stage ${STAGES[Number(q.data!.views[i].stage)]}` : ""}
          </Stat>
        ))}
        <Stat label="Participants" testid="participant-count">
          {participants.value.length}
        </Stat>
        <Stat label="Incentive pool">{q.data ? <Money wei={q.data.pool[0]} /> : "…"}</Stat>
        <Stat label="Operator">{operator ? <code title={operator}>{short(operator)}</code> : "…"}</Stat>
        <Stat label="Network">
          {client.config.network} (chain {client.config.chainId}), block {latestBlock.value}
        </Stat>
      </dl>
    </Card>
  );
}

function Charts() {
  const client = useContext(ClientContext);
  const sums = summaries.value;
  const agg = energy.value;
  const current = client.intervalAt(now.value);
  // up to the newest cleared interval (the one being delivered is cleared before it starts)
  const last = useMemo(() => Math.max(current - 1, ...[...sums.keys()].filter((d) => d <= current + 1)), [sums, current]);
  const first = Math.max(1, last - DAY_INTERVALS + 1);
  const data = useMemo(() => {
    const labels: string[] = [];
    const price: (number | null)[] = [];
    const cleared: number[] = [];
    const actual: (number | null)[] = [];
    for (let d = first; d <= last; d++) {
      labels.push(`${d} ${hhmm(client.times(d).start)}`);
      const s = sums.get(d);
      price.push(s && s.trades > 0 ? Number(s.averagePriceWeiPerKWh) / 1e15 : null);
      const e = agg.get(d);
      cleared.push(Number(e?.soldWh ?? s?.tradedWh ?? 0n) / 1000);
      actual.push(e ? Number(e.deliveredWh) / 1000 : null);
    }
    return { labels, price, cleared, actual };
  }, [sums, agg, first, last]);
  const priceConfig = useMemo(
    () => ({
      type: "line" as const,
      data: { labels: data.labels, datasets: [{ label: "average price, 10⁻³ ETH/kWh", data: data.price, borderColor: "#2563eb", backgroundColor: "#2563eb", spanGaps: true, pointRadius: 3 }] },
      options: { animation: false as const, maintainAspectRatio: false, scales: { y: { beginAtZero: false } }, plugins: { legend: { display: true } } },
    }),
    [data],
  );
  const energyConfig = useMemo(
    () => ({
      type: "bar" as const,
      data: {
        labels: data.labels,
        datasets: [
          { label: "cleared (sold) kWh", data: data.cleared, backgroundColor: "#16a34a" },
          { label: "metered by those sellers, kWh", data: data.actual, backgroundColor: "#f59e0b" },
        ],
      },
      options: { animation: false as const, maintainAspectRatio: false, plugins: { legend: { display: true } } },
    }),
    [data],
  );
  const loading = energyLoading.value;
  return (
    <Card title="The day" id="charts">
      <div class="charts">
        <figure>
          <figcaption>Average price per interval (trades only)</figcaption>
          <ChartView config={priceConfig} label="average price per interval" testid="price-chart" />
        </figure>
        <figure>
          <figcaption>
            Cleared vs actual energy per interval{loading ? ` (loading settlements, ${Math.floor((100 * loading.done) / Math.max(1, loading.total))} %)` : ""}
          </figcaption>
          <ChartView config={energyConfig} label="cleared versus metered energy per interval" testid="energy-chart" />
        </figure>
      </div>
    </Card>
  );
}

/**
 * The interval the results open on: the newest one with settlements (its balancing and incentives
 * are there to read); until the day's settlements are loaded, the newest cleared one whose
 * settlement has opened; before anything is cleared, the interval just delivered.
 */
function defaultInterval(client: MarketClient, sums: Map<number, IntervalSummary>, agg: Map<number, EnergyAggregate>, loaded: boolean, t: number): number {
  const settled = [...agg].filter(([, e]) => e.settled > 0).map(([d]) => d);
  if (settled.length) return Math.max(...settled);
  const open = [...sums.keys()].filter((d) => client.times(d).settleStart <= t);
  if (!loaded && open.length) return Math.max(...open);
  return Math.max(1, client.intervalAt(t) - 1, ...(loaded ? [] : sums.keys()));
}

function IntervalResults() {
  const client = useContext(ClientContext);
  const sums = summaries.value;
  const agg = energy.value;
  const d = selectedInterval.value ?? defaultInterval(client, sums, agg, energyLoaded.value, now.value);
  const q = useChainQuery(
    async () => {
      const [view, revealed, trades, settled, forfeits] = await Promise.all([
        client.market.intervalOf(d),
        client.logs(["BidRevealed"], [d]),
        client.logs(["TradeMatched"], [d]),
        client.logs(["ParticipantSettled"], [d]),
        client.logs(["BidForfeited"], [d]),
      ]);
      const debts = new Map<number, bigint>();
      if (settled.length) {
        const txs = new Set(settled.map((l) => l.transactionHash));
        const blocks = settled.map((l) => l.blockNumber);
        for (const l of await client.logs(["DebtRecorded"], [], Math.min(...blocks), Math.max(...blocks))) {
          if (txs.has(l.transactionHash)) debts.set(Number(l.args.debtor), (debts.get(Number(l.args.debtor)) ?? 0n) + l.args.amount);
        }
      }
      return { view, revealed, trades, settled, forfeits, debts };
    },
    [d],
    (keys) => keys.has(`i:${d}`) || keys.has("DebtRecorded"),
  );
  const r = q.data;
  const filled = new Map<number, bigint>();
  for (const t of r?.trades ?? []) {
    for (const id of [Number(t.args.sellerId), Number(t.args.buyerId)]) filled.set(id, (filled.get(id) ?? 0n) + t.args.energyWh);
  }
  const book = useMemo(() => {
    const rows = [...(r?.revealed ?? [])];
    const sells = rows.filter((l) => Number(l.args.side) === Side.Sell).sort((a, b) => (a.args.priceWeiPerKWh === b.args.priceWeiPerKWh ? Number(a.args.id - b.args.id) : a.args.priceWeiPerKWh < b.args.priceWeiPerKWh ? -1 : 1));
    const buys = rows.filter((l) => Number(l.args.side) === Side.Buy).sort((a, b) => (a.args.priceWeiPerKWh === b.args.priceWeiPerKWh ? Number(a.args.id - b.args.id) : a.args.priceWeiPerKWh > b.args.priceWeiPerKWh ? -1 : 1));
    return [...sells, ...buys];
  }, [r]);
  const w = client.times(d);
  return (
    <Card
      title={`Interval ${d} results`}
      id="interval-results"
      actions={
        <div class="pager">
          <button onClick={() => (selectedInterval.value = Math.max(1, d - 1))} aria-label="previous interval">
            ‹
          </button>
          <input
            type="number"
            min={1}
            value={d}
            aria-label="interval"
            data-testid="interval-input"
            onChange={(e) => {
              const v = Number((e.target as HTMLInputElement).value);
              if (Number.isInteger(v) && v >= 1) selectedInterval.value = v;
            }}
          />
          <button onClick={() => (selectedInterval.value = d + 1)} aria-label="next interval">
            ›
          </button>
        </div>
      }
    >
      {!r ? (
        <p>{q.error ? <Message kind="error" text={q.error} /> : "Loading…"}</p>
      ) : (
        <>
          <dl class="stats" data-testid="interval-summary">
            <Stat label="Delivery">
              {hhmm(w.start)}–{hhmm(w.end)}
            </Stat>
            <Stat label="Phase">
              {PHASES[Number(r.view.phase)].toLowerCase()} ({STAGES[Number(r.view.stage)]})
            </Stat>
            <Stat label="Bids revealed">{r.revealed.length}</Stat>
            <Stat label="Trades" testid="interval-trades">
              {Number(r.view.trades)}, {kWh(r.view.tradedWh)} kWh
            </Stat>
            <Stat label={Number(r.view.trades) > 0 ? "Average price (per kWh)" : "Reference price (no trade)"} testid="interval-price">
              <Money wei={r.view.averagePriceWeiPerKWh} />
            </Stat>
            <Stat label="Settled participants">{r.settled.length}</Stat>
            <Stat label="Forfeited commits">{r.forfeits.length}</Stat>
          </dl>
          <h3>Order book (revealed bids)</h3>
          <VirtualTable
            testid="order-book"
            rows={book}
            rowKey={(l) => `${l.args.id}`}
            empty="No revealed bids (before the reveal, bids are sealed)."
            columns={[
              { title: "Side", width: "4rem", render: (l) => (Number(l.args.side) === Side.Sell ? <span class="sell">sell</span> : <span class="buy">buy</span>) },
              { title: "Participant", width: "minmax(8rem,1fr)", render: (l) => `#${l.args.id} ${nameOf(l.args.id)}` },
              { title: "Green", width: "4rem", render: (l) => (participants.value[Number(l.args.id) - 1]?.green ? "yes" : "") },
              { title: "kWh", width: "6rem", align: "right", render: (l) => kWh(l.args.energyWh) },
              { title: "ETH/kWh", width: "8rem", align: "right", render: (l) => ether(l.args.priceWeiPerKWh) },
              { title: "Matched kWh", width: "7rem", align: "right", render: (l) => kWh(filled.get(Number(l.args.id)) ?? 0n) },
            ]}
          />
          <h3>Trades</h3>
          <VirtualTable
            testid="trades"
            rows={r.trades}
            rowKey={(l) => `${l.transactionHash}:${l.logIndex}`}
            empty="No trades."
            columns={[
              { title: "Stage", width: "4rem", render: (l) => (Number(l.args.stage) === 1 ? "green" : "all") },
              { title: "Seller", width: "minmax(7rem,1fr)", render: (l) => `#${l.args.sellerId} ${nameOf(l.args.sellerId)}` },
              { title: "Buyer", width: "minmax(7rem,1fr)", render: (l) => `#${l.args.buyerId} ${nameOf(l.args.buyerId)}` },
              { title: "kWh", width: "6rem", align: "right", render: (l) => kWh(l.args.energyWh) },
              { title: "ETH/kWh", width: "8rem", align: "right", render: (l) => ether(l.args.priceWeiPerKWh) },
              { title: "Paid", width: "minmax(10rem,1fr)", align: "right", render: (l) => <Money wei={l.args.amountWei} /> },
            ]}
          />
          <h3>Balancing, incentives and owed amounts</h3>
          <VirtualTable
            testid="settlements"
            rows={r.settled}
            rowKey={(l) => `${l.args.id}`}
            rowHeight={48}
            empty={`Not settled yet (settlement opens ${hhmm(w.settleStart)}).`}
            columns={[
              { title: "Participant", width: "minmax(7rem,1fr)", render: (l) => `#${l.args.id} ${nameOf(l.args.id)}` },
              { title: "Declared / cleared / metered kWh", width: "11rem", render: (l: MarketLog) => `${kWh(l.args.declaredWh)} / ${kWh(l.args.clearedWh)} / ${kWh(l.args.actualWh)}${l.args.readingMissing ? " (no reading)" : ""}` },
              { title: "Balancing", width: "minmax(9rem,1fr)", align: "right", render: (l) => <Money wei={l.args.balancingWei} signed /> },
              { title: "Reward / penalty", width: "9rem", align: "right", render: (l) => `+${ether(l.args.rewardWei)} / -${ether((l.args.rewardWei as bigint) - (l.args.incentiveWei as bigint))}` },
              { title: "Net incentive", width: "minmax(9rem,1fr)", align: "right", render: (l) => <Money wei={l.args.incentiveWei} signed /> },
              { title: "Owed", width: "minmax(7rem,0.8fr)", align: "right", render: (l) => (r.debts.get(Number(l.args.id)) ? <Money wei={r.debts.get(Number(l.args.id))!} /> : "–") },
            ]}
          />
        </>
      )}
    </Card>
  );
}

interface RowDetail {
  balance: bigint;
  owed: bigint;
  due: bigint;
  lastInterval?: number;
  importWh?: bigint;
  exportWh?: bigint;
  gaps?: number;
}

/** Wallets and meters of the visible rows only, re-read when their events arrive. */
function useRowDetails(rows: Participant[], withReadings: boolean) {
  const client = useContext(ClientContext);
  const [details, setDetails] = useState<Map<number, RowDetail>>(new Map());
  const range = useRef<[number, number]>([0, -1]);
  const cache = useRef(new Map<number, RowDetail>());
  const loading = useRef(new Set<number>());
  const load = (ids: number[]) => {
    const todo = ids.filter((id) => !loading.current.has(id));
    if (!todo.length) return;
    todo.forEach((id) => loading.current.add(id));
    const current = client.intervalAt(now.peek());
    const from = Math.max(1, current - DAY_INTERVALS);
    void Promise.all(
      todo.map(async (id) => {
        try {
          const [w, meter] = await Promise.all([client.market.walletOf(id), withReadings ? client.market.meterOf(id) : undefined]);
          const d: RowDetail = { balance: w.balance, owed: w.owed, due: w.due };
          if (meter?.hasReading) {
            d.lastInterval = Number(meter.lastInterval);
            const [readingLogs, reading] = await Promise.all([client.logs(["ReadingPosted"], [id]), client.market.readingOf(id, meter.lastInterval)]);
            d.importWh = reading[1];
            d.exportWh = reading[2];
            const posted = new Set(readingLogs.map((l) => Number(l.args.interval)));
            const firstPosted = Math.min(...posted);
            let gaps = 0;
            for (let k = Math.max(from, firstPosted); k < current; k++) if (!posted.has(k)) gaps++;
            d.gaps = gaps;
          } else if (meter) {
            d.gaps = undefined;
          }
          cache.current.set(id, d);
        } finally {
          loading.current.delete(id);
        }
      }),
    ).then(() => setDetails(new Map(cache.current)));
  };
  const onRange = (first: number, last: number) => {
    range.current = [first, last];
    load(rows.slice(first, last + 1).filter((p) => !cache.current.has(p.id)).map((p) => p.id));
  };
  // new blocks: re-read the visible rows whose events arrived (and the readings every interval)
  const t = touched.value;
  useEffect(() => {
    const [first, last] = range.current;
    const visible = rows.slice(first, last + 1);
    const stale = visible.filter((p) => t.keys.has(`p:${p.id}`)).map((p) => p.id);
    stale.forEach((id) => cache.current.delete(id));
    load(stale);
  }, [t.block]);
  return { details, onRange };
}

function ParticipantsCard({ isOperator, operator }: { isOperator: boolean; operator?: string }) {
  const client = useContext(ClientContext);
  const list = participants.value;
  const [filter, setFilter] = useState("");
  const rows = useMemo(() => {
    const f = filter.trim().toLowerCase();
    return f ? list.filter((p) => p.name.toLowerCase().includes(f) || String(p.id) === f || p.account.toLowerCase().includes(f)) : list;
  }, [list, filter]);
  const { details, onRange } = useRowDetails(rows, false);
  const [binding, setBinding] = useState<Participant | null>(null);
  const [proposed, setProposed] = useState<string | undefined>();
  const { msg, busy, run } = useAction<number>();
  const authorize = (p: Participant) =>
    run(async () => {
      await send(client, `${p.authorized ? "revoking" : "authorizing"} #${p.id}`, (m) => m.authorize(p.id, !p.authorized));
      return `#${p.id} ${p.name} is ${p.authorized ? "no longer authorized" : "authorized to trade"}.`;
    }, p.id);
  return (
    <Card
      title={`Participants (${list.length})`}
      id="participants"
      actions={<input type="search" placeholder="filter: name, ID, account" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} data-testid="participant-filter" />}
    >
      {!isOperator && (
        <div class="operator-sign-in">
          <p class="muted small">
            Authorizing and proposing meters needs the operator's account{operator ? ` (${short(operator)})` : ""}.
          </p>
          {!session.value && <SignIn purpose="Sign in as the operator to authorize participants and propose meters." />}
          {session.value && <Message kind="warn" text="The signed-in account is not the operator: actions are disabled." />}
        </div>
      )}
      <Message kind={msg?.kind ?? "ok"} text={msg?.text} testid="participants-msg" />
      <Message kind="ok" text={proposed} testid="propose-notice" />
      {binding && (
        <ProposeMeter
          p={binding}
          onDone={(text) => {
            setBinding(null);
            setProposed(text);
          }}
        />
      )}
      <VirtualTable
        testid="participants-table"
        rows={rows}
        rowKey={(p) => p.id}
        onRange={onRange}
        rowHeight={44}
        columns={[
          { title: "#", width: "3.5rem", render: (p) => p.id },
          { title: "Name", width: "minmax(8rem,1fr)", render: (p) => <span data-testid={`participant-${p.id}`}>{p.name}</span> },
          { title: "Type", width: "6.5rem", render: (p) => (p.grid ? "public grid" : p.green ? "green" : "conventional") },
          {
            title: "Trading",
            width: "10.5rem",
            render: (p) =>
              p.grid ? (
                <span class="badge ok">grid</span>
              ) : (
                <span class="cell-actions">
                  <span class={`badge ${p.authorized ? "ok" : "warn"}`}>{p.authorized ? "authorized" : "pending"}</span>
                  <button class="small" disabled={!isOperator || busy === p.id} onClick={() => authorize(p)} data-testid={`authorize-${p.id}`}>
                    {p.authorized ? "revoke" : "authorize"}
                  </button>
                </span>
              ),
          },
          {
            title: "Meter",
            width: "11rem",
            render: (p) =>
              p.grid ? (
                "–"
              ) : (
                <span class="cell-actions">
                  <span class="small" title={p.proposal ? `meter ${twelve(p.proposal.number)} proposed, waiting for the prosumer to accept it` : undefined} data-testid={`meter-${p.id}`}>
                    {p.meter ? twelve(p.meter.number) : "none"}
                    {p.proposal ? " (proposal waits)" : ""}
                  </span>
                  <button class="small" disabled={!isOperator} onClick={() => setBinding(p)} data-testid={`bind-${p.id}`}>
                    {p.meter ? "replace" : "propose"}
                  </button>
                </span>
              ),
          },
          { title: "Wallet", width: "minmax(9rem,1fr)", align: "right", render: (p) => (details.get(p.id) ? <Money wei={details.get(p.id)!.balance} /> : "…") },
          { title: "Owes", width: "7rem", align: "right", render: (p) => (details.get(p.id) ? (details.get(p.id)!.owed > 0n ? <span class="bad">{ether(details.get(p.id)!.owed)}</span> : "–") : "…") },
          { title: "Account", width: "8rem", render: (p) => <code title={p.account}>{short(p.account)}</code> },
        ]}
      />
    </Card>
  );
}

const twelve = (n: bigint) => n.toString().padStart(12, "0");

/**
 * The operator proposes a meter; it is bound when the prosumer accepts it (in the portal or with
 * meter:accept). Replacing a bound meter by another one gives the old meter's closing registers.
 */
function ProposeMeter({ p, onDone }: { p: Participant; onDone: (text?: string) => void }) {
  const client = useContext(ClientContext);
  const [number, setNumber] = useState(p.meter ? twelve(p.meter.number) : "");
  const [account, setAccount] = useState(p.meter?.account ?? "");
  const [kw, setKw] = useState(p.meter ? String(p.meter.ratedPowerW / 1000) : "");
  const [closeImport, setCloseImport] = useState("");
  const [closeExport, setCloseExport] = useState("");
  const { msg, busy, run } = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    return run(async () => {
      const n = number.trim();
      if (!/^\d{12}$/.test(n) || BigInt(n) === 0n) throw new UserError("The meter number is the meter's 12-digit address, exactly 12 digits (not all zeros).");
      if (!isAddress(account.trim())) throw new UserError("The meter account must be an Ethereum address (0x followed by 40 hex digits).");
      if (!/^\d+(\.\d{1,3})?$/.test(kw.trim()) || Number(kw) <= 0) throw new UserError("The rated power is in kW, more than zero, at most 3 decimals.");
      const watts = parseDecimal(kw.trim(), 3, "Rated power (kW)");
      const swap = p.meter !== undefined && BigInt(n) !== p.meter.number;
      let close = { importWh: 0n, exportWh: 0n };
      if (swap) {
        const bound = await client.market.meterOf(p.id);
        const last = (wh: bigint) => `${kWh(wh)} kWh`;
        if (!closeImport.trim() || !closeExport.trim()) {
          throw new UserError(`Replacing meter ${twelve(p.meter!.number)} needs its closing registers (it last read ${last(bound.importWh)} import, ${last(bound.exportWh)} export). Nothing was sent.`);
        }
        close = { importWh: kWhToWh(closeImport.trim(), "Closing import (kWh)"), exportWh: kWhToWh(closeExport.trim(), "Closing export (kWh)") };
        if (close.importWh < bound.importWh || close.exportWh < bound.exportWh) {
          throw new UserError(`A register cannot go down: meter ${twelve(p.meter!.number)} last read ${last(bound.importWh)} import and ${last(bound.exportWh)} export. Nothing was sent.`);
        }
      }
      const proposal = { meterNumber: BigInt(n), account: account.trim(), ratedPowerW: watts, openImportWh: 0n, openExportWh: 0n, closeImportWh: close.importWh, closeExportWh: close.exportWh };
      await send(client, `proposing meter ${n} to #${p.id}`, (m) => m.proposeMeter(p.id, proposal));
      onDone(`Meter ${n} proposed to #${p.id} ${p.name}: it is bound when ${p.name} accepts it (its wallet holding the meter's security).`);
    });
  };
  return (
    <form class="form bind" onSubmit={submit} data-testid="bind-form">
      <strong>
        {p.meter ? "Propose replacing the meter of" : "Propose a meter to"} #{p.id} {p.name}
      </strong>
      <p class="muted small">The prosumer accepts the meter before it is bound: the rated power bounds its readings and bids, and sizes the security its wallet keeps.</p>
      <div class="row">
        <label>
          Meter number
          <input value={number} onInput={(e) => setNumber((e.target as HTMLInputElement).value)} placeholder="12 digits, e.g. 000000000001" data-testid="bind-number" />
        </label>
        <label>
          Meter account
          <input value={account} onInput={(e) => setAccount((e.target as HTMLInputElement).value)} placeholder="0x…" data-testid="bind-account" />
        </label>
        <label>
          Rated power (kW)
          <input value={kw} inputMode="decimal" onInput={(e) => setKw((e.target as HTMLInputElement).value)} placeholder="e.g. 10" data-testid="bind-kw" />
        </label>
      </div>
      {p.meter && (
        <div class="row">
          <label>
            Old meter's closing import (kWh)
            <input value={closeImport} inputMode="decimal" onInput={(e) => setCloseImport((e.target as HTMLInputElement).value)} placeholder="only for another meter" data-testid="bind-close-import" />
          </label>
          <label>
            Old meter's closing export (kWh)
            <input value={closeExport} inputMode="decimal" onInput={(e) => setCloseExport((e.target as HTMLInputElement).value)} placeholder="only for another meter" data-testid="bind-close-export" />
          </label>
        </div>
      )}
      <div class="row">
        <button class="primary" type="submit" disabled={busy} data-testid="bind-submit">
          {busy ? "Proposing…" : "Propose meter"}
        </button>
        <button type="button" onClick={() => onDone()}>
          Cancel
        </button>
      </div>
      <Message kind="error" text={msg?.text} testid="bind-msg" />
    </form>
  );
}

function MetersCard() {
  const client = useContext(ClientContext);
  const list = participants.value;
  const rows = useMemo(() => list.filter((p) => p.meter), [list]);
  const { details, onRange } = useRowDetails(rows, true);
  const current = client.intervalAt(now.value);
  return (
    <Card title={`Meters (${rows.length})`} id="meters">
      <p class="muted small">Last reading posted by each meter's account, and the intervals without a reading in the last day (settled with zero, carried by the next reading).</p>
      <VirtualTable
        testid="meters-table"
        rows={rows}
        rowKey={(p) => p.id}
        onRange={onRange}
        rowHeight={44}
        empty="No meter bound yet."
        columns={[
          { title: "Participant", width: "minmax(8rem,1fr)", render: (p) => `#${p.id} ${p.name}` },
          { title: "Meter number", width: "8.5rem", render: (p) => p.meter!.number.toString().padStart(12, "0") },
          { title: "Meter account", width: "8rem", render: (p) => <code title={p.meter!.account}>{short(p.meter!.account)}</code> },
          { title: "Rated", width: "5rem", align: "right", render: (p) => `${p.meter!.ratedPowerW / 1000} kW` },
          {
            title: "Last reading",
            width: "minmax(11rem,1.2fr)",
            render: (p) => {
              const d = details.get(p.id);
              if (!d) return "…";
              if (d.lastInterval === undefined) return <span class="bad">none yet</span>;
              const late = current - 1 - d.lastInterval;
              return (
                <span data-testid={`reading-${p.id}`}>
                  interval {d.lastInterval}: in {kWh(d.importWh!)} / out {kWh(d.exportWh!)} kWh{late > 0 ? <span class="bad"> ({late} behind)</span> : ""}
                </span>
              );
            },
          },
          { title: "Gaps (day)", width: "6rem", align: "right", render: (p) => (details.get(p.id)?.gaps === undefined ? "–" : <span class={details.get(p.id)!.gaps! > 0 ? "bad" : ""}>{details.get(p.id)!.gaps}</span>) },
        ]}
      />
    </Card>
  );
}
