/** A chart.js chart (only the parts used are registered, so the bundle stays small). */
import { useEffect, useRef } from "preact/hooks";
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  ChartConfiguration,
  Legend,
  LineController,
  LineElement,
  LinearScale,
  PointElement,
  Tooltip,
} from "chart.js";

Chart.register(BarController, BarElement, CategoryScale, Legend, LineController, LineElement, LinearScale, PointElement, Tooltip);

/** Marks the canvas once chart.js has drawn it (the tests look for it). */
const drawnMarker = {
  id: "drawnMarker",
  afterRender(chart: Chart) {
    chart.canvas.dataset.drawn = String(chart.data.labels?.length ?? 0);
  },
};

export function ChartView({ config, label, testid }: { config: ChartConfiguration; label: string; testid: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart | undefined>(undefined);
  useEffect(() => {
    chart.current = new Chart(canvas.current!, { ...config, plugins: [drawnMarker] });
    return () => chart.current?.destroy();
  }, []);
  useEffect(() => {
    const c = chart.current;
    if (!c) return;
    c.data = config.data;
    c.update("none");
  }, [config.data]);
  return (
    <div class="chart-box">
      <canvas ref={canvas} role="img" aria-label={label} data-testid={testid} />
      <ChartTable data={config.data} label={label} testid={`${testid}-data`} />
    </div>
  );
}

/**
 * The chart's numbers as a table, for screen readers (a canvas has none to read). A table cannot
 * be clipped itself, so the box around it is.
 */
function ChartTable({ data, label, testid }: { data: ChartConfiguration["data"]; label: string; testid: string }) {
  const cell = (v: unknown) => (typeof v === "number" ? String(v) : "–");
  return (
    <div class="sr-only">
      <table data-testid={testid}>
        <caption>{label}</caption>
        <thead>
          <tr>
            <th scope="col">interval</th>
            {data.datasets.map((ds) => (
              <th scope="col">{ds.label}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {(data.labels ?? []).map((l, i) => (
            <tr data-label={String(l)}>
              <th scope="row">{String(l)}</th>
              {data.datasets.map((ds) => (
                <td>{cell(ds.data[i])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
