// Opens an executed notebook of the series (nbconvert's HTML) in headless Chromium, checks that its charts
// and tables rendered, and saves a screenshot: the series as a reader sees it.
// Usage: node render-html.mjs NOTEBOOK.html SCREENSHOT.png USER_DATA_DIR MIN_IMAGES MIN_TABLES ; PASS/FAIL lines.
import { statSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { checker, launch } from "./chromium.mjs";

const [html, screenshot, userDataDir, minImages, minTables] = process.argv.slice(2);
const name = html.split("/").pop();
const context = await launch(userDataDir);
const { check, failures } = checker("rendered " + name);
try {
  const page = context.pages()[0] ?? await context.newPage();
  await page.goto(pathToFileURL(html).href, { waitUntil: "load", timeout: 60000 });
  await page.waitForFunction(() => [...document.images].every(i => i.complete), null, { timeout: 30000 });
  const typeset = await page.waitForFunction(() => document.querySelectorAll("mjx-container, .MathJax_CHTML, .MathJax").length > 0,
      null, { timeout: 30000 }).then(() => true, () => false);
  const dom = await page.evaluate(() => ({
    charts: [...document.querySelectorAll("img")].filter(i => i.src.startsWith("data:image/png") && i.naturalWidth > 0).length,
    tables: document.querySelectorAll("table").length,
    errors: document.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"], .output_error').length,
  }));
  check(`at least ${minImages} PNG charts decoded`, dom.charts >= Number(minImages), `charts=${dom.charts}`);
  check(`at least ${minTables} HTML tables`, dom.tables >= Number(minTables), `tables=${dom.tables}`);
  check("no error output", dom.errors === 0, `errors=${dom.errors}`);
  check("the markdown's equations typeset by MathJax", typeset);
  await page.screenshot({ path: screenshot, fullPage: true });
  check(`screenshot saved to ${screenshot}`, statSync(screenshot).size > 10000, `${statSync(screenshot).size} bytes`);
} catch (e) {
  check("page rendered", false, String(e).split("\n")[0]);
} finally {
  await context.close();
}
process.exit(failures() ? 1 : 0);
