/** The prosumer's pages: account and registration, wallet, sealed bids, and their own history. */
import { useContext, useEffect, useState } from "preact/hooks";
import { ZeroHash, toUtf8Bytes } from "ethers";
import { Side, SideValue, commitmentOf, newSalt } from "../../lib/market";
import { costOf, ratedEnergyOf, saleCollateralOf, securityOf } from "../../lib/model";
import { signAcceptance, signCommit, signRegistration, signWithdrawal } from "../../lib/signed";
import { etherToWei, kWhToWh } from "../../lib/units";
import { Carriage, StillWithRelayer, carry, sendOwn } from "./carry";
import type { MarketClient, MarketLog } from "./chain";
import { ClientContext } from "./context";
import { UserError, explain } from "./errors";
import { clock, cny, duration, ether, hhmm, kWh } from "./format";
import { useAction, useChainQuery } from "./hooks";
import { forgetBid, heldOpening, keepBid, loadBids, revealDue, sealedOf, storedBids, updateBid } from "./sealed";
import { Receipt, ReceiptLine } from "./Receipt";
import { Session, session } from "./session";
import { SignIn } from "./SignIn";
import { now } from "./store";
import { Card, Message, Money, Stat } from "./ui";
import { VirtualTable } from "./VirtualTable";

type Me = Awaited<ReturnType<typeof readMe>>;

async function readMe(client: MarketClient, address: string) {
  const m = client.market;
  const next = client.intervalAt(now.peek()) + 1;
  const [id, external, params] = await Promise.all([m.idOf(address), client.provider.getBalance(address), m.paramsAt(next)]);
  if (id === 0n) return { id: 0, external, params, participant: undefined, wallet: undefined, meter: undefined, proposal: undefined, security: 0n };
  const [participant, wallet, meter, [proposalHash, proposed]] = await Promise.all([m.participant(id), m.walletOf(id), m.meterOf(id), m.meterProposalOf(id)]);
  const proposal = proposalHash === ZeroHash ? undefined : { hash: proposalHash, meter: proposed, security: securityOf(ratedEnergyOf(proposed.ratedPowerW, client.config.schedule.intervalSeconds), params) };
  // what the bound meter keeps in the wallet under the next interval's parameters (the market's own check at a bid)
  const security = meter.meterNumber > 0n ? securityOf(ratedEnergyOf(meter.ratedPowerW, client.config.schedule.intervalSeconds), params) : 0n;
  return { id: Number(id), external, params, participant, wallet, meter, proposal, security };
}

const twelve = (n: bigint) => n.toString().padStart(12, "0");

export function ProsumerPage() {
  const s = session.value;
  return (
    <div class="page" data-testid="prosumer-page">
      <SignIn purpose="Sign in with your account to register, deposit, bid and read your records." />
      {s && <SignedIn s={s} />}
    </div>
  );
}

function SignedIn({ s }: { s: Session }) {
  const client = useContext(ClientContext);
  const me = useChainQuery(() => readMe(client, s.address), [s.address]);
  useEffect(() => loadBids(client, s.address), [s.address]);
  // the auto-reveal: every second while signed in
  const t = now.value;
  useEffect(() => void revealDue(client), [t, s.address]);
  if (!me.data) return <Card title="Your account">{me.error ? <Message kind="error" text={me.error} /> : <p>Reading your record…</p>}</Card>;
  const d = me.data;
  return (
    <>
      <Account me={d} address={s.address} reload={me.reload} />
      {d.id > 0 && (
        <>
          <WalletCard me={d} reload={me.reload} />
          <BidCard me={d} address={s.address} reload={me.reload} />
          <History id={d.id} />
        </>
      )}
    </>
  );
}

