// SVG -> PNG with the system Chromium driven by playwright-core (no browser download). Headless flags
// keep it from reaching the network or needing a GPU. Without Chromium the SVG is written instead and
// the caller says so.
import * as fs from 'node:fs/promises';
import { chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Writes `pngFile` from the SVG; returns the file written (the .svg next to it when Chromium is absent). */
export async function renderPng(svg: string, pngFile: string): Promise<{ file: string; rendered: boolean }> {
  const hasChromium = await fs.access(CHROMIUM).then(() => true, () => false);
  if (!hasChromium) {
    const svgFile = pngFile.replace(/\.png$/, '.svg');
    await fs.writeFile(svgFile, svg);
    return { file: svgFile, rendered: false };
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  try {
    const size = svg.match(/width="(\d+)" height="(\d+)"/);
    const [width, height] = size ? [Number(size[1]), Number(size[2])] : [1200, 600];
    const page = await browser.newPage({ viewport: { width, height }, deviceScaleFactor: 2 });
    await page.setContent(`<!doctype html><html><body style="margin:0">${svg}</body></html>`);
    await page.screenshot({ path: pngFile, clip: { x: 0, y: 0, width, height } });
    return { file: pngFile, rendered: true };
  } finally {
    await browser.close();
  }
}
