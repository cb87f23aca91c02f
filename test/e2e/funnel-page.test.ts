import { mkdir } from 'node:fs/promises';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAppConfig } from '../../lib/config/app-config.ts';
import { type LocalRuntime, startLocalRuntime } from '../../lib/local/runtime.ts';
import { silentLogger } from '../../lib/observability/logger.ts';
import { contactIdFor } from '../../lib/store/keys.ts';
import { type Receiver, startReceiver } from '../support/receiver.ts';
import { makeTempDir } from '../support/temp-dir.ts';

/**
 * The funnel page in a real browser (Debian's Chromium through playwright-core) against the
 * whole local runtime: forms and replies go in through the API, the page shows what came of them.
 */

const API_KEY = 'funnel-page-test-key-0123456789';
const ARTIFACTS = new URL('../../test-results/funnel-page/', import.meta.url);
/** The screenshot the README shows; rewritten only on request, so a test run leaves git clean. */
const DOCS_SCREENSHOT = new URL('../../docs/images/funnel-page.png', import.meta.url);
const WRITE_DOCS_SCREENSHOT = process.env.UPDATE_SCREENSHOTS === '1';

const ANNA = 'anna.schmidt@example.com';
const BOB = 'bob.builder@example.com';
const CARLA = 'carla.diaz@example.com';

type Json = Record<string, unknown>;

/**
 * Run in the page (a string: the test is compiled without DOM types): the focused control's
 * accessible name (aria-label, else its label, else its text) and its outline style.
 */
const FOCUSED_CONTROL = `(() => {
  const active = document.activeElement;
  if (active === null || active === document.body) return { name: '', outline: '' };
  const label = active.id ? document.querySelector('label[for="' + active.id + '"]') : null;
  const name = active.getAttribute('aria-label') ?? label?.textContent ?? active.textContent ?? '';
  return { name: name.trim(), outline: getComputedStyle(active).outlineStyle };
})()`;

