import { describe, expect, it } from 'vitest';
import { parseAppConfig } from '../../../lib/config/app-config.ts';
import { MAX_BODY_BYTES } from '../../../lib/ingest/app.ts';
import { postJson, testApi } from '../support/api.ts';
import { expectProblem } from '../support/problem.ts';

/**
 * The form route as browsers and scripts really post to it: urlencoded and multipart
 * bodies, HTML navigations (Accept: text/html) answered with redirects or HTML pages, and
 * JSON clients answered with problem+json.
 */

const submit = (formId: string) => `/v1/forms/${formId}/submissions`;

/** What Chrome and Firefox send as Accept for a top-level form navigation. */
const BROWSER_ACCEPT =
  'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';

const config = parseAppConfig(
  {
    forms: [
      { id: 'contact' },
      {
        id: 'demo',
        thankYouUrl: 'https://www.example.com/danke',
        errorUrl: 'https://www.example.com/fehler?lang=de',
        fields: { firma: 'company', e_mail_adresse: 'email' },
        required: ['company'],
      },
    ],
  },
  'test',
);

function urlencoded(
  fields: Record<string, string> | [string, string][],
  headers: Record<string, string> = {},
): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  };
}

function multipart(fields: Record<string, string>, headers: Record<string, string> = {}) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  // fetch sets `multipart/form-data; boundary=...` from the FormData body itself.
  return { method: 'POST', headers, body: form } satisfies RequestInit;
}

type Queued = { v: number; event: Record<string, unknown> };
const queued = (sent: readonly string[]) => sent.map((body) => JSON.parse(body) as Queued);

async function acceptedEventId(response: Response): Promise<string> {
  expect(response.status).toBe(202);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await response.json()) as { eventId: string };
  expect(Object.keys(body)).toEqual(['eventId']);
  expect(body.eventId).toMatch(/^form_/);
  return body.eventId;
}

const LEAD = {
  email: 'Anna.Schmidt@Example.com',
  name: 'Anna Schmidt',
  company: 'Schmidt Maschinenbau GmbH',
  country: 'de',
};

