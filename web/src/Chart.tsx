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
    </div>
  );
}
