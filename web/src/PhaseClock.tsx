/** The interval clock, always in view: the interval being delivered, and the phase of the one being traded. */
import { useContext } from "preact/hooks";
import { ClientContext } from "./context";
import { clock, duration, hhmm } from "./format";
import { now } from "./store";

export function PhaseClock() {
  const client = useContext(ClientContext);
  const t = now.value;
  const current = client.intervalAt(t);
  const next = current + 1;
  const w = client.times(next);
  const { intervalSeconds } = client.config.schedule;
  let phase: string;
  let until: number;
  if (t < w.commitStart) {
    phase = "before trading";
    until = w.commitStart;
  } else if (t < w.revealStart) {
    phase = "commit";
    until = w.revealStart;
  } else if (t < w.revealEnd) {
    phase = "reveal";
    until = w.revealEnd;
  } else {
    phase = "clearing";
    until = w.start;
  }
  const text =
    phase === "commit"
      ? `sealed bids for interval ${next} close in ${duration(until - t)}`
      : phase === "reveal"
        ? `bids for interval ${next} are being revealed, ${duration(until - t)} left`
        : phase === "clearing"
          ? `interval ${next} is clearing; bids for ${next + 1} open in ${duration(until - t)}`
          : `trading opens in ${duration(until - t)}`;
  const pos = Math.min(1, Math.max(0, (t - w.commitStart) / intervalSeconds));
  const seg = (s: number) => `${(s / intervalSeconds) * 100}%`;
  return (
    <div class="phase-clock" data-testid="phase-clock" data-phase={phase} data-interval={current} aria-live="off">
      <div class="pc-text">
        <strong>
          Interval {current} <span class="muted">({hhmm(client.times(current).start)}–{hhmm(client.times(current).end)})</span>
        </strong>
        <span class={`phase phase-${phase}`}>{phase}</span>
        <span>{text}</span>
        <span class="muted pc-time">chain {clock(t)}</span>
      </div>
      <div class="pc-bar" aria-hidden="true">
        <span class="pc-commit" style={{ width: seg(client.config.schedule.commitSeconds) }} />
        <span class="pc-reveal" style={{ width: seg(client.config.schedule.revealSeconds) }} />
        <span class="pc-marker" style={{ left: `${pos * 100}%` }} />
      </div>
    </div>
  );
}