describe('form encodings', () => {
  it('accepts an urlencoded submission exactly like the same JSON submission', async () => {
    const viaJson = testApi({ config });
    const viaForm = testApi({ config });
    const jsonId = await acceptedEventId(
      await viaJson.app.request(submit('contact'), postJson(LEAD)),
    );
    const formId = await acceptedEventId(
      await viaForm.app.request(submit('contact'), urlencoded(LEAD)),
    );
    const [fromJson] = queued(viaJson.ingestQueue.sent);
    const [fromForm] = queued(viaForm.ingestQueue.sent);
    expect(viaForm.ingestQueue.sent).toHaveLength(1);
    expect(fromForm).toEqual({ ...fromJson, event: { ...fromJson?.event, id: formId } });
    expect(fromJson?.event.id).toBe(jsonId);
    expect(fromForm?.event).toMatchObject({
      kind: 'form_submitted',
      email: 'anna.schmidt@example.com',
      formId: 'contact',
      source: 'form:contact',
      profile: { name: 'Anna Schmidt', company: 'Schmidt Maschinenbau GmbH', country: 'DE' },
    });
  });

  it('accepts a multipart/form-data submission exactly like the same JSON submission', async () => {
    const viaJson = testApi({ config });
    const viaMultipart = testApi({ config });
    await acceptedEventId(await viaJson.app.request(submit('contact'), postJson(LEAD)));
    const id = await acceptedEventId(
      await viaMultipart.app.request(submit('contact'), multipart(LEAD)),
    );
    const [fromJson] = queued(viaJson.ingestQueue.sent);
    expect(queued(viaMultipart.ingestQueue.sent)).toEqual([
      { ...fromJson, event: { ...fromJson?.event, id } },
    ]);
  });

  it('decodes urlencoded escapes and "+" as a space, and keeps the first of a repeated field', async () => {
    const { app, ingestQueue } = testApi({ config });
    const response = await app.request(submit('contact'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' },
      body: 'email=juergen%40example.de&name=J%C3%BCrgen+M%C3%BCller&city=K%C3%B6ln&city=Bonn',
    });
    await acceptedEventId(response);
    expect(queued(ingestQueue.sent)[0]?.event).toMatchObject({
      email: 'juergen@example.de',
      profile: { name: 'Jürgen Müller', city: 'Köln' },
    });
  });

  it('ignores a file part in a multipart body', async () => {
    const { app, ingestQueue } = testApi({ config });
    const form = new FormData();
    form.append('email', 'anna@example.com');
    form.append('company', new Blob(['not a company'], { type: 'text/plain' }), 'company.txt');
    await acceptedEventId(await app.request(submit('contact'), { method: 'POST', body: form }));
    expect(queued(ingestQueue.sent)[0]?.event.profile).toEqual({});
  });

  it('refuses a multipart body that is not multipart with 400 problem+json, queueing nothing', async () => {
    const { app, ingestQueue } = testApi({ config });
    const response = await app.request(submit('contact'), {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=xyz' },
      body: 'email=anna@example.com',
    });
    const document = await expectProblem(response, 400);
    expect(document.errors).toEqual([{ pointer: '#', detail: expect.any(String) }]);
    expect(ingestQueue.sent).toEqual([]);
  });

  it('refuses text/plain (and a missing content type) with 415 problem+json', async () => {
    const { app, ingestQueue } = testApi({ config });
    for (const headers of [{ 'content-type': 'text/plain' }, {}] as Record<string, string>[]) {
      const response = await app.request(submit('contact'), {
        method: 'POST',
        headers,
        body: 'email=anna@example.com',
      });
      expect((await expectProblem(response, 415)).type).toBe('/problems/unsupported-media-type');
    }
    expect(ingestQueue.sent).toEqual([]);
  });

  it('refuses an urlencoded body over 256 KiB with 413 problem+json, queueing nothing', async () => {
    const { app, ingestQueue } = testApi({ config });
    const body = new URLSearchParams({
      email: 'anna@example.com',
      name: 'x'.repeat(MAX_BODY_BYTES),
    });
    const response = await app.request(submit('contact'), urlencoded(Object.fromEntries(body)));
    expect((await expectProblem(response, 413)).type).toBe('/problems/payload-too-large');
    expect(ingestQueue.sent).toEqual([]);
  });

  it('refuses a multipart body over 256 KiB with 413 problem+json, queueing nothing', async () => {
    const { app, ingestQueue } = testApi({ config });
    const response = await app.request(
      submit('contact'),
      multipart({ email: 'anna@example.com', name: 'x'.repeat(MAX_BODY_BYTES + 1) }),
    );
    await expectProblem(response, 413);
    expect(ingestQueue.sent).toEqual([]);
  });

  it('refuses more than 100 fields with 400 problem+json, queueing nothing', async () => {
    const { app, ingestQueue } = testApi({ config });
    const fields: [string, string][] = [['email', 'anna@example.com']];
    for (let i = 0; i < 100; i++) fields.push([`f${i}`, 'x']);
    const document = await expectProblem(
      await app.request(submit('contact'), urlencoded(fields)),
      400,
    );
    expect(document.errors).toEqual([{ pointer: '#', detail: expect.any(String) }]);
    // A repeated name is not a new field.
    const repeated: [string, string][] = [['email', 'anna@example.com']];
    for (let i = 0; i < 200; i++) repeated.push(['tag', String(i)]);
    expect((await app.request(submit('contact'), urlencoded(repeated))).status).toBe(202);
    expect(ingestQueue.sent).toHaveLength(1);
  });

  it('keeps Idempotency-Key semantics for urlencoded and multipart bodies', async () => {
    const { app, ingestQueue } = testApi({ config });
    const key = { 'idempotency-key': 'submit-7f3a' };
    const first = await acceptedEventId(
      await app.request(submit('contact'), urlencoded({ email: 'anna@example.com' }, key)),
    );
    const again = await acceptedEventId(
      await app.request(submit('contact'), urlencoded({ email: 'anna@example.com' }, key)),
    );
    const asMultipart = await acceptedEventId(
      await app.request(submit('contact'), multipart({ email: 'anna@example.com' }, key)),
    );
    const otherKey = await acceptedEventId(
      await app.request(
        submit('contact'),
        urlencoded({ email: 'anna@example.com' }, { 'idempotency-key': 'submit-other' }),
      ),
    );
    const otherForm = await acceptedEventId(
      await app.request(
        submit('demo'),
        urlencoded({ email: 'anna@example.com', firma: 'ACME' }, { ...key, accept: '*/*' }),
      ),
    );
    expect(again).toBe(first);
    expect(asMultipart).toBe(first);
    expect(otherKey).not.toBe(first);
    expect(otherForm).not.toBe(first);
    expect(queued(ingestQueue.sent).map((envelope) => envelope.event.id)).toEqual([
      first,
      first,
      first,
      otherKey,
      otherForm,
    ]);
  });
});

