import { describe, expect, it } from 'vitest';
import { parseAppConfig } from '../../../lib/config/app-config.ts';
import { postJson, TEST_NOW, testApi } from '../support/api.ts';
import { expectProblem } from '../support/problem.ts';

/**
 * What a submission becomes: field names mapped per form and by the built-in German and
 * snake_case names, required fields, numbers and codes, consent evidence, spam handling
 * and attribution.
 */

const submit = (formId: string) => `/v1/forms/${formId}/submissions`;
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

const CONSENT = {
  text: 'Ich bin einverstanden, dass meine Angaben zur Kontaktaufnahme gespeichert werden.',
  version: '2025-01',
};

const config = parseAppConfig(
  {
    forms: [
      { id: 'contact' },
      {
        id: 'anfrage',
        fields: { firma: 'company', vorname: 'firstName', mail: 'email', groesse: 'employees' },
        required: ['company', 'firstName'],
        defaultCurrency: 'CHF',
      },
      { id: 'consent', consent: { ...CONSENT, required: true }, doubleOptIn: true },
      { id: 'optional-consent', consent: { ...CONSENT } },
      {
        id: 'spam',
        honeypotField: 'hp_field',
        minFillSeconds: 5,
        thankYouUrl: 'https://www.example.com/danke',
      },
    ],
  },
  'test',
);

function urlencoded(fields: Record<string, string>, headers: Record<string, string> = {}) {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  } satisfies RequestInit;
}

type Queued = { v: number; event: Record<string, unknown> & { profile?: unknown } };
const events = (sent: readonly string[]) => sent.map((body) => (JSON.parse(body) as Queued).event);

async function submitOne(formId: string, init: RequestInit) {
  const api = testApi({ config });
  const response = await api.app.request(submit(formId), init);
  return { ...api, response, events: events(api.ingestQueue.sent) };
}

describe('field names', () => {
  it("maps the form's own field names onto lead fields", async () => {
    const { response, events } = await submitOne(
      'anfrage',
      urlencoded({
        mail: 'anna@example.com',
        firma: 'Schmidt Maschinenbau GmbH',
        vorname: 'Anna',
        groesse: '120',
      }),
    );
    expect(response.status).toBe(202);
    expect(events[0]?.email).toBe('anna@example.com');
    expect(events[0]?.profile).toEqual({
      company: 'Schmidt Maschinenbau GmbH',
      firstName: 'Anna',
      employees: 120,
    });
  });

  it.each([
    [
      'German',
      {
        email: 'a@example.de',
        vorname: 'Anna',
        nachname: 'Schmidt',
        firma: 'ACME',
        position: 'CTO',
        branche: 'Maschinenbau',
        mitarbeiter: '42',
        umsatz: '5000000',
        land: 'at',
        ort: 'Wien',
        telefon: '+43 1 234567',
      },
    ],
    [
      'snake_case',
      {
        email: 'a@example.de',
        first_name: 'Anna',
        last_name: 'Schmidt',
        company: 'ACME',
        job_title: 'CTO',
        industry: 'Maschinenbau',
        employees: '42',
        annual_revenue: '5000000',
        country: 'at',
        city: 'Wien',
        phone: '+43 1 234567',
      },
    ],
    [
      'camelCase (any letter case)',
      {
        Email: 'a@example.de',
        firstName: 'Anna',
        LastName: 'Schmidt',
        Company: 'ACME',
        jobTitle: 'CTO',
        industry: 'Maschinenbau',
        employees: '42',
        annualRevenue: '5000000',
        country: 'AT',
        city: 'Wien',
        phone: '+43 1 234567',
      },
    ],
  ])('understands the built-in %s field names without a mapping', async (_label, fields) => {
    const { response, events } = await submitOne('contact', urlencoded(fields));
    expect(response.status).toBe(202);
    expect(events[0]?.email).toBe('a@example.de');
    expect(events[0]?.profile).toEqual({
      firstName: 'Anna',
      lastName: 'Schmidt',
      company: 'ACME',
      jobTitle: 'CTO',
      industry: 'Maschinenbau',
      employees: 42,
      annualRevenue: { amount: 5_000_000, currency: 'EUR' },
      country: 'AT',
      city: 'Wien',
      phone: '+43 1 234567',
    });
  });

  it('never takes fields it does not know, or metadata fields, into the profile', async () => {
    const { response, events } = await submitOne(
      'contact',
      urlencoded({
        email: 'a@example.de',
        message: 'Bitte rufen Sie mich an',
        newsletter: 'on',
        _started: String(TEST_NOW.getTime() - 60_000),
        _page: 'https://www.example.com/kontakt',
        _referrer: 'https://www.google.com/',
      }),
    );
    expect(response.status).toBe(202);
    expect(events[0]?.profile).toEqual({});
    expect(Object.keys(events[0] ?? {}).sort()).toEqual(
      ['attribution', 'email', 'formId', 'id', 'kind', 'occurredAt', 'profile', 'source'].sort(),
    );
  });
});