function Account({ me, address, reload }: { me: Me; address: string; reload: () => void }) {
  const client = useContext(ClientContext);
  const [name, setName] = useState("");
  const [green, setGreen] = useState(false);
  const registering = useAction(); // its notice and receipt stay on the account card once registered
  const { msg, busy, run } = registering;
  const meterAction = useAction(); // accepting a proposed meter: its notice stays once the offer is gone
  const register = (e: Event) => {
    e.preventDefault();
    return run(async () => {
      const trimmed = name.trim();
      const bytes = toUtf8Bytes(trimmed).length;
      if (bytes < 1 || bytes > 64) throw new UserError("A name must be 1 to 64 bytes long.");
      await carry(client, {
        label: "registering",
        kind: "registration",
        message: (domain) => signRegistration(session.value!.signer, domain, trimmed, green),
        direct: (m) => m.register(trimmed, green),
        done: async () => (await client.market.idOf(address)) !== 0n,
        onUpdate: registering.track,
      });
      reload();
      return "Registered. The operator now has to authorize you before you can trade.";
    });
  };
  if (!me.participant) {
    return (
      <Card title="Register" id="register">
        <p>This account is not registered in the market yet. Your account holds <Money wei={me.external} /> for deposits and gas.</p>
        <form class="form" onSubmit={register}>
          <label>
            Name
            <input value={name} maxLength={64} onInput={(e) => setName((e.target as HTMLInputElement).value)} data-testid="register-name" />
          </label>
          <label class="check">
            <input type="checkbox" checked={green} onChange={(e) => setGreen((e.target as HTMLInputElement).checked)} data-testid="register-green" />
            Green: renewable generation when selling, green preference when buying
          </label>
          <button class="primary" type="submit" disabled={busy} data-testid="register-submit">
            {busy ? "Registering…" : "Register"}
          </button>
          <Message kind={msg?.kind ?? "ok"} text={msg?.text} testid="register-msg" />
          <Receipt c={registering.receipt} testid="register-receipt" />
        </form>
      </Card>
    );
  }
  const p = me.participant;
  return (
    <Card title={`${p.name} · participant #${me.id}`} id="account">
      <dl class="stats">
        <Stat label="Authorization" testid="authorization">
          {p.authorized ? <span class="badge ok">authorized to trade</span> : <span class="badge warn">waiting for the operator's authorization</span>}
        </Stat>
        <Stat label="Energy type">{p.green ? "green" : "conventional"}</Stat>
        <Stat label="Meter" testid="meter">
          {me.meter && me.meter.meterNumber > 0n ? `${twelve(me.meter.meterNumber)} (${Number(me.meter.ratedPowerW) / 1000} kW)` : "none bound yet"}
        </Stat>
        <Stat label="Account balance (outside the market)">
          <Money wei={me.external} />
        </Stat>
      </dl>
      {me.proposal && <MeterOffer me={me} reload={reload} accepting={meterAction} />}
      <Message kind={meterAction.msg?.kind ?? "ok"} text={meterAction.msg?.text} testid="meter-msg" />
      <Receipt c={meterAction.receipt} testid="meter-receipt" />
      {/* the registration's outcome, until the next action on this card has its own */}
      {!meterAction.msg && !meterAction.receipt && (
        <>
          <Message kind={msg?.kind ?? "ok"} text={msg?.text} testid="register-msg" />
          <Receipt c={registering.receipt} testid="register-receipt" />
        </>
      )}
    </Card>
  );
}

/** The meter the operator proposed: the prosumer accepts it once its wallet holds the meter's security. */
function MeterOffer({ me, reload, accepting }: { me: Me; reload: () => void; accepting: ReturnType<typeof useAction<true>> }) {
  const client = useContext(ClientContext);
  const { busy, run, track } = accepting;
  const offer = me.proposal!;
  const m = offer.meter;
  const w = me.wallet!;
  const held = w.locked + w.owed;
  const free = w.balance > held ? w.balance - held : 0n;
  const accept = () =>
    run(async () => {
      if (free < offer.security) {
        const more = ether(offer.security - free);
        throw new UserError(
          `This meter keeps a security of ${ether(offer.security)} ETH in your market wallet, which has ${ether(free)} ETH free: ${
            me.external === 0n ? `your account holds no ether, so ask the operator or a neighbour to deposit ${more} ETH for you (participant #${me.id})` : `deposit ${more} ETH more first`
          }. Nothing was sent.`,
        );
      }
      const signer = session.value!.signer;
      await carry(client, {
        label: `accepting meter ${twelve(m.meterNumber)}`,
        kind: "acceptance",
        message: async (domain) => ({ participant: me.id, proposal: offer.hash, ...(await signAcceptance(signer, domain, { participant: me.id, proposal: offer.hash })) }),
        direct: (c) => c.acceptMeter(offer.hash),
        done: async () => (await client.market.meterOf(me.id)).meterNumber === m.meterNumber,
        onUpdate: track,
      });
      reload();
      return `Meter ${twelve(m.meterNumber)} is bound to you; its security of ${ether(offer.security)} ETH stays in your market wallet while it is bound.`;
    });
  return (
    <div class="offer" data-testid="meter-offer">
      <p>
        The operator proposes meter <strong>{twelve(m.meterNumber)}</strong> (rated {Number(m.ratedPowerW) / 1000} kW, account <code title={m.account}>{m.account.slice(0, 10)}…</code>
        ){me.meter && me.meter.meterNumber > 0n ? ` to replace meter ${twelve(me.meter.meterNumber)}` : ""}. Accept it only if it is the meter installed for you: its rated power bounds
        your readings and bids, and <Money wei={offer.security} /> of your market wallet stays as its security while it is bound.
      </p>
      <button class="primary" disabled={busy} onClick={accept} data-testid="meter-accept">
        {busy ? "Accepting…" : `Accept meter ${twelve(m.meterNumber)}`}
      </button>
    </div>
  );
}

function WalletCard({ me, reload }: { me: Me; reload: () => void }) {
  const client = useContext(ClientContext);
  const w = me.wallet!;
  const [amount, setAmount] = useState("");
  const { msg, busy, run, receipt, track } = useAction();
  const act = (kind: "deposit" | "withdraw") =>
    run(async () => {
      const wei = etherToWei(amount.trim(), "Amount (ETH)");
      if (wei <= 0n) throw new UserError("The amount must be more than zero.");
      if (kind === "deposit" && wei >= me.external) throw new UserError(`Your account holds ${ether(me.external)} ETH, not enough to deposit ${ether(wei)} ETH and pay the gas.`);
      if (kind === "withdraw" && wei > w.withdrawable)
        throw new UserError(`You can withdraw at most ${ether(w.withdrawable)} ETH now (your meter's security stays while it is bound, the margin while bids are unsettled, sales until they are settled; debts are paid first).`);
      if (kind === "deposit") await sendOwn(client, "depositing", (m) => m.deposit({ value: wei }), track);
      else await withdraw(client, me.id, wei, track);
      setAmount("");
      reload();
      return `${kind === "deposit" ? "Deposited" : "Withdrew"} ${ether(wei)} ETH (${cny(wei)}).`;
    });
  return (
    <Card title="Market wallet" id="wallet">
      <dl class="stats">
        <Stat label="Balance (margin, security and locked sales included)" testid="wallet-balance">
          <Money wei={w.balance} />
        </Stat>
        <Stat label="Margin kept while trading">
          <Money wei={me.params.marginWei} />
        </Stat>
        <Stat label="Reserved for buy bids" testid="wallet-reserved">
          <Money wei={w.reserved} />
        </Stat>
        <Stat label="Security of your meter" testid="wallet-security">
          <Money wei={w.security} />
        </Stat>
        <Stat label="Locked until settled (sales)" testid="wallet-locked">
          <Money wei={w.locked} />
        </Stat>
        <Stat label="Owed by you" testid="wallet-owed">
          <Money wei={w.owed} />
        </Stat>
        <Stat label="Owed to you">
          <Money wei={w.due} />
        </Stat>
        <Stat label="Withdrawable now">
          <Money wei={w.withdrawable} />
        </Stat>
      </dl>
      <form class="form row" onSubmit={(e) => (e.preventDefault(), act("deposit"))}>
        <label>
          Amount (ETH)
          <input inputMode="decimal" value={amount} placeholder="e.g. 0.05" onInput={(e) => setAmount((e.target as HTMLInputElement).value)} data-testid="wallet-amount" />
        </label>
        <button class="primary" type="submit" disabled={busy} data-testid="deposit">
          Deposit
        </button>
        <button type="button" disabled={busy} onClick={() => act("withdraw")} data-testid="withdraw">
          Withdraw
        </button>
      </form>
      {me.external === 0n && (
        <p class="muted small" data-testid="deposit-for-hint">
          Your account holds no ether{client.config.relayer ? " (the platform's relayer pays the gas of your bids, meter acceptance and withdrawals)" : ""}: deposits can come
          from anyone, so the operator or a neighbour can deposit for you as participant #{me.id}.
        </p>
      )}
      <Message kind={msg?.kind ?? "ok"} text={msg?.text} testid="wallet-msg" />
      <Receipt c={receipt} testid="wallet-receipt" />
    </Card>
  );
}

/** A withdrawal to the prosumer's own account: signed for the relayer (with the next withdrawal nonce), or sent directly. */
async function withdraw(client: MarketClient, id: number, amount: bigint, track: (c: Carriage) => void) {
  const nonce = await client.market.withdrawalNonce(id);
  const signer = session.value!.signer;
  await carry(client, {
    label: "withdrawing",
    kind: "withdrawal",
    message: async (domain) => ({ participant: id, amount, nonce, ...(await signWithdrawal(signer, domain, { participant: id, amount, nonce })) }),
    direct: (m) => m.withdraw(amount),
    done: async () => (await client.market.withdrawalNonce(id)) > nonce,
    onUpdate: track,
  });
}

function BidCard({ me, address, reload }: { me: Me; address: string; reload: () => void }) {
  const client = useContext(ClientContext);
  const t = now.value;
  const next = client.intervalAt(t) + 1;
  const w = client.times(next);
  const open = t >= w.commitStart && t < w.revealStart;
  const [side, setSide] = useState<SideValue>(Side.Sell);
  const [energy, setEnergy] = useState("");
  const [price, setPrice] = useState("");
  const { msg, busy, run, clear, receipt, track } = useAction();
  // a notice is about one interval's bid: when the form moves on to the next interval, it goes
  useEffect(clear, [next]);
  const p = me.participant!;
  const wallet = me.wallet!;
  const params = me.params;

  const submit = (e: Event) => {
    e.preventDefault();
    return run(async () => {
      const energyWh = kWhToWh(energy.trim(), "Energy (kWh)");
      const priceWei = etherToWei(price.trim(), "Price (ETH per kWh)");
      if (energyWh <= 0n) throw new UserError("The energy must be more than zero.");
      if (priceWei <= 0n) throw new UserError("The price must be more than zero.");
      if (energyWh > params.maxEnergyWh) throw new UserError(`At most ${kWh(params.maxEnergyWh)} kWh per bid.`);
      if (!me.meter || me.meter.meterNumber === 0n) throw new UserError("You have no meter bound yet: the operator proposes one and you accept it. Nothing was sent.");
      const ratedWh = ratedEnergyOf(me.meter.ratedPowerW, client.config.schedule.intervalSeconds);
      if (energyWh > ratedWh) throw new UserError(`Your meter is rated ${Number(me.meter.ratedPowerW) / 1000} kW: at most ${kWh(ratedWh)} kWh in one interval. Nothing was sent.`);
      if (priceWei > params.maxPriceWeiPerKWh) throw new UserError(`The price is above the market's maximum of ${ether(params.maxPriceWeiPerKWh)} ETH per kWh.`);
      if (!p.authorized) throw new UserError("You are not authorized to trade yet: the operator has to authorize you first. Nothing was sent.");
      if (wallet.owed > 0n) throw new UserError(`You owe ${ether(wallet.owed)} ETH from earlier settlements; deposit to pay it before bidding. Nothing was sent.`);
      // the market keeps the margin and the meter's security; beyond them a buy needs its cost, a sale its collateral
      const kept = params.marginWei + me.security;
      const unlocked = wallet.balance > wallet.locked ? wallet.balance - wallet.locked : 0n;
      const free = unlocked > kept ? unlocked - kept : 0n;
      const beyond = `beyond the ${ether(params.marginWei)} ETH margin and your meter's ${ether(me.security)} ETH security your market wallet has ${ether(free)} ETH free`;
      if (side === Side.Buy) {
        const cost = costOf(energyWh, priceWei);
        if (cost > free) {
          throw new UserError(
            `This bid is above your wallet: buying ${kWh(energyWh)} kWh at ${ether(priceWei)} ETH/kWh can cost ${ether(cost)} ETH (${cny(cost)}); ${beyond}. Deposit more or bid less. Nothing was sent.`,
          );
        }
      } else {
        const collateral = saleCollateralOf(energyWh, params);
        if (collateral > free) {
          throw new UserError(`This bid is above your wallet: selling ${kWh(energyWh)} kWh locks ${ether(collateral)} ETH of collateral until it is settled (in case it is not delivered); ${beyond}. Deposit more or sell less. Nothing was sent.`);
        }
      }
      const tNow = now.peek();
      const d = client.intervalAt(tNow) + 1;
      const win = client.times(d);
      if (tNow >= win.revealStart) throw new UserError(`Sealed bids for interval ${d} closed at ${clock(win.revealStart)}; bids for interval ${d + 1} open at ${clock(client.times(d + 1).commitStart)}.`);
      const bid = { interval: d, side, energyWh, priceWeiPerKWh: priceWei, salt: newSalt() };
      const commitment = commitmentOf(BigInt(client.config.chainId), client.config.market, address, bid);
      const signer = session.value!.signer;
      try {
        await client.market.connect(signer).commitBid.staticCall(d, commitment); // a refusal keeps nothing
      } catch (err) {
        throw new UserError(explain(err));
      }
      // a second bid for the interval replaces the first: a relayed commit names the commitment it replaces
      const held = (await client.market.bidOf(d, me.id)).committed;
      const stored = held ? storedBids.value.find((b) => b.interval === d && b.state === "committed") : undefined;
      // every bid that may be on chain keeps its salt until the reveal tells which is
      const previous = stored ? [stored, ...(stored.previous ?? [])].slice(0, 8) : [];
      const replacing = stored && (await heldOpening(client, address, me.id, stored));
      const replaces = replacing && commitmentOf(BigInt(client.config.chainId), client.config.market, address, sealedOf(d, replacing));
      const since = await client.provider.getBlockNumber();
      // the salt first: a sent commit without its salt would be forfeited (and the replaced bid's, until the chain says which holds)
      keepBid(client, address, bid, previous);
      try {
        const committed = await carry(client, {
          label: `committing the sealed bid for interval ${d}`,
          kind: "commit",
          message: async (domain) => ({ interval: d, ...(await signCommit(signer, domain, { participant: me.id, interval: d, commitment, replaces })) }),
          direct: (m) => m.commitBid(d, commitment),
          done: async () => (await client.logs(["BidCommitted"], [d, me.id], since)).at(-1)?.args.commitment === commitment,
          onUpdate: track,
        });
        updateBid(client, address, d, { commit: committed, previous: undefined });
      } catch (err) {
        // the relayer may still carry a commit it took, and a failed send may still be mined: salts stay
        // unless the chain holds no commitment at all (then there is nothing to reveal)
        const onChain = err instanceof StillWithRelayer ? undefined : await client.market.bidOf(d, me.id).catch(() => undefined);
        if (onChain && !onChain.committed) forgetBid(client, address, d);
        throw err;
      }
      setEnergy("");
      setPrice("");
      reload();
      return `Sealed bid committed for interval ${d}.`;
    });
  };

  const pending = storedBids.value.filter((b) => b.state === "committed");
  let preview = "";
  try {
    if (energy && price) {
      const cost = costOf(kWhToWh(energy.trim()), etherToWei(price.trim()));
      preview = `${side === Side.Buy ? "at most" : "at least"} ${ether(cost)} ETH (${cny(cost)}) for the whole quantity`;
    }
  } catch {
    preview = "";
  }
  return (
    <Card title={`Sealed bid for interval ${next}`} id="bid">
      <p class="muted">
        Interval {next} is delivered {hhmm(w.start)}–{hhmm(w.end)}. Sealed bids: {clock(w.commitStart)}–{clock(w.revealStart)}
        {open ? ` (${duration(w.revealStart - t)} left)` : ` (closed; the next window opens at ${clock(client.times(next + 1).commitStart)})`}; reveals {clock(w.revealStart)}–{clock(w.revealEnd)}.
      </p>
      <form class="form" onSubmit={submit} data-testid="bid-form">
        <fieldset class="seg">
          <label>
            <input type="radio" name="side" checked={side === Side.Sell} onChange={() => setSide(Side.Sell)} data-testid="bid-sell" /> Sell
          </label>
          <label>
            <input type="radio" name="side" checked={side === Side.Buy} onChange={() => setSide(Side.Buy)} data-testid="bid-buy" /> Buy
          </label>
        </fieldset>
        <div class="row">
          <label>
            Energy (kWh)
            <input inputMode="decimal" value={energy} placeholder="e.g. 0.43" onInput={(e) => setEnergy((e.target as HTMLInputElement).value)} data-testid="bid-energy" />
          </label>
          <label>
            Price (ETH per kWh)
            <input inputMode="decimal" value={price} placeholder="e.g. 0.0007" onInput={(e) => setPrice((e.target as HTMLInputElement).value)} data-testid="bid-price" />
          </label>
        </div>
        {preview && <p class="muted small">{preview}</p>}
        <button class="primary" type="submit" disabled={busy || !open} data-testid="bid-submit">
          {busy ? "Committing…" : open ? `Commit sealed bid for interval ${next}` : "Sealed bids are closed for now"}
        </button>
        <Message kind={msg?.kind ?? "ok"} text={msg?.text} testid="bid-msg" />
        <Receipt c={receipt} testid="bid-receipt" />
      </form>
      {pending.map((b) => {
        const bw = client.times(b.interval);
        return (
          <p class="msg msg-warn" role="status" data-testid="bid-warning">
            Your sealed bid for interval {b.interval} is committed but not yet revealed. This page reveals it automatically between {clock(bw.revealStart)} and {clock(bw.revealEnd)}: keep this tab
            open until then. The bid's secret (its salt) is saved in this browser, so if you close or reload the tab, open the portal again in this browser and sign in before{" "}
            {clock(bw.revealEnd)} and it is still revealed. If it is not revealed by then, the bid does not trade and {ether(params.forfeitWei)} ETH ({cny(params.forfeitWei)}) is
            forfeited to the incentive pool.
          </p>
        );
      })}
      {storedBids.value.length > 0 && (
        <table class="plain" data-testid="my-bids">
          <thead>
            <tr>
              <th>Interval</th>
              <th>Bid</th>
              <th>State</th>
            </tr>
          </thead>
          <tbody>
            {storedBids.value.slice(0, 8).map((b) => (
              <tr data-interval={b.interval} data-state={b.state}>
                <td>{b.interval}</td>
                <td>
                  {b.side === Side.Sell ? "sell" : "buy"} {kWh(BigInt(b.energyWh))} kWh at {ether(BigInt(b.priceWeiPerKWh))} ETH/kWh
                </td>
                <td>
                  {b.state === "committed" ? `sealed, reveals at ${clock(client.times(b.interval).revealStart)}` : b.state === "revealed" ? "revealed" : "not revealed in time (forfeited)"}
                  {b.error && b.state === "committed" && <span class="muted small"> · {b.error}</span>}
                  <ReceiptLine c={b.commit} label="commit" testid="commit-receipt" />
                  <ReceiptLine c={b.reveal} label="reveal" testid="reveal-receipt" />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}

interface HistoryRow {
  interval: number;
  bid?: MarketLog;
  trades: { role: "sold" | "bought"; other: number; energyWh: bigint; priceWeiPerKWh: bigint; amountWei: bigint }[];
  settled?: MarketLog;
  forfeitWei?: bigint;
  debtWei: bigint;
}

function History({ id }: { id: number }) {
  const client = useContext(ClientContext);
  const q = useChainQuery(
    async () => {
      const [bids, sold, bought, settled, forfeits, debts] = await Promise.all([
        client.logs(["BidRevealed"], [null, id]),
        client.logs(["TradeMatched"], [null, id]),
        client.logs(["TradeMatched"], [null, null, id]),
        client.logs(["ParticipantSettled"], [null, id]),
        client.logs(["BidForfeited"], [null, id]),
        client.logs(["DebtRecorded"], [id]),
      ]);
      const rows = new Map<number, HistoryRow>();
      const row = (d: number) => rows.get(d) ?? (rows.set(d, { interval: d, trades: [], debtWei: 0n }), rows.get(d)!);
      for (const l of bids) row(Number(l.args.interval)).bid = l;
      for (const [logs, role] of [
        [sold, "sold"],
        [bought, "bought"],
      ] as const) {
        for (const l of logs) {
          row(Number(l.args.interval)).trades.push({
            role,
            other: Number(role === "sold" ? l.args.buyerId : l.args.sellerId),
            energyWh: l.args.energyWh,
            priceWeiPerKWh: l.args.priceWeiPerKWh,
            amountWei: l.args.amountWei,
          });
        }
      }
      const settledByTx = new Map<string, number>();
      for (const l of settled) {
        row(Number(l.args.interval)).settled = l;
        settledByTx.set(l.transactionHash, Number(l.args.interval));
      }
      for (const l of forfeits) row(Number(l.args.interval)).forfeitWei = l.args.amount;
      for (const l of debts) {
        const d = settledByTx.get(l.transactionHash);
        if (d !== undefined) row(d).debtWei += l.args.amount;
      }
      return [...rows.values()].sort((a, b) => b.interval - a.interval);
    },
    [id],
    (keys) => keys.has(`p:${id}`),
  );
  const rows = q.data ?? [];
  return (
    <Card title="Your history" id="history">
      <p class="muted small">Bids, trades, balancing against the grid, rewards and penalties per delivery interval, ether with CNY beside it.</p>
      <VirtualTable
        testid="history-table"
        rows={rows}
        rowKey={(r) => r.interval}
        rowHeight={64}
        empty={q.loading ? "Loading…" : "No bids or settlements yet."}
        columns={[
          { title: "Interval", width: "6.5rem", render: (r) => <span>{r.interval} <span class="muted small">{hhmm(client.times(r.interval).start)}</span></span> },
          {
            title: "Bid",
            width: "minmax(9rem,1fr)",
            render: (r) =>
              r.bid ? (
                <span data-testid={`hist-bid-${r.interval}`}>
                  {Number(r.bid.args.side) === Side.Sell ? "sell" : "buy"} {kWh(r.bid.args.energyWh)} kWh @ {ether(r.bid.args.priceWeiPerKWh)}
                </span>
              ) : r.forfeitWei ? (
                <span class="bad">not revealed, forfeited <Money wei={r.forfeitWei} /></span>
              ) : (
                <span class="muted">no bid</span>
              ),
          },
          {
            title: "Trades",
            width: "minmax(12rem,1.4fr)",
            render: (r) =>
              r.trades.length ? (
                <span data-testid={`hist-trades-${r.interval}`}>
                  {r.trades.map((x) => (
                    <span class="block">
                      {x.role} {kWh(x.energyWh)} kWh {x.role === "sold" ? "to" : "from"} #{x.other} @ {ether(x.priceWeiPerKWh)}: <Money wei={x.role === "sold" ? x.amountWei : -x.amountWei} signed />
                    </span>
                  ))}
                </span>
              ) : (
                <span class="muted">–</span>
              ),
          },
          {
            title: "Cleared / metered kWh",
            width: "8rem",
            render: (r) => (r.settled ? `${kWh(r.settled.args.clearedWh)} / ${kWh(r.settled.args.actualWh)}${r.settled.args.readingMissing ? " (no reading)" : ""}` : "–"),
          },
          { title: "Balancing", width: "minmax(9rem,1fr)", render: (r) => (r.settled ? <Money wei={r.settled.args.balancingWei} signed /> : <span class="muted">not settled</span>) },
          {
            title: "Reward / penalty",
            width: "minmax(10rem,1fr)",
            render: (r) =>
              r.settled ? (
                <span data-testid={`hist-incentive-${r.interval}`}>
                  <span class="block">
                    +{ether(r.settled.args.rewardWei)} / -{ether((r.settled.args.rewardWei as bigint) - (r.settled.args.incentiveWei as bigint))}
                  </span>
                  <span class="block">
                    net <Money wei={r.settled.args.incentiveWei} signed />
                  </span>
                </span>
              ) : (
                "–"
              ),
          },
          { title: "Owed", width: "7rem", render: (r) => (r.debtWei > 0n ? <Money wei={r.debtWei} /> : "–") },
        ]}
      />
    </Card>
  );
}
