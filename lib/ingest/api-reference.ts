/**
 * A readable API reference rendered on the server from the OpenAPI document: no CDN, no
 * script, works offline and in any browser.
 */
type Json = Record<string, unknown>;

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
/** Escaped text with `backticks` shown as code, as the descriptions are written. */
const prose = (text: string) => escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');

function schemaSummary(schema: unknown, components: Json, depth = 0): string {
  if (typeof schema !== 'object' || schema === null || depth > 3) return '';
  const s = schema as Json;
  if (typeof s.$ref === 'string') {
    const name = s.$ref.split('/').pop() ?? '';
    return `<a href="#schema-${escapeHtml(name)}">${escapeHtml(name)}</a>`;
  }
  if (s.type === 'object' && typeof s.properties === 'object' && s.properties !== null) {
    const required = new Set(Array.isArray(s.required) ? (s.required as string[]) : []);
    const rows = Object.entries(s.properties as Json)
      .map(([name, property]) => {
        const p = property as Json;
        const type =
          typeof p.$ref === 'string'
            ? schemaSummary(p, components, depth + 1)
            : escapeHtml(String(p.type ?? (p.enum ? 'enum' : p.anyOf ? 'one of' : '')));
        const description = typeof p.description === 'string' ? prose(p.description) : '';
        const example =
          p.example === undefined ? '' : ` <code>${escapeHtml(JSON.stringify(p.example))}</code>`;
        return `<tr><td><code>${escapeHtml(name)}</code>${required.has(name) ? ' *' : ''}</td><td>${type}</td><td>${description}${example}</td></tr>`;
      })
      .join('');
    return `<table><tr><th>field</th><th>type</th><th>notes</th></tr>${rows}</table>`;
  }
  if (s.type === 'array')
    return `array of ${schemaSummary(s.items, components, depth + 1) || 'items'}`;
  return escapeHtml(String(s.type ?? ''));
}

/** Renders the OpenAPI 3.1 document as one HTML page. */
export function renderApiReference(document: Json): string {
  const info = (document.info ?? {}) as Json;
  const components = ((document.components ?? {}) as Json).schemas as Json | undefined;
  const operations: string[] = [];
  for (const [path, item] of Object.entries((document.paths ?? {}) as Json)) {
    for (const [method, op] of Object.entries(item as Json)) {
      const o = op as Json;
      const secured = Array.isArray(o.security) && o.security.length > 0;
      const params = (Array.isArray(o.parameters) ? (o.parameters as Json[]) : [])
        .map(
          (p) =>
            `<li><code>${escapeHtml(String(p.name))}</code> (${escapeHtml(String(p.in))})${p.description ? `: ${prose(String(p.description))}` : ''}</li>`,
        )
        .join('');
      const body = ((o.requestBody as Json | undefined)?.content ?? {}) as Json;
      const bodyTypes = Object.keys(body);
      const firstBody =
        bodyTypes[0] === undefined ? undefined : ((body[bodyTypes[0]] as Json).schema as unknown);
      const responses = Object.entries((o.responses ?? {}) as Json)
        .map(
          ([status, r]) =>
            `<li><strong>${escapeHtml(status)}</strong> ${prose(String((r as Json).description ?? ''))}</li>`,
        )
        .join('');
      operations.push(`<section class="op" id="${escapeHtml(`${method}-${path}`)}">
<h2><span class="m">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code>${secured ? ' <span class="key">API key</span>' : ''}</h2>
<p><strong>${prose(String(o.summary ?? ''))}</strong></p>${o.description ? `<p>${prose(String(o.description))}</p>` : ''}
${params ? `<h3>Parameters</h3><ul>${params}</ul>` : ''}
${bodyTypes.length ? `<h3>Body</h3><p>${bodyTypes.map((t) => `<code>${escapeHtml(t)}</code>`).join(', ')}</p>${schemaSummary(firstBody, components ?? {})}` : ''}
<h3>Responses</h3><ul>${responses}</ul></section>`);
    }
  }
  const schemas = Object.entries(components ?? {})
    .map(
      ([name, schema]) =>
        `<section id="schema-${escapeHtml(name)}"><h3>${escapeHtml(name)}</h3>${schemaSummary(schema, components ?? {})}</section>`,
    )
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(String(info.title ?? 'API'))} reference</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1f2328}code{background:#f3f4f6;padding:0 .2rem;border-radius:3px}
.op{border-top:1px solid #d0d7de;padding:.5rem 0}.m{display:inline-block;min-width:4rem;font-size:.9rem;color:#fff;background:#0969da;border-radius:4px;text-align:center}
.key{font-size:.8rem;background:#fff8c5;border:1px solid #d4a72c;border-radius:4px;padding:0 .3rem}table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #d0d7de;padding:.2rem .5rem;text-align:left;vertical-align:top}</style>
</head><body><h1>${escapeHtml(String(info.title ?? 'API'))} <small>${escapeHtml(String(info.version ?? ''))}</small></h1>
<p>The machine-readable document is at <a href="/openapi.json">/openapi.json</a>. Errors are <code>application/problem+json</code> (RFC 9457). Endpoints marked <span class="key">API key</span> need <code>Authorization: Bearer &lt;key&gt;</code>.</p>
${operations.join('\n')}<h2>Schemas</h2>${schemas}</body></html>`;
}
