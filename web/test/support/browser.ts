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