describe('a plain HTML form in a browser', () => {
  it("is redirected (303) to the form's thank-you URL after a valid submission", async () => {
    const { app, ingestQueue } = testApi({ config });
    const response = await app.request(
      submit('demo'),
      urlencoded({ e_mail_adresse: 'anna@example.com', firma: 'ACME' }, { accept: BROWSER_ACCEPT }),
    );
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('https://www.example.com/danke');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(queued(ingestQueue.sent)).toHaveLength(1);
    expect(queued(ingestQueue.sent)[0]?.event).toMatchObject({
      email: 'anna@example.com',
      profile: { company: 'ACME' },
    });
  });

  it('is redirected to the built-in thank-you page when the form has none, which serves HTML', async () => {
    const { app, ingestQueue } = testApi({ config });
    const response = await app.request(
      submit('contact'),
      urlencoded({ email: 'anna@example.com' }, { accept: BROWSER_ACCEPT }),
    );
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/v1/forms/contact/thanks');
    expect(ingestQueue.sent).toHaveLength(1);

    const page = await app.request('/v1/forms/contact/thanks', {
      headers: { accept: BROWSER_ACCEPT },
    });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).toContain('Thank you');
  });

  it('gets a 404 problem for the thank-you page of a form that does not exist', async () => {
    const { app } = testApi({ config });
    await expectProblem(await app.request('/v1/forms/nope/thanks'), 404);
  });

  it('is redirected to the error URL with ?error=invalid&field=<its own field name> on bad input', async () => {
    const { app, ingestQueue } = testApi({ config });
    const missingCompany = await app.request(
      submit('demo'),
      urlencoded({ e_mail_adresse: 'anna@example.com' }, { accept: BROWSER_ACCEPT }),
    );
    expect(missingCompany.status).toBe(303);
    const target = new URL(missingCompany.headers.get('location') ?? '');
    expect(`${target.origin}${target.pathname}`).toBe('https://www.example.com/fehler');
    // The error URL's own query is kept.
    expect(Object.fromEntries(target.searchParams)).toEqual({
      lang: 'de',
      error: 'invalid',
      field: 'firma',
    });

    const badEmail = await app.request(
      submit('demo'),
      urlencoded(
        { e_mail_adresse: 'anna(at)example.com', firma: 'ACME' },
        {
          accept: BROWSER_ACCEPT,
        },
      ),
    );
    expect(badEmail.status).toBe(303);
    expect(new URL(badEmail.headers.get('location') ?? '').searchParams.get('field')).toBe(
      'e_mail_adresse',
    );
    expect(ingestQueue.sent).toEqual([]);
  });

  it('is redirected to the error URL with ?error=unsupported for a text/plain form', async () => {
    const { app, ingestQueue } = testApi({ config });
    const response = await app.request(submit('demo'), {
      method: 'POST',
      headers: { 'content-type': 'text/plain', accept: BROWSER_ACCEPT },
      body: 'e_mail_adresse=anna@example.com\r\nfirma=ACME\r\n',
    });
    expect(response.status).toBe(303);
    const target = new URL(response.headers.get('location') ?? '');
    expect(target.searchParams.get('error')).toBe('unsupported');
    expect(ingestQueue.sent).toEqual([]);
  });

  it('gets a 400 HTML page listing every bad field when the form has no error URL', async () => {
    const { app, ingestQueue } = testApi({ config });
    const response = await app.request(
      submit('contact'),
      urlencoded(
        { email: 'not-an-email', employees: 'many', country: 'Germany' },
        { accept: BROWSER_ACCEPT },
      ),
    );
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toMatch(/^<!doctype html>/i);
    for (const field of ['email', 'employees', 'country'])
      expect(html).toContain(`<strong>${field}</strong>`);
    expect(ingestQueue.sent).toEqual([]);
  });

  it('escapes what the visitor typed in the HTML error page', async () => {
    const { app } = testApi({
      config: parseAppConfig(
        { forms: [{ id: 'contact', fields: { '<img src=x onerror=alert(1)>': 'email' } }] },
        'test',
      ),
    });
    const response = await app.request(
      submit('contact'),
      urlencoded({ '<img src=x onerror=alert(1)>': 'nope' }, { accept: BROWSER_ACCEPT }),
    );
    expect(response.status).toBe(400);
    const html = await response.text();
    expect(html).not.toContain('<img');
    expect(html).toContain('&#60;img src=x onerror=alert(1)&#62;');
  });

  it('gets a 415 HTML page for a text/plain form when there is no error URL', async () => {
    const { app } = testApi({ config });
    const response = await app.request(submit('contact'), {
      method: 'POST',
      headers: { 'content-type': 'text/plain', accept: BROWSER_ACCEPT },
      body: 'email=anna@example.com',
    });
    expect(response.status).toBe(415);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
  });

  it('answers a script (JSON or no Accept) with problem+json for the same bad input', async () => {
    const { app } = testApi({ config });
    for (const accept of ['application/json', '*/*', undefined, 'application/json, text/html']) {
      const response = await app.request(
        submit('demo'),
        urlencoded({ e_mail_adresse: 'anna@example.com' }, accept === undefined ? {} : { accept }),
      );
      const document = await expectProblem(response, 400);
      expect(document.type).toBe('/problems/validation');
      expect(document.errors).toEqual([{ pointer: '#/firma', detail: expect.any(String) }]);
    }
  });
});
