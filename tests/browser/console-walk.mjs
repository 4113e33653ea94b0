// Both paths end to end, in headless Chromium with JavaScript OFF, as the people would walk
// them: the operator (intake's pages) files a request choosing the comune by name; the
// official (office-queue's console) finds it in the queue, takes it and asks for
// information; the operator sees the notice (from notifier) and replies with a file; the
// official answers and closes; the operator reads the answer and rates it. axe-core checks
// every page on the way (no serious or critical violation) in a second context with scripts
// on (axe runs inside the page), which shows the very HTML the walk got. Screenshots of the
// main pages go to SCREENSHOTS (docs/screenshots).
// Usage: INTAKE_URL=http://127.0.0.1:8081 CONSOLE_URL=http://127.0.0.1:8083 \
//        SCREENSHOTS=../../docs/screenshots node console-walk.mjs
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

const browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox"] });
const checked = [];
const viewport = { width: 1280, height: 900 };
// The axe context: scripts on, shown the same HTML at the same address (so the service's
// stylesheets load as they did for the walk).
const axeContext = await browser.newContext({ javaScriptEnabled: true, locale: "it-IT", viewport });
const axePage = await axeContext.newPage();

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

async function signIn(context, base, who) {
  const page = await context.newPage();
  await page.goto(`${base}/accedi`);
  await check(page, `${base === intake ? "intake" : "console"}-accedi`);
  await page.getByRole("button", { name: new RegExp(who) }).click();
  return page;
}

// Reloads `page` until `ready()` holds (events travel between services meanwhile).
async function until(page, ready, what, tries = 80) {
  for (let i = 0; i < tries; i++) {
    if (await ready()) return;
    await page.waitForTimeout(250);
    await page.reload();
  }
  fail(`${what}: not seen at ${page.url()}:\n${(await page.locator("main").innerText()).slice(0, 1500)}`);
}

const pdf = (name) => ({ name, mimeType: "application/pdf", buffer: Buffer.from("%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n") });

