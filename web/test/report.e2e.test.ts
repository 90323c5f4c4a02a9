/**
 * The simulation report (lib/report.ts) in headless Chromium at a 390-px phone and a 1366-px
 * desktop: the page is never wider than the screen, the paper check fits without sideways
 * scrolling, and only the long data tables scroll sideways inside their own box.
 * Screenshots go to test-output/screens/report-<width>.png.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser } from "playwright-core";
import { renderReport } from "../../lib/report";
import { FIXTURE } from "../../test/shared/report-fixture";
import { DESKTOP, PHONE, launch, shot } from "./support/browser";
import { OUTPUT } from "./support/paths";

/** Elements past the right edge outside any box that scrolls sideways, and the boxes that do scroll. */
const MEASURE = `(() => {
  const width = document.documentElement.clientWidth;
  const scroller = (e) => {
    for (let a = e.parentElement; a; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX;
      if (o === "auto" || o === "scroll") return a;
    }
    return null;
  };
  const past = [...document.querySelectorAll("body *")]
    .filter((e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.right > width + 0.5 && !scroller(e); })
    .map((e) => e.tagName + "." + e.className + " " + Math.round(e.getBoundingClientRect().right));
  const sideways = [...document.querySelectorAll(".table-wrap, .check-wrap, .facts-wrap")]
    .filter((e) => e.scrollWidth > e.clientWidth + 1)
    .map((e) => e.className + ": " + (e.querySelector("caption")?.textContent ?? ""));
  return { pageWidth: document.documentElement.scrollWidth, width, past, sideways };
})()`;

describe("the report in a browser", { timeout: 120_000 }, () => {
  let browser: Browser;
  const file = path.join(OUTPUT, "report.html");

  before(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    writeFileSync(file, renderReport(FIXTURE));
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });

  for (const viewport of [PHONE, DESKTOP]) {
    test(`at ${viewport.width} px nothing is cut off: the page fits, the paper check needs no sideways scrolling`, async () => {
      const page = await browser.newPage({ viewport });
      await page.goto(pathToFileURL(file).href);
      await page.locator("#paper-check [data-testid=paper-verdict]").waitFor();
      const m = (await page.evaluate(MEASURE)) as { pageWidth: number; width: number; past: string[]; sideways: string[] };
      assert.equal(m.pageWidth, m.width, "the page is as wide as the screen");
      assert.deepEqual(m.past, [], "nothing reaches past the screen outside a scrolling box");
      assert.deepEqual(
        m.sideways.filter((s) => !s.startsWith("table-wrap")),
        [],
        "the paper check, the parameters and the gas fit; only the long data tables scroll inside their box",
      );
      if (viewport === DESKTOP) assert.deepEqual(m.sideways, [], "on a desktop no table scrolls sideways");
      const firstCheck = page.locator("#paper-check table.check").first();
      const box = (await firstCheck.boundingBox())!;
      assert.ok(box.x >= 0 && box.x + box.width <= viewport.width, `Table 1 is on screen (${box.x}–${box.x + box.width})`);
      await shot(page, "report");
      await page.close();
    });
  }
});
