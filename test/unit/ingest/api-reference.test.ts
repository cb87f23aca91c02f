import { describe, expect, it } from 'vitest';
import { renderApiReference } from '../../../lib/ingest/api-reference.ts';
import { testApi } from '../support/api.ts';

/** GET /docs: the OpenAPI document rendered as one HTML page, and /openapi.json itself. */

type OpenApi = {
  openapi: string;
  paths: Record<string, Record<string, { summary?: string; security?: unknown[] }>>;
  components?: { schemas?: Record<string, unknown> };
};

async function openApi(): Promise<OpenApi> {
  const { app } = testApi();
  const response = await app.request('/openapi.json');
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return (await response.json()) as OpenApi;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

describe('/openapi.json', () => {
  it('lists the forms, events, email webhook and subscription paths with their methods', async () => {
    const document = await openApi();
    expect(document.openapi).toBe('3.1.0');
    const expected: Record<string, string[]> = {
      '/v1/forms/{formId}/submissions': ['post'],
      '/v1/events': ['post'],
      '/v1/webhooks/email/{provider}': ['post'],
      '/v1/subscriptions': ['post'],
    };
    for (const [path, methods] of Object.entries(expected)) {
      expect(Object.keys(document.paths)).toContain(path);
      expect(Object.keys(document.paths[path] ?? {})).toEqual(expect.arrayContaining(methods));
    }
  });

  it('marks the API-key routes as secured and the public ones as not', async () => {
    const { paths } = await openApi();
    expect(paths['/v1/events']?.post?.security).toEqual([{ bearerAuth: [] }]);
    expect(paths['/v1/forms/{formId}/submissions']?.post?.security ?? []).toEqual([]);
    expect(paths['/v1/webhooks/email/{provider}']?.post?.security ?? []).toEqual([]);
  });
});

describe('GET /docs', () => {
  it('answers one self-contained HTML page (no script, no CDN)', async () => {
    const { app } = testApi();
    const response = await app.request('/docs');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).not.toMatch(/<script\b/i);
    expect(html).not.toMatch(/\bsrc="https?:/i);
    expect(html).toContain('href="/openapi.json"');
  });

  it('lists every path and method of /openapi.json', async () => {
    const { app } = testApi();
    const document = await openApi();
    const html = await (await app.request('/docs')).text();
    const operations = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => ({ path, method })),
    );
    expect(operations.length).toBeGreaterThanOrEqual(6);
    for (const { path, method } of operations) {
      expect(html).toContain(`<code>${escapeHtml(path)}</code>`);
      expect(html).toContain(`id="${escapeHtml(`${method}-${path}`)}"`);
      expect(html).toContain(`<span class="m">${method.toUpperCase()}</span>`);
    }
  });

  it('shows each operation summary and marks the API-key routes', async () => {
    const { app } = testApi();
    const document = await openApi();
    const html = await (await app.request('/docs')).text();
    // Backticks in a summary are shown as code.
    for (const item of Object.values(document.paths))
      for (const op of Object.values(item))
        if (op.summary)
          expect(html).toContain(escapeHtml(op.summary).replace(/`([^`]+)`/g, '<code>$1</code>'));
    const events = html.slice(html.indexOf('id="post-/v1/events"'));
    expect(events.slice(0, events.indexOf('</h2>'))).toContain('API key');
  });

  it('documents each named schema', async () => {
    const { app } = testApi();
    const document = await openApi();
    const html = await (await app.request('/docs')).text();
    const schemas = Object.keys(document.components?.schemas ?? {});
    expect(schemas).toEqual(expect.arrayContaining(['FormSubmission', 'ActivityEvents']));
    for (const name of schemas) expect(html).toContain(`id="schema-${escapeHtml(name)}"`);
  });

  it('answers the same page again (rendered once)', async () => {
    const { app } = testApi();
    const first = await (await app.request('/docs')).text();
    const second = await (await app.request('/docs')).text();
    expect(second).toBe(first);
  });
});

describe('renderApiReference', () => {
  it('escapes text from the document', () => {
    const html = renderApiReference({
      info: { title: '<script>alert(1)</script>', version: '1"' },
      paths: {
        '/x/{id}': {
          get: {
            summary: 'a & b',
            description: '<img src=x>',
            parameters: [{ name: '"id"', in: 'path', description: "it's <b>" }],
            responses: { 200: { description: '<ok>' } },
          },
        },
      },
    });
    expect(html).not.toMatch(/<script|<img|<b>|<ok>/);
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(html).toContain('a &#38; b');
  });

  it('renders an empty document', () => {
    expect(renderApiReference({})).toMatch(/^<!doctype html>/);
  });
});