let open;
try {
  const operatorContext = await browser.newContext({ javaScriptEnabled: false, locale: "it-IT", viewport });
  const officialContext = await browser.newContext({ javaScriptEnabled: false, locale: "it-IT", viewport });

  // 1. The operator files a request, choosing the comune by name.
  const operator = await signIn(operatorContext, intake, "mario\\.rossi");
  open = operator;
  await operator.waitForURL(`${intake}/richieste`);
  await check(operator, "intake-richieste-vuota");
  await operator.getByRole("link", { name: "Scrivi alla sede", exact: true }).click();
  await check(operator, "intake-motivo");
  await operator.getByLabel("Richiesta generica alla sede").check({ force: true }); // the kit draws the radio on its label
  await operator.getByRole("button", { name: "Continua" }).click();
  await operator.getByLabel("Comune o Stato estero di residenza").fill("Milano");
  await operator.getByRole("button", { name: "Cerca" }).click();
  await check(operator, "intake-residenza");
  await operator.getByLabel("Milano (MI)", { exact: true }).check({ force: true });
  await operator.getByRole("button", { name: "Continua" }).click();
  await operator.getByLabel("Codice fiscale del cittadino").fill("RSSMRA85T10A562S");
  await operator.getByLabel("Argomento").selectOption("pensioni");
  await operator.getByLabel("Oggetto").fill("Pensione di vecchiaia: stato della domanda");
  await operator.getByLabel("Testo", { exact: true }).fill("Il cittadino chiede a che punto è la domanda di pensione presentata a marzo.");
  await operator.getByLabel(/^Allegati/).setInputFiles(pdf("delega.pdf"));
  await check(operator, "intake-modulo");
  await operator.getByRole("button", { name: /Verifica/ }).click();
  await check(operator, "intake-anteprima");
  await operator.getByRole("button", { name: "Invia alla sede" }).click();
  await operator.waitForURL(/\/richieste\/[0-9a-f-]{36}$/);
  const requestUrl = operator.url();
  const protocol = (await operator.locator("#protocollo").textContent()).trim();
  if (!protocol.startsWith("CP-")) fail(`no protocol number: ${protocol}`);
  await check(operator, "intake-richiesta-inviata");

  // 2. The official sees it in the console and asks for information.
  const official = await signIn(officialContext, console_, "paolo\\.esposito");
  open = official;
  await official.waitForURL(`${console_}/coda`);
  await until(official, async () => (await official.getByRole("link", { name: protocol }).count()) > 0, `${protocol} in the queue`);
  if (!(await official.getByRole("link", { name: "Aggiorna" }).count())) fail("no plain reload link on the queue");
  await check(official, "console-coda");
  await official.getByLabel("Solo con solleciti").check({ force: true });
  await official.getByRole("button", { name: "Filtra" }).click();
  if (await official.getByRole("link", { name: protocol }).count()) fail("the solleciti filter kept an item without solleciti");
  await official.getByRole("link", { name: "Togli i filtri" }).click();
  // With scripts on, the queue follows WatchQueue (server-sent events) and reloads itself.
  const liveContext = await browser.newContext({ javaScriptEnabled: true, locale: "it-IT", viewport, storageState: await officialContext.storageState() });
  const live = await liveContext.newPage();
  await live.goto(`${console_}/coda`);
  await live.locator("[data-live-status]", { hasText: "Aggiornamento automatico attivo." }).waitFor({ timeout: 10000 });
  await official.getByRole("link", { name: protocol }).click();
  if (!(await official.locator("#testo").textContent()).includes("domanda di pensione presentata a marzo")) fail("the official cannot read the request's text");
  if (!(await official.getByRole("link", { name: "delega.pdf" }).count())) fail("the patronato's file is not on the item");
  await check(official, "console-pratica");
  await official.getByRole("button", { name: "Prendi in carico" }).click();
  await official.waitForURL(/fatto=presa/);
  if (!(await official.locator("#presa-in-carico").textContent()).includes("ancora")) fail("the lease's remaining time is not shown");
  // The live queue shows the claim without anyone reloading it.
  await live.locator("tr", { hasText: protocol }).locator("td", { hasText: "paolo.esposito" }).waitFor({ timeout: 10000 });
  await liveContext.close();
  await official.getByLabel("Che cosa serve").fill("Serve la copia del modulo AP70 firmato dal cittadino.");
  await official.getByRole("button", { name: "Chiedi informazioni" }).click();
  await official.waitForURL(/fatto=domanda/);
  await check(official, "console-domanda-inviata");

  // 3. The operator sees the notice and replies with a file.
  await operator.goto(`${intake}/richieste`);
  await until(operator, async () => (await operator.getByRole("link", { name: /^Notifiche \(\d+\)$/ }).count()) > 0, "the unread count");
  await operator.getByRole("link", { name: /^Notifiche \(\d+\)$/ }).click();
  await until(operator, async () => (await operator.locator(".riquadro", { hasText: "modulo AP70" }).count()) > 0, "the office's question among the notices");
  await check(operator, "intake-notifiche");
  await operator.locator(".riquadro", { hasText: "modulo AP70" }).getByRole("link", { name: /Apri la richiesta/ }).click();
  await until(operator, async () => (await operator.getByLabel("Le informazioni richieste").count()) > 0, "the reply form");
  await operator.getByLabel("Le informazioni richieste").fill("In allegato il modulo AP70 firmato.");
  await operator.getByLabel(/^Allegati della risposta/).setInputFiles(pdf("AP70-firmato.pdf"));
  await check(operator, "intake-risposta-alla-sede");
  await operator.getByRole("button", { name: "Invia la risposta" }).click();
  await operator.waitForURL(requestUrl);
  if (!(await operator.getByRole("link", { name: "AP70-firmato.pdf" }).count())) fail("the reply's file is not on the request");

  // 4. The official sees the reply, answers and closes.
  await official.goto(official.url().replace(/\?.*$/, ""));
  await until(official, async () => (await official.getByRole("link", { name: "AP70-firmato.pdf" }).count()) > 0, "the patronato's reply on the item");
  await official.getByRole("button", { name: "Prendi in carico" }).click();
  await official.waitForURL(/fatto=presa/);
  await official.getByLabel("Risposta", { exact: true }).fill("La domanda è accolta: il primo pagamento arriverà il mese prossimo.");
  await official.getByLabel(/^Allegati della risposta/).setInputFiles(pdf("accoglimento.pdf"));
  await official.getByRole("button", { name: "Invia la risposta" }).click();
  await official.waitForURL(/fatto=risposta/);
  await official.getByRole("button", { name: "Chiudi la pratica" }).click();
  await official.waitForURL(/fatto=chiusa/);
  if ((await official.locator("#stato").textContent()).trim() !== "Chiusa") fail("the item is not closed");
  await check(official, "console-pratica-chiusa");

  // 5. The operator reads the answer and rates it.
  open = operator;
  await operator.goto(requestUrl);
  await until(operator, async () => (await operator.locator("td", { hasText: "il primo pagamento arriverà" }).count()) > 0, "the office's answer");
  if (!(await operator.getByRole("link", { name: "accoglimento.pdf" }).count())) fail("the office's file is not on the request");
  await check(operator, "intake-risposta-ricevuta");
  await operator.getByLabel("5", { exact: true }).check({ force: true });
  await operator.getByLabel("Commento (facoltativo)").fill("Risposta chiara e veloce.");
  await operator.getByRole("button", { name: "Invia la valutazione" }).click();
  await operator.waitForURL(requestUrl);
  if (!(await operator.locator(".valutazione").textContent()).includes("5 su 5")) fail("the rating is not shown");
  await operator.goto(`${intake}/richieste`);
  await check(operator, "intake-richieste");

  // 6. The responsabile's workload and the queue in arrival order.
  const managerContext = await browser.newContext({ javaScriptEnabled: false, locale: "it-IT", viewport });
  const manager = await signIn(managerContext, console_, "franca\\.colombo");
  open = manager;
  await manager.waitForURL(`${console_}/coda`);
  await manager.getByRole("link", { name: "Carico di lavoro" }).click();
  if (!(await manager.locator("table", { hasText: "Pratiche per scadenza" }).count())) fail("no workload by SLA state");
  await check(manager, "console-carico");
  await manager.goto(`${console_}/coda?ordine=arrivo&stato=CLOSED`);
  if (!(await manager.getByRole("link", { name: protocol }).count())) fail(`${protocol} is not among the closed items`);
  console.log(JSON.stringify({ protocol, checked }));
} catch (error) {
  if (open) console.error(`at ${open.url()}:\n${(await open.locator("main").innerText().catch(() => "")).slice(0, 2000)}`);
  console.error(error.message ?? error);
  process.exitCode = 1;
} finally {
  await browser.close();
}
