/** Debian's chromium through playwright-core (no browser download). */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { Browser, Page, chromium } from "playwright-core";
import { OUTPUT } from "./paths";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1366, height: 900 };

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
}

export const SCREENS = path.join(OUTPUT, "screens");

/** A full-page screenshot under test-output/screens/<name>-<width>.png. */
export async function shot(page: Page, name: string) {
  mkdirSync(SCREENS, { recursive: true });
  const width = page.viewportSize()?.width ?? 0;
  await page.evaluate(() => window.scrollTo(0, 0)); // the sticky header belongs at the top
  await page.waitForTimeout(100);
  await page.screenshot({ path: path.join(SCREENS, `${name}-${width}.png`), fullPage: true });
}

/**
 * What is wrong with a page's layout at its viewport: elements reaching past the viewport's right
 * edge (screen-reader-only elements aside), rows of a table overlapping the next row, and cells
 * sticking out of their row. Empty when the layout is sound. (A script string: tsx would wrap the
 * named functions of a callback in helpers the page does not have.)
 */
export function layoutProblems(page: Page): Promise<string[]> {
  return page.evaluate(LAYOUT_PROBLEMS) as Promise<string[]>;
}

const LAYOUT_PROBLEMS = `(() => {
  const problems = [];
  const width = document.documentElement.clientWidth;
  const name = (e) => e.tagName.toLowerCase() + (e.getAttribute("data-testid") ? "[" + e.getAttribute("data-testid") + "]" : "") + "." + [...e.classList].join(".") + ' "' + (e.textContent || "").trim().slice(0, 40) + '"';
  for (const e of document.querySelectorAll("body *")) {
    if (e.closest(".sr-only")) continue;
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.right > width + 0.5) problems.push(name(e) + " reaches " + Math.round(r.right) + " px, past the " + width + "-px viewport");
  }
  for (const body of document.querySelectorAll(".vt-body")) {
    const rows = [...body.querySelectorAll("[role=row]")].map((row) => ({ row, r: row.getBoundingClientRect() })).sort((a, b) => a.r.top - b.r.top);
    for (let i = 0; i + 1 < rows.length; i++) {
      if (rows[i].r.bottom > rows[i + 1].r.top + 0.5) problems.push("row " + name(rows[i].row) + " overlaps the next row by " + Math.round(rows[i].r.bottom - rows[i + 1].r.top) + " px");
    }
    for (const { row, r } of rows) {
      for (const cell of row.querySelectorAll("[role=cell]")) {
        const c = cell.getBoundingClientRect();
        if (c.bottom > r.bottom + 0.5 || c.top < r.top - 0.5) problems.push("cell " + name(cell) + " sticks out of its row");
      }
    }
  }
  return problems;
})()`;
