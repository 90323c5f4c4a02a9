/**
 * The market's cycle from the command line, all signed by the operator's key through lib/sender.ts:
 * - clear --interval N [--steps S]: clear one delivery interval (several transactions if needed);
 * - settle --interval N [--ids 1,2,3]: settle one interval for the given or all eligible participants;
 * - cycle:run [--poll-ms] [--once] [--batch] [--relay-port]: the daemon (lib/cycle.ts) until
 *   SIGINT/SIGTERM; with --relay-port it also carries signed messages (lib/relay.ts) with its sender.
 */
import { task, types } from "hardhat/config";
import type { HardhatRuntimeEnvironment, HttpNetworkConfig, NetworkConfig } from "hardhat/types";
import type { SettleResult, SettlementDue } from "../lib/cycle";
import { CliError, cliAction, output, parseIntList, parseNonNegativeInt } from "./cli";

/** Lazily loaded: the config must load before typechain-types exist. */
async function openCycle(hre: HardhatRuntimeEnvironment, o: { json: boolean; logTo: "stdout" | "stderr"; receiptTimeoutMs?: number; signal?: AbortSignal }) {
  const { FetchRequest, HDNodeWallet, JsonRpcProvider, Network, Wallet } = await import("ethers");
  const { readDeployment, checkDeployment } = await import("../lib/deployment");
  const { KeyError, operatorSigner } = await import("../lib/signers");
  const { attachMarket, readSchedule } = await import("../lib/market");
  const { Sender } = await import("../lib/sender");
  const { firstTradedInterval } = await import("../lib/clock");

  const deployment = readDeployment(hre.network.name);
  const net = hre.network.config;
  const log = (r: Record<string, unknown>) => process[o.logTo].write(formatRecord(r, o.json) + "\n");
  const provider = hre.network.name === "privnet" ? await privnetProvider() : "url" in net ? rpcProvider(net) : hre.ethers.provider;
  const wallet = await operatorWallet();
  const market = attachMarket(deployment.market, provider);
  const senderListeners: ((e: import("../lib/sender").SenderEvent) => void)[] = [];
  const sender = new Sender(wallet, provider, {
    errors: market.interface,
    confirmations: hre.network.name === "privnet" ? Number(process.env.PRIVNET_CONFIRMATIONS ?? "1") : 1,
    gasPrice: typeof net.gasPrice === "number" ? BigInt(net.gasPrice) : undefined,
    receiptTimeoutMs: o.receiptTimeoutMs,
    signal: o.signal,
    log: (e) => {
      log({ action: "tx", ...e });
      for (const listen of senderListeners) listen(e);
    },
  });
  const close = () => {
    if ("destroy" in provider) provider.destroy();
  };
  return { connect, log, close, relay };

  /** Serve the relayer on `port` (loopback unless `host`): signed messages carried with the operator's sender. */
  async function relay(port: number, host: string) {
    const { Relayer } = await import("../lib/relay");
    const { relayHandler } = await import("../lib/relay-http");
    const { marketDomain } = await import("../lib/signed");
    const { createServer } = await import("node:http");
    const { chainId } = await provider.getNetwork();
    const relayer = new Relayer({ market, sender, domain: marketDomain(chainId, deployment.market), log: (e) => log({ action: "relay", ...e }) });
    senderListeners.push(relayer.onSenderEvent);
    const handle = relayHandler(relayer);
    const server = createServer((req, res) => {
      void handle(req, res).then((served) => {
        if (!served) res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "only /relay/<kind> and /relay/receipt/<id> are served here" }));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", (e) => reject(new CliError(`cannot serve the relayer on ${host}:${port}: ${(e as Error).message}`)));
      server.listen(port, host, () => resolve());
    });
    log({ action: "relay", event: "listening", url: `http://${host}:${port}/relay/` });
    return () => {
      relayer.stop();
      server.closeAllConnections();
      server.close();
    };
  }

  /** Check that the node serves the deployed market, and read its schedule. */
  async function connect() {
    await checkDeployment(provider as unknown as { send(method: string, params: unknown[]): Promise<unknown> }, deployment, { network: hre.network.name, url: "url" in net ? net.url : undefined });
    const schedule = await readSchedule(market);
    return { ctx: { market, sender, schedule, log }, fromInterval: firstTradedInterval(schedule, deployment.deployedAt.time) };
  }

  /** Every privnet node (PRIVNET_RPC_URLS): one in use at a time, the next when it stops answering. */
  async function privnetProvider() {
    const { FailoverProvider, NodeList, privnetRpcUrls } = await import("../lib/rpc");
    return new FailoverProvider(new NodeList(privnetRpcUrls(), { log: (e) => log({ action: "rpc", ...e }) }), deployment.chainId);
  }

  function rpcProvider(n: HttpNetworkConfig) {
    const request = new FetchRequest(n.url);
    request.timeout = n.timeout;
    // No response cache: a receipt polled just before it was mined must not be served as null again.
    return new JsonRpcProvider(request, Network.from(deployment.chainId), { staticNetwork: true, cacheTimeout: -1 });
  }

  /** The operator's key as a local wallet (the sender signs raw transactions itself). */
  async function operatorWallet() {
    const signer = await operatorSigner(hre);
    if ("privateKey" in signer) return new Wallet(String(signer.privateKey), provider);
    const address = await signer.getAddress();
    const key = configuredKeys(net).find((k) => new Wallet(k).address === address);
    if (!key) throw new KeyError(`cannot find the private key of the operator ${address} in the "${hre.network.name}" network's accounts`);
    return new Wallet(key, provider);
  }

  function configuredKeys(n: NetworkConfig): string[] {
    const accounts = n.accounts;
    if (accounts === "remote") throw new KeyError(`network "${hre.network.name}" has remote accounts: the cycle signs locally, configure a key`);
    if (Array.isArray(accounts)) return accounts.map((a) => (typeof a === "string" ? a : a.privateKey));
    return Array.from({ length: accounts.count }, (_, i) => HDNodeWallet.fromPhrase(accounts.mnemonic, accounts.passphrase, `${accounts.path}/${accounts.initialIndex + i}`).privateKey);
  }
}

