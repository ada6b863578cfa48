// Walks a customer's journey through the reference web client (examples/web) in
// headless Chromium, against a running server whose provider and gateways are
// stand-ins driven by the Rust test (tests/web_client.rs). The two talk in lines:
// this script prints `STEP ...` lines on stdout; the test answers on stdin where
// the server side has to move (an order completed at the provider, say).
// Usage: node journey.mjs '{"base": ..., "email": ..., "password": ..., ...}'
import { chromium } from 'playwright-core';
import { createInterface } from 'node:readline';

const plan = JSON.parse(process.argv[2]);
const replies = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const say = (line) => console.log(line);
async function heard(expected) {
  const { value } = await replies.next();
  if (value !== expected) throw new Error(`expected "${expected}" from the test, got "${value}"`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
const failures = [];
try {
  const page = await browser.newPage();
  page.on('pageerror', (error) => failures.push(`page error: ${error.message}`));
  page.setDefaultTimeout(20_000);
  await page.goto(`${plan.base}/client/`);

  // The catalogue, anonymous, with a filter.
  await page.waitForSelector('#services tbody tr');
  const all = await page.locator('#services tbody tr').count();
  await page.fill('#filters input[name=search]', plan.searchFor);
  await page.waitForFunction((n) => document.querySelectorAll('#services tbody tr').length < n, all);
  const shown = await page.locator('#services tbody tr td:first-child').allTextContents();
  if (shown.length !== 1 || shown[0] !== plan.serviceName) throw new Error(`filtered catalogue shows ${shown}`);
  say(`STEP filtered ${all} ${shown.length}`);

  // Sign in.
  await page.fill('#sign-in input[name=email]', plan.email);
  await page.fill('#sign-in input[name=password]', plan.password);
  await page.click('#sign-in button[type=submit]');
  await page.waitForSelector('#account:not([hidden])');
  const balance = async () => Number(await page.locator('#balance').getAttribute('data-amount'));
  say(`STEP signed-in ${await balance()}`);

  // An order, followed live until the provider completes it.
  const place = async (link) => {
    await page.click(`#services tr[data-service-id="${plan.serviceId}"] button`);
    await page.fill('#order-form input[name=link]', link);
    await page.fill('#order-form input[name=quantity]', String(plan.quantity));
    const before = await page.locator('#orders tbody tr').count();
    const funds = await balance();
    await page.click('#order-form button');
    await page.waitForFunction((n) => document.querySelectorAll('#orders tbody tr').length > n, before);
    // The charge shows in the balance once the client has read it again.
    await page.waitForFunction((was) => Number(document.querySelector('#balance').dataset.amount) < was, funds);
    return page.locator('#orders tbody tr').first().getAttribute('data-order-id');
  };
  const statusOf = (id) => `#orders tr[data-order-id="${id}"] td[data-testid=status]`;
  const first = await place(plan.links[0]);
  say(`STEP placed ${first} ${await balance()}`);
  await heard('completed');
  await page.waitForSelector(`${statusOf(first)}.status-COMPLETED`);
  say(`STEP completed ${first}`);

  // A second order that the provider delivers partly: the refund shows in the balance.
  const second = await place(plan.links[1]);
  const charged = await balance();
  say(`STEP placed ${second} ${charged}`);
  await heard('partial');
  await page.waitForSelector(`${statusOf(second)}.status-PARTIAL`);
  await page.waitForFunction((was) => Number(document.querySelector('#balance').dataset.amount) > was, charged);
  say(`STEP refunded ${second} ${await balance()}`);

  // A deposit through the gateway.
  await page.fill('#deposit-form input[name=amount]', String(plan.deposit));
  await page.click('#deposit-form button');
  const deposit = page.locator('#deposits li').first();
  await deposit.locator('a').waitFor();
  say(`STEP deposit ${await deposit.getAttribute('data-deposit-id')} ${await deposit.locator('a').getAttribute('href')}`);

  // A ticket the reply bot answers.
  await page.selectOption('#ticket-form select[name=topic]', 'ORDER');
  await page.fill('#ticket-form input[name=subject]', 'Where is my order?');
  await page.fill('#ticket-form textarea[name=message]', `Hi, where is my order #${second}?`);
  await page.click('#ticket-form button');
  const bot = page.locator('#tickets .message.BOT').first();
  await bot.waitFor();
  say(`STEP bot ${JSON.stringify(await bot.textContent())}`);
  if (failures.length) throw new Error(failures.join('\n'));
  say('STEP done');
} finally {
  await browser.close();
  replies.return?.();
  process.stdin.destroy();
}
