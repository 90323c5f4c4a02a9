/* Temporary probe: gas per relayed entry in steady state (not committed). */
import { ethers, network } from "hardhat";
import { Wallet } from "ethers";
import { HintBook, PAPER_PARAMS, Side, commitmentOf, deployMarket, newMeter, newSalt, scheduleFor } from "../../lib/market";
import { marketDomain, signAcceptance, signCommit, signReading, signRegistration } from "../../lib/signed";

const N = Number(process.env.N ?? 100);
const INTERVAL = 900;

async function main() {
  const [operator] = await ethers.getSigners();
  const now = BigInt((await ethers.provider.getBlock("latest"))!.timestamp);
  const market = await deployMarket(operator, scheduleFor(INTERVAL, now - (now % 900n)), PAPER_PARAMS);
  const address = await market.getAddress();
  const { chainId } = await ethers.provider.getNetwork();
  const domain = marketDomain(chainId, address);
  await market.registerGrid(operator.address, "grid");
  await market.deposit({ value: 1000n * 10n ** 18n });
  await market.fundPool({ value: 100n * 10n ** 18n });
  const people = Array.from({ length: N }, () => Wallet.createRandom());
  const meters = Array.from({ length: N }, () => Wallet.createRandom());
  const regs = await Promise.all(people.map((p, i) => signRegistration(p, domain, `p${i}`, i % 3 === 0)));
  const r = await (await market.registerBatch(regs)).wait();
  console.log("registerBatch per entry", Number(r!.gasUsed) / N);
  const ids = await Promise.all(people.map(async (p) => Number(await market.idOf(p.address))));
  for (const id of ids) {
    await market.authorize(id, true);
    await market.depositFor(id, { value: 10n ** 18n });
    await market.proposeMeter(id, newMeter(400000000000n + BigInt(id), meters[ids.indexOf(id)].address, 50_000));
    const [hash] = await market.meterProposalOf(id);
    await market.acceptMeterFor(id, hash, ...Object.values(await signAcceptance(people[ids.indexOf(id)], domain, { participant: id, proposal: hash })) as [string, string]);
  }
  const regs_ = new Map<number, { imp: bigint; exp: bigint }>(ids.map((id) => [id, { imp: 0n, exp: 0n }]));
  const [startTime] = await market.schedule();
  const at = async (t: bigint) => {
    const latest = BigInt((await ethers.provider.getBlock("latest"))!.timestamp);
    if (t > latest) await network.provider.send("evm_setNextBlockTimestamp", [Number(t)]);
  };
  const start = (d: number) => startTime + BigInt(d * INTERVAL);
  let d = Number(await market.currentInterval()) + 2;
  const from = Number((await market.settlementOf(ids[0])).nextInterval);
  // readings from binding until the first traded interval - 2 are empty; settle them as we go
  let settledThrough = from - 1;
  let readThrough = from - 1;
  const rounds = Number(process.env.ROUNDS ?? 7);
  for (let k = 0; k < rounds; k++, d++) {
    await at(start(d - 1));
    const bids = ids.map((id, i) => ({ id, i, side: i % 2 === 0 ? Side.Sell : Side.Buy, green: i % 3 === 0, energyWh: BigInt(1000 + ((i * 7919 + k * 13) % 9000)), priceWeiPerKWh: BigInt(400 + ((i * 104729 + k * 31) % 500)) * 10n ** 12n, salt: newSalt() }));
    const signed = await Promise.all(bids.map((b) => signCommit(people[b.i], domain, { participant: b.id, interval: d, commitment: commitmentOf(chainId, address, people[b.i].address, { interval: d, side: b.side as 0 | 1, energyWh: b.energyWh, priceWeiPerKWh: b.priceWeiPerKWh, salt: b.salt }) })));
    const c = await (await market.commitBatch(d, signed)).wait();
    await at(start(d - 1) + 120n);
    const book = new HintBook();
    const sorted = [...bids].sort((a, b) => (a.side !== b.side ? a.side - b.side : a.side === Side.Sell ? Number(a.priceWeiPerKWh - b.priceWeiPerKWh) : Number(b.priceWeiPerKWh - a.priceWeiPerKWh)) || a.id - b.id);
    const openings = sorted.map((b) => ({ participant: b.id, side: b.side, energyWh: b.energyWh, priceWeiPerKWh: b.priceWeiPerKWh, salt: b.salt, hintPrevId: book.add(BigInt(b.id), b.side as 0 | 1, b.green, b.priceWeiPerKWh) }));
    const rv = await (await market.revealBatch(d, openings)).wait();
    await at(start(d - 1) + 180n);
    let clearGas = 0n;
    for (;;) {
      const v = await market.intervalOf(d);
      if (Number(v.stage) === 4) break;
      clearGas += (await (await market.clear(d, 200)).wait())!.gasUsed;
    }
    // readings of everything that ended (up to d-2), then settlement of it
    let readGas = 0n;
    let readCount = 0;
    for (let x = readThrough + 1; x <= d - 2; x++) {
      const rs = await Promise.all(ids.map((id, i) => {
        const reg = regs_.get(id)!;
        reg.exp += BigInt(i % 2 === 0 ? 900 : 0);
        reg.imp += BigInt(i % 2 === 1 ? 900 : 0);
        return signReading(meters[i], domain, { meterNumber: 400000000000n + BigInt(id), interval: x, importWh: reg.imp, exportWh: reg.exp });
      }));
      readGas = (await (await market.postReadings(rs)).wait())!.gasUsed;
      readCount = rs.length;
      readThrough = x;
    }
    await at(start(d - 1) + 600n);
    let settleGas = 0n;
    for (let x = settledThrough + 1; x <= d - 2; x++) {
      if (Number((await market.intervalOf(x)).stage) !== 4) await market.clear(x, 10);
      settleGas = (await (await market.settle(x, ids)).wait())!.gasUsed;
      settledThrough = x;
    }
    const skipped = (await market.queryFilter(market.filters.EntrySkipped())).length;
    if (k === rounds - 1 && process.env.TRACE) {
      for (const [name, hash] of [["commit", c!.hash], ["reveal", rv!.hash]] as const) {
        const trace = await network.provider.send("debug_traceTransaction", [hash, { disableStorage: true, disableMemory: true, disableStack: true }]);
        const by = new Map<string, number>();
        for (const l of trace.structLogs) by.set(l.op, (by.get(l.op) ?? 0) + l.gasCost);
        const top = [...by.entries()].sort((a, b) => b[1] - a[1]).slice(0, 14).map(([op, g]) => `${op}:${Math.round(g / N)}`);
        console.log(name, "per entry by opcode:", top.join(" "), "total ops", trace.structLogs.length);
      }
    }
    console.log(`round ${k} d=${d}: commit/entry ${Number(c!.gasUsed) / N}, reveal/entry ${Number(rv!.gasUsed) / N}, clear/bid ${Number(clearGas) / N}, reading/entry ${readCount ? Number(readGas) / readCount : "-"}, settle/participant ${Number(settleGas) / N}; skipped so far ${skipped}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