/** A log record as one line: JSON, or `time action event key=value …`. */
function formatRecord(r: Record<string, unknown>, json: boolean): string {
  const time = new Date().toISOString();
  const plain = (v: unknown): unknown => (typeof v === "bigint" ? v.toString() : Array.isArray(v) ? v.map(plain) : v);
  if (json) return JSON.stringify({ time, ...r }, (_k, v) => plain(v));
  const { action, event, ...rest } = r;
  const fields = Object.entries(rest)
    .filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.map(plain).join(",") : String(plain(v)).includes(" ") ? JSON.stringify(String(v)) : String(plain(v))}`);
  return [time, action, event, ...fields].join(" ");
}

type Cycle = Awaited<ReturnType<typeof openCycle>>;

/** Connect, waiting for a node that is not up yet; undefined when stopped while waiting. */
async function untilConnected(cycle: Cycle, signal: AbortSignal): Promise<Awaited<ReturnType<Cycle["connect"]>> | undefined> {
  const { isUnreachable, sleep } = await import("../lib/sender");
  for (let waiting = false; ; ) {
    try {
      return await cycle.connect();
    } catch (e) {
      if (!isUnreachable(e)) throw e;
      if (!waiting) cycle.log({ action: "daemon", event: "node-unreachable", error: String((e as Error).message).split("\n")[0], note: "waiting for the node" });
      waiting = true;
      const stopped = await sleep(2000, signal).then(
        () => false,
        () => true,
      );
      if (stopped) {
        cycle.log({ action: "daemon", event: "stopped", note: "stopped while waiting for the node" });
        return undefined;
      }
    }
  }
}

/** Why participant `id` cannot be settled for `d` now (one line), from what is due. */
function refuseUnsettleable(id: number, d: number, dues: SettlementDue[]): void {
  const mine = dues.filter((x) => x.id === id);
  if (mine.some((x) => x.grid)) {
    if (!mine.some((x) => x.grid && x.interval === d)) throw new CliError(`--ids: the grid (participant ${id}) has no open bid to settle in interval ${d}`);
    return;
  }
  const due = mine[0];
  if (!due) throw new CliError(`--ids: participant ${id} has nothing to settle (no such participant, or no meter bound ever)`);
  if (due.interval < d) throw new CliError(`--ids: participant ${id} is settled interval after interval, and interval ${due.interval} comes first`);
  if (due.interval > d) throw new CliError(`--ids: participant ${id} is already settled for interval ${d}`);
  if (!due.ready) throw new CliError(`--ids: participant ${id} cannot be settled for interval ${d} yet: ${due.reason}`);
}

function formatSettlement(r: SettleResult & { waiting: { id: number; reason?: string }[]; alreadySettled: number[] }): string {
  const missing = r.readingMissing.length ? ` (reading missing: ${r.readingMissing.join(", ")})` : "";
  return [
    r.settled.length ? `interval ${r.interval}: settled ${r.settled.join(", ")}${missing}` : `interval ${r.interval}: nothing settled`,
    ...r.transactions.map((t) => `  tx ${t.tx} gas ${t.gasUsed} ids ${t.ids.join(",")}`),
    ...r.rejected.map((x) => `  rejected ${x.ids.join(",")}: ${x.revert} (${x.outcome})`),
    ...r.waiting.map((w) => `  waiting ${w.id}: ${w.reason}`),
    ...(r.alreadySettled.length ? [`  already settled: ${r.alreadySettled.join(", ")}`] : []),
  ].join("\n");
}

function intervalArg(value: string | undefined): number {
  const d = parseNonNegativeInt(value, "--interval");
  if (d === 0) throw new CliError("--interval: interval 0 has no trading; give 1 or more");
  return d;
}

task("clear", "Clear a delivery interval (continues until done, in several transactions if needed)")
  .addParam("interval", "delivery interval", undefined, types.string)
  .addOptionalParam("steps", "clearing steps per transaction (default: lib/market DEFAULT_CLEAR_STEPS)", undefined, types.string)
  .addFlag("json", "print JSON")
  .setAction(
    cliAction(async (args: { interval: string; steps?: string; json: boolean }, hre) => {
      const d = intervalArg(args.interval);
      const { DEFAULT_CLEAR_STEPS } = await import("../lib/market");
      const steps = args.steps === undefined ? DEFAULT_CLEAR_STEPS : parseNonNegativeInt(args.steps, "--steps");
      if (steps === 0) throw new CliError("--steps: must be at least 1");
      const { clearDelivery, readHead } = await import("../lib/cycle");
      const { localTime, revealEnd } = await import("../lib/clock");
      const cycle = await openCycle(hre, { json: args.json, logTo: "stderr" });
      try {
        const { ctx } = await cycle.connect();
        const head = await readHead(ctx.market);
        if (head.time < revealEnd(ctx.schedule, d)) {
          throw new CliError(`interval ${d} cannot be cleared yet: its reveal window closes at ${localTime(revealEnd(ctx.schedule, d))} local time`);
        }
        const r = await clearDelivery(ctx, d, steps);
        if (r.revert) throw new CliError(`the market rejected clearing interval ${d}: ${r.revert}`);
        const gas = r.transactions.reduce((sum, t) => sum + t.gasUsed, 0n);
        output(args.json, r, () =>
          r.alreadyCleared ? `interval ${d} was already cleared` : `interval ${d} cleared in ${r.transactions.length} transaction(s), gas ${gas}: ${r.transactions.map((t) => t.tx).join(", ")}`,
        );
      } finally {
        cycle.close();
      }
    }),
  );

task("settle", "Settle a delivery interval for the given participants, or for all that are eligible now")
  .addParam("interval", "delivery interval", undefined, types.string)
  .addOptionalParam("ids", "participant IDs, comma-separated (default: all eligible)", undefined, types.string)
  .addOptionalParam("batch", "participants per transaction", "50", types.string)
  .addFlag("json", "print JSON")
  .setAction(
    cliAction(async (args: { interval: string; ids?: string; batch: string; json: boolean }, hre) => {
      const d = intervalArg(args.interval);
      const given = args.ids === undefined ? undefined : parseIntList(args.ids, "--ids");
      const batch = parseNonNegativeInt(args.batch, "--batch");
      if (batch === 0) throw new CliError("--batch: must be at least 1");
      const { readHead, settleDelivery, settlementsDue } = await import("../lib/cycle");
      const { STAGE_DONE } = await import("../lib/market");
      const cycle = await openCycle(hre, { json: args.json, logTo: "stderr" });
      try {
        const { ctx, fromInterval } = await cycle.connect();
        if (Number((await ctx.market.intervalOf(d)).stage) !== STAGE_DONE) throw new CliError(`interval ${d} is not cleared yet (run \`clear --interval ${d}\` first)`);
        const head = await readHead(ctx.market);
        const all = await settlementsDue(ctx, head, Math.max(fromInterval, d), d + 1);
        // the market skips what it cannot settle (EntrySkipped): given ids are checked first, so nothing is sent for them in vain
        given?.forEach((id) => refuseUnsettleable(id, d, all));
        const dues = given ? [] : all;
        const ids = given ?? dues.filter((x) => x.interval === d && x.ready).map((x) => x.id);
        const waiting = dues.filter((x) => x.interval <= d && !(x.interval === d && x.ready)).map((x) => ({ id: x.id, reason: x.interval < d ? `interval ${x.interval} is settled first` : x.reason }));
        const alreadySettled = dues.filter((x) => x.interval > d && !x.grid).map((x) => x.id);
        const r = ids.length ? await settleDelivery(ctx, d, ids, { batch: given ? ids.length : batch, split: !given }) : undefined;
        if (given && r?.rejected.length) throw new CliError(`the market rejected settling interval ${d}: ${r.rejected[0].revert}`);
        const result = { interval: d, settled: r?.settled ?? [], readingMissing: r?.readingMissing ?? [], transactions: r?.transactions ?? [], rejected: r?.rejected ?? [], waiting, alreadySettled };
        output(args.json, result, () => formatSettlement(result));
      } finally {
        cycle.close();
      }
    }),
  );

