import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { UI_CONTENT_SECURITY_POLICY, uiRoutes } from '../../../lib/ingest/routes/ui.ts';
import { testApi } from '../support/api.ts';
import { expectProblem } from '../support/problem.ts';

/** The funnel page's files, as served by the whole app (no API key: the page asks for one). */

const webFile = (name: string) =>
  readFile(new URL(`../../../web/${name}`, import.meta.url), 'utf8');

describe('the funnel page routes', () => {
  it('serves index.html at / without an API key', async () => {
    const { app } = testApi();
    const response = await app.request('/');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await response.text();
    expect(html).toBe(await webFile('index.html'));
    expect(html).toContain('<script type="module" src="/ui/app.js"></script>');
    expect(html).toContain('<link rel="stylesheet" href="/ui/app.css">');
  });

  it('serves the script and the styles with their content types', async () => {
    const { app } = testApi();
    const script = await app.request('/ui/app.js');
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toBe(await webFile('app.js'));
    const styles = await app.request('/ui/app.css');
    expect(styles.status).toBe(200);
    expect(styles.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(await styles.text()).toBe(await webFile('app.css'));
  });

  it('sends a strict Content-Security-Policy: own origin only, no inline script, no framing', async () => {
    const { app } = testApi();
    for (const path of ['/', '/ui/app.js', '/ui/app.css']) {
      const response = await app.request(path);
      const policy = response.headers.get('content-security-policy') ?? '';
      expect(policy).toBe(UI_CONTENT_SECURITY_POLICY);
      expect(policy).toContain("default-src 'self'");
      expect(policy).toContain("script-src 'self'");
      expect(policy).toContain("frame-ancestors 'none'");
      expect(policy).not.toContain('unsafe-inline');
      expect(policy).not.toContain('unsafe-eval');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it('the page itself carries no inline script or style and loads nothing from elsewhere', async () => {
    const html = await webFile('index.html');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style/);
    expect(html).not.toMatch(/\sstyle=/);
    expect(html).not.toMatch(/\son[a-z]+=/);
    expect(html).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
    const script = await webFile('app.js');
    expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    expect(script).not.toMatch(/https?:\/\//);
  });

  it('lets the browser revalidate: no-cache with an ETag, and 304 when it matches', async () => {
    const app = uiRoutes();
    const first = await app.request('/ui/app.js');
    expect(first.headers.get('cache-control')).toBe('no-cache');
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await app.request('/ui/app.js', { headers: { 'if-none-match': etag as string } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    const stale = await app.request('/ui/app.js', { headers: { 'if-none-match': '"other"' } });
    expect(stale.status).toBe(200);
  });

  it('leaves other paths to the API: unknown ones still answer 404 problem+json', async () => {
    const { app } = testApi();
    for (const path of ['/index.html', '/ui/other.js', '/ui/', '/v1/nothing-here']) {
      const document = await expectProblem(await app.request(path), 404);
      expect(document.type).toBe('/problems/not-found');
    }
  });

  it('answers a HEAD of the page like its GET, without a body', async () => {
    const { app } = testApi();
    const response = await app.request('/', { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await response.text()).toBe('');
  });
});
