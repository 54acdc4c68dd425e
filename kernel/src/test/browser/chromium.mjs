// Headless Debian Chromium through playwright-core, and PASS/FAIL lines, shared by the browser checks.
import { chromium } from "playwright-core";

export async function launch(userDataDir) {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1200, height: 900 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** check(name, ok, detail) prints a PASS/FAIL line; failures() counts the FAILs. */
export function checker(prefix) {
  let failed = 0;
  const check = (name, ok, detail = "") => {
    console.log(`${ok ? "PASS" : "FAIL"} ${prefix}: ${name}${ok || !detail ? "" : " (" + detail + ")"}`);
    if (!ok) failed++;
  };
  return { check, failures: () => failed };
}