describe('required fields', () => {
  it("refuses missing required fields with pointers at the form's own field names", async () => {
    const { response, events } = await submitOne('anfrage', postJson({ vorname: 'Anna' }));
    const document = await expectProblem(response, 400);
    expect(document.type).toBe('/problems/validation');
    expect(document.errors).toEqual(
      expect.arrayContaining([
        { pointer: '#/mail', detail: expect.any(String) },
        { pointer: '#/firma', detail: expect.any(String) },
      ]),
    );
    expect(document.errors).toHaveLength(2);
    expect(events).toEqual([]);
  });

  it('treats a blank required field as missing', async () => {
    const { response, events } = await submitOne(
      'anfrage',
      urlencoded({ mail: 'anna@example.com', firma: '   ', vorname: 'Anna' }),
    );
    expect((await expectProblem(response, 400)).errors).toEqual([
      { pointer: '#/firma', detail: expect.any(String) },
    ]);
    expect(events).toEqual([]);
  });

  it('accepts the submission once every required field is there', async () => {
    const { response, events } = await submitOne(
      'anfrage',
      urlencoded({ mail: 'anna@example.com', firma: 'ACME', vorname: 'Anna' }),
    );
    expect(response.status).toBe(202);
    expect(events).toHaveLength(1);
  });
});

describe('numbers and codes', () => {
  it('parses employees and annual revenue as numbers, in the form default currency', async () => {
    const { response, events } = await submitOne(
      'anfrage',
      urlencoded({
        mail: 'anna@example.com',
        firma: 'ACME',
        vorname: 'Anna',
        groesse: ' 250 ',
        umsatz: '8000000,50',
      }),
    );
    expect(response.status).toBe(202);
    expect(events[0]?.profile).toMatchObject({
      employees: 250,
      annualRevenue: { amount: 8_000_000.5, currency: 'CHF' },
    });
  });

  it('takes the currency the form sends, upper-cased', async () => {
    const { events } = await submitOne(
      'contact',
      urlencoded({ email: 'a@example.com', annualRevenue: '1000000', currency: 'usd' }),
    );
    expect(events[0]?.profile).toMatchObject({
      annualRevenue: { amount: 1_000_000, currency: 'USD' },
    });
  });

  it('upper-cases the country code', async () => {
    const { events } = await submitOne('contact', postJson({ email: 'a@example.com', land: 'ch' }));
    expect(events[0]?.profile).toEqual({ country: 'CH' });
  });

  it.each([
    ['employees', 'viele'],
    ['employees', '12.5'],
    ['employees', '-3'],
    ['annualRevenue', '5 Mio'],
    ['annualRevenue', '1.000.000'],
    ['country', 'Deutschland'],
    ['currency', 'Euro'],
  ])('refuses %s = %j with a pointer at that field', async (field, value) => {
    const { response, events } = await submitOne(
      'contact',
      urlencoded({ email: 'a@example.com', [field]: value }),
    );
    expect((await expectProblem(response, 400)).errors).toEqual([
      { pointer: `#/${field}`, detail: expect.any(String) },
    ]);
    expect(events).toEqual([]);
  });
});

