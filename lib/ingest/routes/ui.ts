import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type Context, Hono } from 'hono';

/**
 * The page's Content-Security-Policy: everything from this origin, no inline script or style, no
 * framing. The page only ever talks to the API it is served by.
 */
export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The files of the page, by the name they have in `web/`, with their content types. */
const UI_FILES = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
} as const;
type UiFileName = keyof typeof UI_FILES;

interface UiFile {
  body: string;
  etag: string;
}

/**
 * Where `web/` may be: beside the running module first (the Lambda bundle puts `web/` next to
 * `index.mjs`), else the repository's own `web/` (this file is `lib/ingest/routes/ui.ts`).
 */
const WEB_DIRS = [new URL('./web/', import.meta.url), new URL('../../../web/', import.meta.url)];

async function readUiFile(name: UiFileName): Promise<UiFile> {
  let lastError: unknown;
  for (const dir of WEB_DIRS) {
    try {
      const body = await readFile(fileURLToPath(new URL(name, dir)), 'utf8');
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
      return { body, etag };
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

/**
 * The funnel page: `GET /` answers `index.html`, `GET /ui/app.js` and `/ui/app.css` its script
 * and styles. No authentication here: the page asks for the API key and sends it with every
 * API call it makes. Each file is read once, on first request, and then served from memory.
 */
export function uiRoutes() {
  const cache = new Map<UiFileName, Promise<UiFile>>();
  const load = (name: UiFileName): Promise<UiFile> => {
    let file = cache.get(name);
    if (file === undefined) {
      file = readUiFile(name);
      // A failed read is not kept: the next request tries again.
      file.catch(() => cache.delete(name));
      cache.set(name, file);
    }
    return file;
  };

  const serve = (name: UiFileName) => async (c: Context) => {
    const file = await load(name);
    const headers: Record<string, string> = {
      'content-type': UI_FILES[name],
      // Always revalidated: a deploy shows at once, and an unchanged file costs one 304.
      'cache-control': 'no-cache',
      etag: file.etag,
      'content-security-policy': UI_CONTENT_SECURITY_POLICY,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
    };
    const ifNoneMatch = c.req.header('if-none-match');
    if (ifNoneMatch?.split(/\s*,\s*/).includes(file.etag)) {
      return c.body(null, 304, headers);
    }
    return c.body(file.body, 200, headers);
  };

  return new Hono()
    .get('/', serve('index.html'))
    .get('/ui/app.js', serve('app.js'))
    .get('/ui/app.css', serve('app.css'));
}
