// Avvisi end to end, in headless Chromium with JavaScript OFF: the responsabile of the
// Direzione regionale Lombardia (office console) is refused an avviso for Lazio, then
// publishes an importante one for Lombardia; an operator of INCA-MI-01 (intake's pages) finds
// it unread in "Avvisi", also by a word in another inflection, opens it (which marks it read);
// the publisher sees the office read it. axe-core checks every new page (no serious or
// critical violation) in a second context with scripts on, shown the very HTML the walk got.
// Prints {"checked": [...]} on success; screenshots of the pages go to SCREENSHOTS if set.
// Usage: INTAKE_URL=http://127.0.0.1:8081 CONSOLE_URL=http://127.0.0.1:8083 \
//        SCREENSHOTS=../../docs/screenshots node avvisi-walk.mjs
// (notifier must know INCA-MI-01 is in province MI).
import { mkdirSync } from "node:fs";
import { AxeBuilder } from "@axe-core/playwright";
import { chromium } from "playwright-core";

const intake = process.env.INTAKE_URL;
const console_ = process.env.CONSOLE_URL;
const shots = process.env.SCREENSHOTS;
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const fail = (message) => {
  throw new Error(message);
};
if (shots) mkdirSync(shots, { recursive: true });
const title = "Nuove istruzioni per le domande di pensione di vecchiaia";

const browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox"] });
const checked = [];
const viewport = { width: 1280, height: 900 };
const axePage = await (await browser.newContext({ javaScriptEnabled: true, locale: "it-IT", viewport })).newPage();

async function check(page, name) {
  const html = await page.content();
  const url = page.url();
  await axePage.route(url, (route) => route.fulfill({ body: html, contentType: "text/html; charset=utf-8" }));
  await axePage.goto(url);
  await axePage.unroute(url);
  const results = await new AxeBuilder({ page: axePage }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  const bad = results.violations.filter((violation) => ["serious", "critical"].includes(violation.impact));
  if (bad.length) {
    fail(`axe on ${name} (${url}):\n${bad.map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`).join("\n")}`);
  }
  checked.push(name);
  if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

async function signIn(base, who) {
  const context = await browser.newContext({ javaScriptEnabled: false, locale: "it-IT", viewport });
  const page = await context.newPage();
  await page.goto(`${base}/accedi`);
  await page.getByRole("button", { name: new RegExp(who) }).click();
  await page.waitForLoadState();
  return page;
}

// Reloads `page` until `ready()` holds (the delivery job runs meanwhile).
async function until(page, ready, what) {
  for (let i = 0; i < 80; i++) {
    if (await ready()) return;
    await page.waitForTimeout(250);
    await page.reload();
  }
  fail(`${what}: not seen at ${page.url()}:\n${(await page.locator("main").innerText()).slice(0, 1500)}`);
}

let open;
try {
  // 1. The publisher: Lazio is outside the direzione's region, Lombardia is its own.
  const publisher = await signIn(console_, "giovanna\\.brambilla");
  open = publisher;
  await publisher.getByRole("link", { name: "Avvisi", exact: true }).click();
  await publisher.waitForURL(`${console_}/avvisi`);
  await check(publisher, "console-avvisi");
  if ((await publisher.getByLabel("Regione", { exact: true }).inputValue()) !== "03") fail("the form does not start from the direzione's region");
  const fill = async (region) => {
    await publisher.getByLabel("Titolo").fill(title);
    await publisher.getByLabel("Testo").fill("Dal 1° gennaio le domande di pensione di vecchiaia si presentano con il modulo aggiornato.\nLe domande già presentate restano valide.");
    await publisher.getByLabel("Argomento").selectOption("pensioni");
    await publisher.getByRole("radio", { name: /^Importante/ }).check({ force: true });
    await publisher.getByRole("radio", { name: "Una regione" }).check({ force: true });
    await publisher.getByLabel("Regione", { exact: true }).selectOption(region);
    await publisher.getByRole("button", { name: "Pubblica" }).click();
    await publisher.waitForLoadState();
  };
  await fill("12");
  if (!(await publisher.getByRole("alert").innerText()).includes("non consentita")) fail("Lazio was not refused");
  if ((await publisher.getByLabel("Titolo").inputValue()) !== title) fail("the refused form lost its title");
  await check(publisher, "console-avviso-rifiutato");
  await fill("03");
  if (!publisher.url().includes("/avvisi?pubblicato=")) fail(`not published: ${await publisher.locator("main").innerText()}`);
  const card = publisher.locator(".riquadro", { hasText: title });
  await until(publisher, async () => (await card.innerText()).includes("l'hanno letto: 0 di 1"), "the office reached, unread");
  await check(publisher, "console-avviso-pubblicato");

  // 2. The operator of Milano: unread in the list, found by another inflection, opened.
  const operator = await signIn(intake, "mario\\.rossi");
  await operator.getByRole("link", { name: "Avvisi", exact: true }).click();
  await operator.waitForURL(`${intake}/avvisi`);
  const listed = operator.locator(".riquadro", { hasText: title });
  if (!(await listed.innerText()).includes("da leggere")) fail("the avviso is not marked unread");
  if (!(await listed.innerText()).includes("importante")) fail("the avviso is not marked importante");
  await check(operator, "intake-avvisi");
  await operator.getByLabel("Cerca nel testo").fill("pensioni");
  await operator.getByRole("button", { name: "Filtra" }).click();
  await operator.waitForURL(/cerca=pensioni/);
  if (!(await operator.locator(".riquadro", { hasText: title }).count())) fail("the search for pensioni did not find it");
  await operator.getByLabel("Dal", { exact: true }).fill("2000-02-01");
  await operator.getByLabel("Al", { exact: true }).fill("2000-01-01");
  await operator.getByRole("button", { name: "Filtra" }).click();
  await operator.waitForLoadState();
  if (!(await operator.locator("main").innerText()).includes("deve essere lo stesso giorno")) fail("a backwards period was not refused");
  await check(operator, "intake-avvisi-periodo-errato");
  await operator.goto(`${intake}/avvisi`);
  await operator.getByRole("link", { name: title }).click();
  await operator.waitForURL(/\/avvisi\/[0-9a-f-]+$/);
  const text = await operator.locator("main").innerText();
  for (const part of ["Importante", "Direzione regionale Lombardia", "modulo aggiornato", "regione Lombardia"]) {
    if (!text.includes(part)) fail(`the avviso's page lacks ${part}:\n${text}`);
  }
  await check(operator, "intake-avviso");
  await operator.getByRole("link", { name: "← Tutti gli avvisi" }).click();
  if ((await operator.locator(".riquadro", { hasText: title }).innerText()).includes("da leggere")) fail("still unread after opening it");

  // 3. The publisher sees the office read it.
  await until(publisher, async () => (await card.innerText()).includes("l'hanno letto: 1 di 1"), "the read");
  const row = card.locator("tbody tr", { hasText: "INCA" });
  if ((await row.innerText()).replace(/\s+/g, " ").trim() !== "INCA 1 1 1") fail(`INCA's counts: ${await row.innerText()}`);
  console.log(JSON.stringify({ checked }));
} catch (error) {
  if (open) console.error(`at ${open.url()}`);
  console.error(error.stack ?? String(error));
  process.exitCode = 1;
} finally {
  await browser.close();
}
