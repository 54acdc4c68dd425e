// Opens the smoke notebook in the classic notebook UI in headless Chromium, runs all cells through
// the page, checks the rendered outputs in the DOM and saves a screenshot.
// Usage: node run-notebook.mjs URL SCREENSHOT.png USER_DATA_DIR ; prints PASS/FAIL lines.
import { statSync } from "node:fs";
import { checker, launch } from "./chromium.mjs";

const [url, screenshot, userDataDir] = process.argv.slice(2);
const context = await launch(userDataDir);
const { check, failures } = checker("browser");
try {
  const page = context.pages()[0] ?? await context.newPage();
  await page.goto(url, { waitUntil: "load", timeout: 60000 });
  await page.waitForFunction(() => window.Jupyter?.notebook?.kernel?.is_connected?.(), null, { timeout: 60000 });
  check("notebook page opened with a connected hyperlab kernel",
        await page.evaluate(() => Jupyter.notebook.kernel.name) === "hyperlab");
  await page.evaluate(() => Jupyter.notebook.execute_all_cells());
  await page.waitForFunction(() => {
    const code = Jupyter.notebook.get_cells().filter(c => c.cell_type === "code");
    return code.every(c => typeof c.input_prompt_number === "number")
        && !document.querySelector("#kernel_indicator_icon.kernel_busy_icon");
  }, null, { timeout: 120000, polling: 250 });
  const dom = await page.evaluate(() => {
    const imgs = [...document.querySelectorAll(".output_png img")];
    const table = document.querySelector(".output_html table");
    return {
      pngs: imgs.map(i => [i.naturalWidth, i.naturalHeight]),
      tableRows: table ? table.querySelectorAll("tbody tr").length : -1,
      text: document.querySelector("#notebook-container").innerText,
      errors: document.querySelectorAll(".output_error").length,
    };
  });
  check("XChart chart rendered as a 480x320 <img>", dom.pngs.some(([w, h]) => w === 480 && h === 320), JSON.stringify(dom.pngs));
  check("BufferedImage rendered as a 64x32 <img>", dom.pngs.some(([w, h]) => w === 64 && h === 32), JSON.stringify(dom.pngs));
  check("Tablesaw table rendered as a <table> of 20 rows", dom.tableRows === 20, `rows=${dom.tableRows}`);
  check("streamed ticks and the updated display shown", dom.text.includes("tick 5") && dom.text.includes("step 5 of 5"));
  check("no error output", dom.errors === 0, `errors=${dom.errors}`);
  await page.screenshot({ path: screenshot, fullPage: true });
  check(`screenshot saved to ${screenshot}`, statSync(screenshot).size > 10000, `${statSync(screenshot).size} bytes`);
} catch (e) {
  check("notebook ran in the browser", false, String(e).split("\n")[0]);
} finally {
  await context.close();
}
process.exit(failures() ? 1 : 0);