describe('the funnel page, driven in Chromium against the local runtime', () => {
  let runtime: LocalRuntime;
  let receiver: Receiver;
  let dataDir: Awaited<ReturnType<typeof makeTempDir>>;
  let profileDir: Awaited<ReturnType<typeof makeTempDir>>;
  let context: BrowserContext;
  let page: Page;
  let subscriptionId: string;
  /** While true the subscriber answers 503 to everything. */
  let failing = false;
  const pageErrors: string[] = [];

  const call = async (path: string, init: { method?: string; body?: unknown } = {}) => {
    const response = await fetch(`${runtime.url}${path}`, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as Json };
  };

  const submitForm = async (fields: Record<string, string>) => {
    const response = await fetch(`${runtime.url}/v1/forms/contact/submissions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(fields),
    });
    expect(response.status).toBeLessThan(300);
  };

  const postEvents = async (events: Json[]) => {
    const { status } = await call('/v1/events', { method: 'POST', body: { events } });
    expect(status).toBe(202);
  };

  /** Waits until the pipeline has put the contact in the stage. */
  const waitForStage = (email: string, stage: string) =>
    expect
      .poll(async () => (await call(`/v1/contacts/${contactIdFor(email)}`)).body?.stage, {
        timeout: 20_000,
        interval: 200,
      })
      .toBe(stage);

  /** Waits until no delivery of the subscription is still to be sent. */
  const waitForDeliveriesSettled = () =>
    expect
      .poll(
        async () => {
          const { body } = await call(
            `/v1/subscriptions/${subscriptionId}/deliveries?status=pending&limit=100`,
          );
          return (body.items as unknown[]).length;
        },
        { timeout: 20_000, interval: 200 },
      )
      .toBe(0);

  /** Loads the page afresh at a view (a hash change alone would not reload the data). */
  const open = async (hash: string) => {
    await page.goto('about:blank');
    await page.goto(`${runtime.url}/${hash}`);
  };

  const stageCount = (stage: string) =>
    page.locator(`tr[data-stage="${stage}"] .stage-count`).textContent();

  const screenshot = async (name: string) => {
    await page.screenshot({ path: new URL(`${name}.png`, ARTIFACTS).pathname, fullPage: true });
  };

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    dataDir = await makeTempDir();
    profileDir = await makeTempDir('leadstage-chromium-');
    receiver = await startReceiver({ status: () => (failing ? 503 : 200) });
    runtime = await startLocalRuntime({
      dataDir: dataDir.path,
      port: 0,
      host: '127.0.0.1',
      apiKey: API_KEY,
      config: parseAppConfig(
        {
          qualification: {
            industries: { allowed: ['Manufacturing'], excluded: ['Gambling'] },
            minEmployees: 50,
          },
          // One retry a second later, so a failing delivery gives up within the test.
          delivery: { retryScheduleSeconds: [1] },
        },
        'test',
      ),
      logger: silentLogger,
      sweepIntervalMs: 500,
    });
    const created = await call('/v1/subscriptions', {
      method: 'POST',
      body: { url: receiver.url, description: 'CRM sync' },
    });
    subscriptionId = created.body.id as string;

    context = await chromium.launchPersistentContext(profileDir.path, {
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-quic',
        '--no-first-run',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1280, height: 900 },
      locale: 'en-GB',
      timezoneId: 'UTC',
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      // Chromium reports what the Content-Security-Policy blocked on the console.
      if (/Content Security Policy/i.test(message.text())) pageErrors.push(message.text());
    });
  });

  afterAll(async () => {
    await context?.close();
    await runtime?.stop();
    await receiver?.close();
    await dataDir?.remove();
    await profileDir?.remove();
  });

  it('asks for the API key, refuses a wrong one, and signs in with the right one', async () => {
    await open('');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await page.locator('#nav').isVisible()).toBe(false);

    await page.getByLabel('API key').fill('not-the-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('This API key was not accepted.').waitFor();

    await page.getByLabel('API key').fill(API_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Funnel' }).waitFor();
    expect(page.url()).toMatch(/#\/funnel$/);
    expect(await page.locator('#nav').isVisible()).toBe(true);
    await page.locator('tr[data-stage="lead"] .stage-count').waitFor();
    expect(await stageCount('lead')).toBe('0');
    expect(await page.locator('#kpi-total .kpi-value').textContent()).toBe('0');
  });

  it('shows the funnel counts change as forms come in', async () => {
    await submitForm({
      email: ANNA,
      firstname: 'Anna',
      lastname: 'Schmidt',
      company: 'Schmidt Maschinenbau GmbH',
      industry: 'Manufacturing',
      employees: '120',
      country: 'DE',
    });
    await submitForm({ email: BOB, firstname: 'Bob', lastname: 'Builder', company: 'Builder Ltd' });
    await waitForStage(ANNA, 'qualified');
    await waitForStage(BOB, 'lead');

    await open('#/funnel');
    await page.locator('tr[data-stage="lead"] .stage-count').waitFor();
    expect(await stageCount('lead')).toBe('1');
    expect(await stageCount('qualified')).toBe('1');
    expect(await stageCount('prospect')).toBe('0');
    expect(await page.locator('#kpi-total .kpi-value').textContent()).toBe('2');
    // The chart is a table too: the numbers are there for a screen reader, the bars are not.
    const row = page.getByRole('row', { name: /^Qualified\b/ });
    expect(await row.getByRole('cell').allTextContents()).toContain('1');
    expect(await page.locator('.bar[aria-hidden="true"]').count()).toBe(5);
    await screenshot('funnel-two-forms');
  });

  it('a reply makes a prospect: the counts move and the change is listed with its reasons', async () => {
    await postEvents([
      {
        kind: 'email_replied',
        id: 'reply-anna-1',
        email: ANNA,
        matchMethod: 'sender',
        excerpt: 'Gerne, rufen Sie mich an.',
      },
    ]);
    await waitForStage(ANNA, 'prospect');

    await open('#/funnel');
    await page.locator('tr[data-stage="prospect"] .stage-count').waitFor();
    expect(await stageCount('prospect')).toBe('1');
    expect(await stageCount('qualified')).toBe('0');
    expect(await stageCount('lead')).toBe('1');

    const changes = page.locator('#changes tbody tr');
    await changes.first().waitFor();
    const newest = changes.first();
    expect(await newest.textContent()).toContain('Anna Schmidt');
    expect(await newest.locator('.badge').allTextContents()).toEqual(['Qualified', 'Prospect']);
    expect(await newest.locator('.reasons').textContent()).toMatch(/Answered/);
    expect(await changes.count()).toBe(3);

    // Filtered by the stage changed to: only Bob's change to lead.
    await page.getByLabel('Changed to').selectOption('lead');
    await page.waitForURL(/stage=lead/);
    await expect
      .poll(async () => page.locator('#changes tbody tr').allTextContents())
      .toEqual([expect.stringContaining('Bob Builder')]);
  });

  it('opens a contact: profile, stage with reasons and missing data, timeline and stage history', async () => {
    await open('#/funnel');
    await page.getByRole('link', { name: 'Anna Schmidt' }).first().click();
    await page.getByRole('heading', { level: 1, name: 'Anna Schmidt' }).waitFor();
    expect(page.url()).toContain(`#/contacts/${contactIdFor(ANNA)}`);

    const stage = page.locator('#stage');
    expect(await stage.locator('.stage-line .badge').textContent()).toBe('Prospect');
    expect(await stage.locator('.reasons').textContent()).toMatch(/Answered/);
    expect(await page.locator('#profile').textContent()).toContain('Schmidt Maschinenbau GmbH');

    const timeline = page.locator('#timeline .timeline-entry');
    await timeline.first().waitFor();
    expect(await timeline.count()).toBe(2);
    expect(await timeline.first().getAttribute('data-kind')).toBe('email_replied');
    expect(await timeline.nth(1).getAttribute('data-kind')).toBe('form_submitted');

    const history = page.locator('#stage-history tbody tr');
    await history.first().waitFor();
    expect(await history.count()).toBe(2);
    expect(await history.nth(1).locator('.badge').allTextContents()).toEqual([
      'Qualified',
      'Prospect',
    ]);

    // Bob has no industry and size yet: the page says what is missing to decide.
    await page.getByLabel('Find a contact by email').fill(BOB);
    await page.getByLabel('Find a contact by email').press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Bob Builder' }).waitFor();
    const missing = await page.locator('#stage .missing-list').textContent();
    expect(missing).toMatch(/Industry/);
    expect(missing).toMatch(/Employees/);
    await screenshot('contact');
  });

  it('a failed delivery is redelivered from the page and arrives', async () => {
    await waitForDeliveriesSettled();
    failing = true;
    const before = receiver.received.length;
    await submitForm({ email: CARLA, firstname: 'Carla', lastname: 'Diaz', company: 'Diaz SL' });
    // The first attempt and the one retry both fail: the delivery gives up.
    let exhausted: Json | undefined;
    await expect
      .poll(
        async () => {
          const { body } = await call(
            `/v1/subscriptions/${subscriptionId}/deliveries?status=exhausted`,
          );
          exhausted = (body.items as Json[])[0];
          return exhausted?.contactId;
        },
        { timeout: 30_000, interval: 250 },
      )
      .toBe(contactIdFor(CARLA));
    expect(receiver.received.length - before).toBe(2);
    failing = false;
    const deliveryId = exhausted?.deliveryId as string;

    // The contact page lists the delivery of its change, exhausted.
    await open(`#/contacts/${contactIdFor(CARLA)}`);
    const contactRow = page.locator(`#deliveries tr[data-delivery-id="${deliveryId}"]`);
    await contactRow.waitFor();
    expect(await contactRow.getAttribute('data-status')).toBe('exhausted');

    // The subscriptions view shows the health, and leads to the exhausted deliveries.
    await page.getByRole('link', { name: 'Subscriptions' }).click();
    const card = page.locator(`[data-subscription-id="${subscriptionId}"]`);
    await card.locator('.count-exhausted dd').waitFor();
    expect(await card.locator('.count-exhausted dd').textContent()).toBe('1');
    expect(await card.locator('h2').textContent()).toBe(receiver.url);
    expect(await card.textContent()).toContain('CRM sync');
    await screenshot('subscriptions');
    await card.getByRole('link', { name: 'Exhausted' }).click();
    const row = page.locator(`tr[data-delivery-id="${deliveryId}"]`);
    await row.waitFor();
    expect(await row.getAttribute('data-status')).toBe('exhausted');
    expect(await row.textContent()).toContain('HTTP 503');

    await row.getByRole('button', { name: /Redeliver/ }).click();
    await page.locator(`tr[data-delivery-id="${deliveryId}"][data-status="delivered"]`).waitFor({
      timeout: 30_000,
    });
    expect(await row.locator('.delivery-status').textContent()).toBe('delivered');
    await screenshot('subscription-deliveries');
    const resent = receiver.received.slice(before + 2);
    expect(resent.map((request) => request.headers['webhook-id'])).toContain(deliveryId);
    expect(await page.locator('#announcer').textContent()).toMatch(/Redelivery: delivered/);
  });

  it('lists the dead-letter queues with what is in them and why, and redrives after a confirmation', async () => {
    await open('#/dead-letters');
    await page.getByRole('heading', { level: 1, name: 'Dead-letter queues' }).waitFor();
    const delivery = page.locator('#dlq-delivery');
    const parked = delivery.locator('tbody tr');
    await parked.first().waitFor({ timeout: 15_000 });
    expect(await parked.count()).toBe(1);
    expect(await parked.first().locator('.reason').textContent()).toMatch(
      /exhausted after 2 attempts/,
    );
    expect(await parked.first().textContent()).toContain(contactIdFor(CARLA));
    await screenshot('dead-letters');

    await delivery.getByRole('button', { name: 'Redrive all' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await dialog.textContent()).toMatch(/Redrive the delivery queue\?/);
    await dialog.getByRole('button', { name: 'Redrive' }).click();
    await page.getByText('1 message sent back to the delivery queue.').waitFor();
    await delivery.getByText('Empty.').waitFor({ timeout: 15_000 });
    // The button used is gone with the old list: the focus is on the queue's heading, not <body>.
    expect(await page.evaluate('document.activeElement?.id')).toBe('dlq-delivery-heading');
  });

  it('shows a fuller funnel with conversion rates, and keeps a screenshot of it', async () => {
    // Six more people leave their data, then sales learns their industry and size: most move on
    // from lead, one is excluded, one stays unknown. Then two answer and one asks for a quote.
    const people = [
      ['dora.klein@example.com', 'Dora', 'Klein', 'Klein Fertigung AG', 'Manufacturing', 300],
      ['emil.weber@example.com', 'Emil', 'Weber', 'Weber Automation', 'Manufacturing', 80],
      ['finn.jensen@example.com', 'Finn', 'Jensen', 'Jensen Casino', 'Gambling', 40],
      ['greta.lind@example.com', 'Greta', 'Lind', 'Lind Werkzeuge', 'Manufacturing', 65],
      ['hana.novak@example.com', 'Hana', 'Novak', 'Novak s.r.o.', undefined, undefined],
      ['ivo.petrov@example.com', 'Ivo', 'Petrov', 'Petrov Metall', 'Manufacturing', 140],
    ] as const;
    for (const [email, firstname, lastname, company] of people) {
      await submitForm({ email, firstname, lastname, company });
    }
    for (const [email] of people) await waitForStage(email, 'lead');
    await postEvents(
      people
        .filter(([, , , , industry]) => industry !== undefined)
        .map(([email, , , , industry, employees]) => ({
          kind: 'profile_updated',
          id: `profile-${email}`,
          email,
          profile: { industry, employees },
        })),
    );
    await waitForStage('ivo.petrov@example.com', 'qualified');
    await waitForStage('finn.jensen@example.com', 'disqualified');
    await postEvents([
      { kind: 'meeting_held', id: 'meeting-dora', email: 'dora.klein@example.com' },
      {
        kind: 'call_logged',
        id: 'call-emil',
        email: 'emil.weber@example.com',
        direction: 'inbound',
        reached: true,
      },
    ]);
    await waitForStage('dora.klein@example.com', 'prospect');
    await waitForStage('emil.weber@example.com', 'prospect');
    await postEvents([
      { kind: 'quote_requested', id: 'quote-dora', email: 'dora.klein@example.com' },
    ]);
    await waitForStage('dora.klein@example.com', 'sales_ready');

    await open('#/funnel');
    await page.locator('tr[data-stage="sales_ready"] .stage-count').waitFor();
    expect(await page.locator('#kpi-total .kpi-value').textContent()).toBe('9');
    expect(await stageCount('lead')).toBe('3');
    expect(await stageCount('qualified')).toBe('2');
    expect(await stageCount('prospect')).toBe('2');
    expect(await stageCount('sales_ready')).toBe('1');
    expect(await stageCount('disqualified')).toBe('1');
    // The API rounds rates to two places. Reached in the period (a stage passed on the way
    // counts): lead 9 (all nine, Anna on her way to qualified from her first form), qualified
    // 5 (Anna, Dora, Emil, Greta, Ivo), prospect 3 (Anna, Dora, Emil), sales-ready 1 (Dora).
    // Finn's move to disqualified reaches nothing.
    const rate = (from: string) =>
      page.locator(`.conversion[data-from="${from}"] .conversion-rate`).textContent();
    const detail = (from: string) =>
      page.locator(`.conversion[data-from="${from}"] .conversion-detail`).textContent();
    expect(await rate('lead')).toBe('56%');
    expect(await detail('lead')).toBe('5 of 9 reached Qualified or beyond');
    expect(await rate('qualified')).toBe('60%');
    expect(await detail('qualified')).toBe('3 of 5 reached Prospect or beyond');
    expect(await rate('prospect')).toBe('33%');
    expect(await detail('prospect')).toBe('1 of 3 reached Sales-ready or beyond');
    await page.locator('#changes tbody tr').first().waitFor();
    await page.mouse.move(0, 0);
    await screenshot('funnel');
    if (WRITE_DOCS_SCREENSHOT) {
      await page.screenshot({ path: DOCS_SCREENSHOT.pathname });
    }
  });

  it('erases a contact only after a confirmation', async () => {
    await open(`#/contacts/${contactIdFor(BOB)}`);
    await page.getByRole('heading', { level: 1, name: 'Bob Builder' }).waitFor();

    await page.getByRole('button', { name: 'Erase contact…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain(BOB);
    await screenshot('erase-confirmation');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect((await call(`/v1/contacts/${contactIdFor(BOB)}`)).status).toBe(200);

    await page.getByRole('button', { name: 'Erase contact…' }).click();
    await dialog.getByRole('button', { name: 'Erase contact' }).click();
    await page.getByRole('heading', { level: 1, name: 'Funnel' }).waitFor();
    await page.getByText('The contact was erased.').waitFor();
    // The erase button is gone: the new view's heading has the focus, not <body>.
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Funnel');
    expect((await call(`/v1/contacts/${contactIdFor(BOB)}`)).status).toBe(404);
  });

  it('can be used with the keyboard: Tab reaches the main controls, focus is visible', async () => {
    await open('#/funnel');
    await page.locator('tr[data-stage="lead"] .stage-count').waitFor();
    await page.evaluate('document.activeElement?.blur()');
    const reached: string[] = [];
    let outlineOnButton = '';
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      const focused = (await page.evaluate(FOCUSED_CONTROL)) as { name: string; outline: string };
      reached.push(focused.name);
      if (focused.name === '30 days') outlineOnButton = focused.outline;
    }
    expect(reached).toEqual(
      expect.arrayContaining([
        'Skip to content',
        'Funnel',
        'Subscriptions',
        'Dead letters',
        'Find a contact by email',
        'Sign out',
        '7 days',
        '30 days',
        '90 days',
        'From',
        'To',
        'Apply',
        'Lead',
        'Changed to',
      ]),
    );
    expect(outlineOnButton).toBe('solid');

    // The skip link moves focus to the content without leaving the view.
    await page.getByRole('link', { name: 'Skip to content' }).focus();
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement?.id')).toBe('main');
    expect(page.url()).toMatch(/#\/funnel$/);

    // Enter on a focused link navigates, and the new view's heading takes the focus.
    await page.getByRole('link', { name: 'Dead letters' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Dead-letter queues' }).waitFor();
    expect(await page.evaluate('document.activeElement?.tagName')).toBe('H1');
  });

  it('fits a 360 px wide phone screen without sideways scrolling', async () => {
    await page.setViewportSize({ width: 360, height: 780 });
    for (const hash of ['#/funnel', `#/contacts/${contactIdFor(ANNA)}`, '#/subscriptions']) {
      await open(hash);
      await page.locator('main h1').waitFor();
      await page.waitForLoadState('networkidle');
      const widths = (await page.evaluate(
        '({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth })',
      )) as { scroll: number; client: number };
      expect(widths.scroll, hash).toBeLessThanOrEqual(widths.client);
    }
    await open('#/funnel');
    await page.locator('tr[data-stage="lead"] .stage-count').waitFor();
    await screenshot('funnel-360px');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('signs out, and a key that stops working sends the page back to sign-in', async () => {
    await open('#/funnel');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);

    await page.evaluate("sessionStorage.setItem('leadstage.apiKey', 'revoked-key')");
    await open('#/subscriptions');
    await page.getByText('The API key was not accepted. Sign in again.').waitFor();
    // No script error and nothing blocked by the CSP on the way through every view.
    expect(pageErrors).toEqual([]);
  });
});