task("cycle:run", "Keep the market moving: clear and settle every interval as it becomes due (stop with Ctrl-C)")
  .addOptionalParam("pollMs", "pause between checks when nothing is due, in ms", "2000", types.string)
  .addOptionalParam("batch", "participants per settle transaction", "50", types.string)
  .addOptionalParam("steps", "clearing steps per transaction (default: lib/market DEFAULT_CLEAR_STEPS)", undefined, types.string)
  .addOptionalParam("receiptTimeoutMs", "wait this long for a receipt before replacing the transaction", "30000", types.string)
  .addOptionalParam("stopGraceMs", "on SIGINT/SIGTERM, wait this long for the transaction in flight", "15000", types.string)
  .addOptionalParam("relayPort", "also relay prosumers' and meters' signed messages on this port (POST /relay/<kind>)", undefined, types.string)
  .addOptionalParam("relayHost", "address the relayer listens on", "127.0.0.1", types.string)
  .addFlag("once", "do what is due now, then exit")
  .addFlag("json", "log JSON lines")
  .setAction(
    cliAction(
      async (
        args: { pollMs: string; batch: string; steps?: string; receiptTimeoutMs: string; stopGraceMs: string; relayPort?: string; relayHost: string; once: boolean; json: boolean },
        hre,
      ) => {
        const pollMs = parseNonNegativeInt(args.pollMs, "--poll-ms");
        const batch = parseNonNegativeInt(args.batch, "--batch");
        const receiptTimeoutMs = parseNonNegativeInt(args.receiptTimeoutMs, "--receipt-timeout-ms");
        const stopGraceMs = parseNonNegativeInt(args.stopGraceMs, "--stop-grace-ms");
        const { DEFAULT_CLEAR_STEPS } = await import("../lib/market");
        const clearSteps = args.steps === undefined ? DEFAULT_CLEAR_STEPS : parseNonNegativeInt(args.steps, "--steps");
        if (batch === 0 || clearSteps === 0 || receiptTimeoutMs === 0) throw new CliError("--batch, --steps and --receipt-timeout-ms must be at least 1");
        const { CycleDaemon } = await import("../lib/cycle");
        const abandon = new AbortController();
        const cycle = await openCycle(hre, { json: args.json, logTo: "stdout", receiptTimeoutMs, signal: abandon.signal });
        let daemon: InstanceType<typeof CycleDaemon> | undefined;
        let stopRelay: (() => void) | undefined;
        const onSignal = (signal: NodeJS.Signals) => {
          if (abandon.signal.aborted) return;
          const first = daemon !== undefined && !daemon.isStopping();
          cycle.log({ action: "daemon", event: "signal", signal, note: first ? `finishing the step in flight (at most ${stopGraceMs} ms)` : "stopping now" });
          daemon?.stop();
          if (first) setTimeout(() => abandon.abort(), stopGraceMs).unref();
          else abandon.abort();
        };
        process.on("SIGINT", onSignal);
        process.on("SIGTERM", onSignal);
        try {
          const connected = args.once ? await cycle.connect() : await untilConnected(cycle, abandon.signal);
          if (!connected) return;
          if (args.relayPort !== undefined) stopRelay = await cycle.relay(parseNonNegativeInt(args.relayPort, "--relay-port"), args.relayHost);
          daemon = new CycleDaemon(connected.ctx, { fromInterval: connected.fromInterval, batch, clearSteps, pollMs });
          await daemon.run(args.once);
        } finally {
          stopRelay?.();
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
          cycle.close();
        }
      }),
  );
