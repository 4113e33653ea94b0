// Headless Chromium fills "Scrivi alla sede" as an operator would, without JavaScript on the
// page, and finds the request in "Le mie richieste". Prints the protocol number on success.
// Usage: BASE_URL=http://127.0.0.1:8081 node submit-request.mjs
import { chromium } from "playwright-core";

const base = process.env.BASE_URL;
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const fail = (message) => {
  console.error(message);
  process.exit(1);
};

const browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox"] });
try {
  // The pages must work without scripts.
  const context = await browser.newContext({ javaScriptEnabled: false, locale: "it-IT" });
  const page = await context.newPage();

  await page.goto(`${base}/accedi`);
  await page.getByRole("button", { name: /mario\.rossi/ }).click();
  await page.waitForURL(`${base}/richieste`);

  await page.getByRole("link", { name: "Scrivi alla sede", exact: true }).click();
  await page.getByLabel("Richiesta generica alla sede").check({ force: true }); // the kit draws the radio on its label
  await page.getByRole("button", { name: "Continua" }).click();

  // The residence by name: a search, then a choice among the matches.
  await page.getByLabel("Comune o Stato estero di residenza").fill("milano");
  await page.getByRole("button", { name: "Cerca" }).click();
  await page.getByLabel("Milano (MI)", { exact: true }).check({ force: true }); // the kit draws the radio on its label
  await page.getByRole("button", { name: "Continua" }).click();
  if (!(await page.locator("dd", { hasText: "Milano (MI)" }).count())) fail("the chosen comune is not shown");

  await page.getByLabel("Codice fiscale del cittadino").fill("RSSMRA85T10A562S");
  await page.getByLabel("Argomento").selectOption("pensioni");
  await page.getByLabel("Oggetto").fill("Domanda di pensione di vecchiaia");
  await page.getByLabel("Testo", { exact: true }).fill("Il cittadino chiede a che punto è la domanda presentata a marzo.");
  await page.getByLabel(/^Allegati/).setInputFiles({
    name: "delega.pdf",
    mimeType: "application/pdf",
    buffer: Buffer.from("%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"),
  });
  await page.getByRole("button", { name: /Verifica/ }).click();

  // The destination office is shown before sending.
  const destination = await page.locator("text=La richiesta andrà a:").textContent();
  if (!destination || !destination.includes("SEDE-MI")) fail(`no destination shown: ${destination}`);
  await page.getByRole("button", { name: "Invia alla sede" }).click();

  await page.waitForURL(/\/richieste\/[0-9a-f-]{36}$/);
  const protocol = (await page.locator("#protocollo").textContent())?.trim();
  if (!protocol || !protocol.startsWith("CP-")) fail(`no protocol number on the request page`);
  if (!(await page.locator("text=delega.pdf").count())) fail("the attachment is not listed");
  if (!(await page.locator("button:has-text('Invia un sollecito')[disabled]").count())) {
    fail("the sollecito button should be disabled for a fresh request");
  }

  await page.getByRole("link", { name: "Le mie richieste", exact: true }).click();
  const row = page.locator("tr", { hasText: protocol });
  if ((await row.count()) !== 1) fail(`${protocol} is not in "Le mie richieste"`);
  if (!(await row.textContent()).includes("Domanda di pensione di vecchiaia")) fail("the row lacks the subject");
  console.log(protocol);
} catch (error) {
  // Where it stopped, to read the failure: the page's address and text.
  const [open] = browser.contexts().flatMap((context) => context.pages());
  if (open) console.error(`at ${open.url()}:\n${(await open.locator("main").innerText().catch(() => "")).slice(0, 2000)}`);
  throw error;
} finally {
  await browser.close();
}