describe('consent', () => {
  it("keeps a ticked box as evidence: the form's text and version, the IP and the form id", async () => {
    const { response, events } = await submitOne(
      'consent',
      urlencoded(
        { email: 'a@example.com', consent: 'on' },
        { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' },
      ),
    );
    expect(response.status).toBe(202);
    expect(events[0]?.consent).toEqual({
      text: CONSENT.text,
      version: CONSENT.version,
      ip: '203.0.113.7',
      formId: 'consent',
      // The form sends a double opt-in mail; confirmation comes later as consent_given.
      doubleOptInConfirmed: false,
    });
  });

  it.each(['on', 'true', '1', 'yes', 'ja', 'Yes'])(
    'accepts %j as a ticked box (German name "einwilligung" too)',
    async (value) => {
      const { response, events } = await submitOne(
        'consent',
        urlencoded({ email: 'a@example.com', einwilligung: value }),
      );
      expect(response.status).toBe(202);
      expect(events[0]?.consent).toMatchObject({ version: CONSENT.version });
    },
  );

  it('refuses a submission without the required consent with 400 at the consent field', async () => {
    for (const fields of [
      { email: 'a@example.com' },
      { email: 'a@example.com', consent: 'no' },
    ] as Record<string, string>[]) {
      const { response, events } = await submitOne('consent', urlencoded(fields));
      expect((await expectProblem(response, 400)).errors).toEqual([
        { pointer: '#/consent', detail: expect.any(String) },
      ]);
      expect(events).toEqual([]);
    }
  });

  it('redirects a browser without the required consent to the error page listing consent', async () => {
    const { response } = await submitOne(
      'consent',
      urlencoded({ email: 'a@example.com' }, { accept: BROWSER_ACCEPT }),
    );
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('<strong>consent</strong>');
  });

  it('accepts an optional consent left unticked, without consent evidence', async () => {
    const { response, events } = await submitOne(
      'optional-consent',
      urlencoded({ email: 'a@example.com' }),
    );
    expect(response.status).toBe(202);
    expect(events[0]).not.toHaveProperty('consent');
  });

  it('keeps optional consent when ticked, without double opt-in state', async () => {
    const { events } = await submitOne(
      'optional-consent',
      urlencoded({ email: 'a@example.com', consent: 'on' }),
    );
    expect(events[0]?.consent).toEqual({
      text: CONSENT.text,
      version: CONSENT.version,
      formId: 'optional-consent',
    });
  });

  it('does not refuse the lead because of a malformed X-Forwarded-For (the IP is only evidence)', async () => {
    // The header is client-controlled where no platform address is known; a lead that ticked
    // the box must not be refused with a pointer to a field the form does not have.
    const { response, events } = await submitOne(
      'consent',
      urlencoded(
        { email: 'a@example.com', consent: 'on' },
        { 'x-forwarded-for': `${'x'.repeat(100)}, 10.0.0.1` },
      ),
    );
    expect(response.status).toBe(202);
    expect(events).toHaveLength(1);
    expect(events[0]?.consent).toMatchObject({ version: CONSENT.version, formId: 'consent' });
  });
});

describe('spam', () => {
  const started = (msAgo: number) => String(TEST_NOW.getTime() - msAgo);

  async function realAnswer(headers: Record<string, string>) {
    const { response } = await submitOne(
      'spam',
      urlencoded({ email: 'a@example.com', _started: started(60_000) }, headers),
    );
    return response;
  }

  it.each([
    ['a filled honeypot', { email: 'a@example.com', hp_field: 'http://spam.example' }],
    [
      'a submission faster than minFillSeconds',
      { email: 'a@example.com', _started: started(2_000) },
    ],
    [
      'a blank honeypot but too fast',
      { email: 'a@example.com', hp_field: '', _started: started(0) },
    ],
  ])('answers %s to a script exactly like a success and queues nothing', async (_label, fields) => {
    const real = await realAnswer({});
    const { response, events, logger } = await submitOne('spam', urlencoded(fields));
    expect(response.status).toBe(real.status);
    expect(response.headers.get('content-type')).toBe(real.headers.get('content-type'));
    const [spamBody, realBody] = [await response.json(), await real.json()] as {
      eventId: string;
    }[];
    expect(Object.keys(spamBody ?? {})).toEqual(Object.keys(realBody ?? {}));
    expect(spamBody?.eventId).toMatch(/^form_[0-9a-f-]+$/);
    expect(events).toEqual([]);
    expect(logger.errors).toEqual([]);
  });

  it('answers spam to a browser with the same 303 to the thank-you URL, queueing nothing', async () => {
    const real = await realAnswer({ accept: BROWSER_ACCEPT });
    const { response, events } = await submitOne(
      'spam',
      urlencoded({ email: 'a@example.com', hp_field: 'x' }, { accept: BROWSER_ACCEPT }),
    );
    expect(real.status).toBe(303);
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(real.headers.get('location'));
    expect(events).toEqual([]);
  });

  it('answers spam even when the rest of the body is invalid (a bot learns nothing)', async () => {
    const { response, events } = await submitOne(
      'spam',
      urlencoded({ email: 'not-an-email', hp_field: 'x' }),
    );
    expect(response.status).toBe(202);
    expect(events).toEqual([]);
  });

  it("checks the default honeypot 'website_url' on forms that do not name one", async () => {
    const { response, events } = await submitOne(
      'contact',
      postJson({ email: 'a@example.com', website_url: 'https://bot.example' }),
    );
    expect(response.status).toBe(202);
    expect(events).toEqual([]);
  });

  it('accepts a submission slower than minFillSeconds', async () => {
    const { response, events } = await submitOne(
      'spam',
      urlencoded({ email: 'a@example.com', _started: started(5_000) }),
    );
    expect(response.status).toBe(202);
    expect(events).toHaveLength(1);
  });

  it('accepts a submission without _started (a form without JavaScript), or with it empty', async () => {
    for (const fields of [
      { email: 'a@example.com' },
      { email: 'a@example.com', _started: '' },
    ] as Record<string, string>[]) {
      const { response, events } = await submitOne('spam', urlencoded(fields));
      expect(response.status).toBe(202);
      expect(events).toHaveLength(1);
    }
  });

  it('does not drop a human whose clock runs ahead (_started in the future) as too fast', async () => {
    // `_started` is the browser's Date.now() (examples/form.html), compared with the server's
    // clock. A visitor whose clock is two minutes fast and who took a minute to fill in the
    // form must not be silently dropped; a bot gains nothing from a future value (it can
    // simply leave the field out).
    const { response, events } = await submitOne(
      'spam',
      urlencoded({ email: 'a@example.com', _started: String(TEST_NOW.getTime() + 60_000) }),
    );
    expect(response.status).toBe(202);
    expect(events).toHaveLength(1);
  });
});

describe('attribution', () => {
  it('captures UTM fields from the body, and the page and referrer', async () => {
    const { events } = await submitOne(
      'contact',
      urlencoded({
        email: 'a@example.com',
        utm_source: 'newsletter',
        utm_medium: 'email',
        utm_campaign: 'fruehjahr-2025',
        utm_term: 'cnc',
        utm_content: 'button',
        _page: 'https://www.example.com/kontakt',
        _referrer: 'https://www.google.com/',
      }),
    );
    expect(events[0]?.attribution).toEqual({
      utmSource: 'newsletter',
      utmMedium: 'email',
      utmCampaign: 'fruehjahr-2025',
      utmTerm: 'cnc',
      utmContent: 'button',
      landingPage: 'https://www.example.com/kontakt',
      referrer: 'https://www.google.com/',
    });
  });

  it('takes UTM fields from the query of the _page URL when the body has none', async () => {
    const page = 'https://www.example.com/kontakt?utm_source=linkedin&utm_campaign=messe&x=1';
    const { events } = await submitOne(
      'contact',
      urlencoded({ email: 'a@example.com', utm_source: '', _page: page }),
    );
    expect(events[0]?.attribution).toEqual({
      utmSource: 'linkedin',
      utmCampaign: 'messe',
      landingPage: page,
    });
  });

  it('prefers a UTM field in the body over the one in the page URL', async () => {
    const { events } = await submitOne(
      'contact',
      urlencoded({
        email: 'a@example.com',
        utm_source: 'from-body',
        _page: 'https://www.example.com/?utm_source=from-page&utm_medium=cpc',
      }),
    );
    expect(events[0]?.attribution).toMatchObject({ utmSource: 'from-body', utmMedium: 'cpc' });
  });

  it('falls back to the Referer header for the page (a form without JavaScript)', async () => {
    const referer = 'https://www.example.com/landing?utm_source=google&utm_medium=cpc';
    const { events } = await submitOne(
      'contact',
      urlencoded({ email: 'a@example.com' }, { referer }),
    );
    expect(events[0]?.attribution).toEqual({
      utmSource: 'google',
      utmMedium: 'cpc',
      landingPage: referer,
    });
  });

  it('copes with a page that is no URL', async () => {
    const { response, events } = await submitOne(
      'contact',
      urlencoded({ email: 'a@example.com', _page: 'not a url' }),
    );
    expect(response.status).toBe(202);
    expect(events[0]?.attribution).toEqual({ landingPage: 'not a url' });
  });

  it('queues no attribution when there is none', async () => {
    const { events } = await submitOne('contact', postJson({ email: 'a@example.com' }));
    expect(events[0]).not.toHaveProperty('attribution');
  });
});
