// Headless Chromium, JavaScript off: the operator sees the unread count on every page, opens
// "Notifiche", reads the office's question (it needs action), marks it read, and the count
// goes down. Then all are marked read and the count is gone.
// Usage: BASE_URL=http://127.0.0.1:8081 node notifications.mjs (notifier must hold 2 notices
// for mario.rossi of INCA-MI-01, one of them the office asking for information).
import { chromium } from "playwright-core";

const base = process.env.BASE_URL;
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const fail = (message) => {
  console.error(message);
  process.exit(1);
};

const browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox"] });
try {
  const context = await browser.newContext({ javaScriptEnabled: false, locale: "it-IT" });
  const page = await context.newPage();
  await page.goto(`${base}/accedi`);
  await page.getByRole("button", { name: /mario\.rossi/ }).click();
  await page.waitForURL(`${base}/richieste`);

  // The count on every page: notifier's events may still be arriving, so look again a few times.
  let link = page.getByRole("link", { name: "Notifiche (2)" });
  for (let tries = 0; tries < 40 && !(await link.count()); tries++) {
    await page.waitForTimeout(250);
    await page.reload();
    link = page.getByRole("link", { name: "Notifiche (2)" });
  }
  if (!(await link.count())) fail(`no "Notifiche (2)" in the header: ${await page.locator("header").textContent()}`);
  await page.getByRole("link", { name: "Scrivi alla sede", exact: true }).click();
  if (!(await page.getByRole("link", { name: "Notifiche (2)" }).count())) fail("the count is not on the form page");

  await page.getByRole("link", { name: "Notifiche (2)" }).click();
  await page.waitForURL(`${base}/notifiche`);
  const question = page.locator(".riquadro", { hasText: "Serve il modulo AP70 firmato." });
  if ((await question.count()) !== 1) fail("the office's question is not listed");
  if (!(await question.textContent()).includes("richiede un'azione")) fail("the question is not marked as needing action");
  if (!(await page.locator(".riquadro", { hasText: "assegnata alla sede" }).count())) fail("the routing notice is not listed");
  await question.getByRole("button", { name: /Segna come letta/ }).click();
  await page.waitForURL(`${base}/notifiche`);
  if (!(await page.getByRole("link", { name: "Notifiche (1)" }).count())) fail("the count did not go down to 1");
  if (await page.locator(".riquadro", { hasText: "Serve il modulo AP70" }).getByRole("button").count()) {
    fail("the question read still offers to be marked read");
  }

  await page.getByRole("button", { name: "Segna tutte come lette" }).click();
  await page.waitForURL(`${base}/notifiche`);
  if (!(await page.getByRole("link", { name: "Notifiche", exact: true }).count())) fail("the count did not go away");
  await page.getByRole("link", { name: /Apri la richiesta CP-2026-00000777/ }).first().isVisible();
  console.log("ok");
} finally {
  await browser.close();
}
