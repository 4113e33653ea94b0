// Headless Chromium, without JavaScript, reads a region's page as the direzione regionale
// would: development sign-in, the region's page for a month, its summary beside the nation,
// the SVG charts, a link from the slowest offices to the figures behind it, the print
// stylesheet; then downloads the summary's and the offices' CSV and checks that they hold
// the same numbers as the page. Prints what it read as JSON.
// Usage: BASE_URL=http://127.0.0.1:8086 PERIOD=2026-03 node reporting-region.mjs
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const base = process.env.BASE_URL;
const period = process.env.PERIOD ?? "2026-03";
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const fail = (message) => {
  console.error(message);
  process.exit(1);
};

// A CSV line of `;`-separated fields (quoted where a field holds `;` or `"`).
const fields = (line) => {
  const out = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted && c === '"' && line[i + 1] === '"') { field += '"'; i++; }
    else if (c === '"') quoted = !quoted;
    else if (c === ";" && !quoted) { out.push(field); field = ""; }
    else field += c;
  }
  out.push(field);
  return out;
};
const csvLines = (path) => readFileSync(path, "utf8").replace(/^\uFEFF/, "").split(/\r?\n/).filter((line) => line.length > 0).map(fields);

const browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox"] });
try {
  const context = await browser.newContext({ javaScriptEnabled: false, locale: "it-IT", acceptDownloads: true });
  const page = await context.newPage();

  await page.goto(`${base}/accedi`);
  await page.getByRole("button", { name: /dr\.basilicata/ }).click();
  await page.waitForURL(/\/regioni\/17$/);

  await page.getByRole("textbox", { name: "Periodo" }).fill(period);
  await page.getByRole("button", { name: "Mostra" }).click();
  await page.waitForURL(new RegExp(`/regioni/17\\?periodo=${period}$`));
  const title = (await page.locator("h1").textContent()).trim();
  if (!title.includes("Basilicata")) fail(`the page is not Basilicata's: ${title}`);

  // The summary: the region, the nation, the previous period.
  const summary = {};
  for (const row of await page.locator("table.riepilogo tbody tr").all()) {
    summary[await row.getAttribute("data-field")] = {
      region: (await row.locator("td.ambito").textContent()).trim(),
      nation: (await row.locator("td.italia").textContent()).trim(),
      previous: (await row.locator("td.precedente").textContent()).trim(),
    };
  }
  if (Object.keys(summary).length !== 16) fail(`the summary has ${Object.keys(summary).length} figures`);

  const charts = await page.locator("figure svg").count();
  if (charts < 6) fail(`only ${charts} charts`);
  if (!(await page.locator('link[rel=stylesheet][media=print][href="/stampa.css"]').count())) fail("no print stylesheet");
  const css = await (await page.request.get(`${base}/stampa.css`)).text();
  if (!css.includes("@page")) fail("the print stylesheet is not served");
  if (await page.locator("script").count()) fail("the page carries scripts");

  // The offices table, as the page shows it.
  const offices = {};
  const officeTable = page.locator("table.cifre", { has: page.locator("caption", { hasText: "Uffici:" }) });
  const headings = await officeTable.locator("thead th").allTextContents();
  for (const row of await officeTable.locator("tbody tr").all()) {
    const key = await row.getAttribute("data-key");
    offices[key] = (await row.locator("td").allTextContents()).map((text) => text.trim());
  }

  // The summary's CSV, and the offices' CSV, hold the same numbers.
  const [summaryCsv] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "Scarica il riepilogo (CSV)" }).click(),
  ]);
  const summaryLines = csvLines(await summaryCsv.path());
  const fieldsInOrder = Object.keys(summary);
  summaryLines.slice(1).forEach((line, index) => {
    const shown = summary[fieldsInOrder[index]];
    if (line[1] !== shown.region || line[2] !== shown.nation || line[3] !== shown.previous) {
      fail(`summary CSV line ${index + 1} (${line.join(";")}) differs from the page (${JSON.stringify(shown)})`);
    }
  });
  const [officesCsv] = await Promise.all([
    page.waitForEvent("download"),
    officeTable.locator("caption a", { hasText: "CSV" }).click(),
  ]);
  const officeLines = csvLines(await officesCsv.path());
  for (const line of officeLines.slice(1)) {
    const key = line[0] === "17" ? "within:17" : line[0];
    const shown = offices[key];
    if (!shown) fail(`the CSV has ${line[0]}, the page does not`);
    const numbers = line.slice(3);
    if (numbers.join("|") !== shown.join("|")) fail(`CSV row ${line[0]}: ${numbers.join("|")} against the page's ${shown.join("|")}`);
  }
  if (officeLines.length - 1 !== Object.keys(offices).length) fail("the CSV and the page have different rows");
  if (officeLines[0].length - 3 !== headings.length - 1) fail("the CSV and the page have different columns");

  // The slowest offices lead to the figures behind them.
  const worst = page.locator("h2:has-text('Uffici con i tempi di risposta più lunghi') + ol a").first();
  const worstName = (await worst.textContent()).trim();
  await worst.click();
  await page.waitForURL(/\/cifre\/ufficio\//);
  const officeTitle = (await page.locator("h1").textContent()).trim();
  if (officeTitle !== worstName) fail(`the office's page is ${officeTitle}, not ${worstName}`);
  const officeCharts = await page.locator("figure svg").count();

  // Printed, the navigation and the forms are gone.
  await page.goto(`${base}/regioni/17?periodo=${period}`);
  await page.emulateMedia({ media: "print" });
  if (await page.locator("form.periodo").isVisible()) fail("the period form is printed");
  if (!(await page.locator("table.riepilogo").isVisible())) fail("the summary is not printed");

  console.log(JSON.stringify({ title, summary, offices: Object.keys(offices), worst: worstName, officeCharts, csvRows: officeLines.length - 1 }));
} finally {
  await browser.close();
}
