/**
 * A small MIME reader, shared by the SES (raw `content`) and SendGrid (raw Inbound Parse)
 * adapters. Messages are handled as "binary strings" (one char per byte, latin1) so
 * that every part can be decoded from its own bytes with its own charset.
 */

export interface MimeHeader {
  name: string;
  value: string;
}

/** Bytes as a binary string (one char per byte). */
export function binaryString(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** Decodes bytes in a MIME charset; unknown or missing charsets decode as UTF-8. */
export function decodeCharset(bytes: Uint8Array, charset: string | undefined): string {
  const label = charset?.trim().replace(/^"|"$/g, '');
  try {
    return new TextDecoder(label === undefined || label === '' ? 'utf-8' : label).decode(bytes);
  } catch {
    return new TextDecoder('utf-8').decode(bytes);
  }
}

/** Unfolds a header block into name/value pairs, in order. */
export function parseHeaderBlock(block: string): MimeHeader[] {
  const headers: MimeHeader[] = [];
  for (const line of block.split(/\r?\n/)) {
    const last = headers.at(-1);
    if (/^[ \t]/.test(line)) {
      if (last !== undefined) last.value = `${last.value} ${line.trim()}`.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    headers.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() });
  }
  return headers;
}

/** Splits a message or body part into its headers and body at the first empty line. */
export function splitMessage(raw: string): { headers: MimeHeader[]; body: string } {
  const blank = /(?:^|\r?\n)\r?\n/.exec(raw);
  if (blank === null) return { headers: parseHeaderBlock(raw), body: '' };
  return {
    headers: parseHeaderBlock(raw.slice(0, blank.index)),
    body: raw.slice(blank.index + blank[0].length),
  };
}

/** The first value of a header, by case-insensitive name. */
export function headerValue(
  headers: readonly MimeHeader[] | undefined,
  name: string,
): string | undefined {
  const lower = name.toLowerCase();
  return headers?.find((header) => header.name.toLowerCase() === lower)?.value;
}

/** `multipart/alternative; boundary="x"` -> type `multipart/alternative`, params {boundary: x}. */
export function headerParams(value: string): { type: string; params: Map<string, string> } {
  const semicolon = value.indexOf(';');
  const type = (semicolon === -1 ? value : value.slice(0, semicolon)).trim().toLowerCase();
  const params = new Map<string, string>();
  const pattern = /;\s*([^=;\s]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/g;
  for (const match of value.matchAll(pattern)) {
    const name = match[1];
    if (name === undefined) continue;
    params.set(name.toLowerCase(), (match[2] ?? match[3] ?? '').replace(/\\(.)/g, '$1'));
  }
  return { type, params };
}

/** The body parts of a multipart body (preamble and epilogue dropped), each as raw text. */
export function multipartParts(body: string, boundary: string): string[] {
  const escaped = boundary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const delimiter = new RegExp(`(?:^|\\r?\\n)--${escaped}(--)?[ \\t]*(?=\\r?\\n|$)`, 'g');
  const parts: string[] = [];
  let start: number | undefined;
  for (const match of body.matchAll(delimiter)) {
    if (start !== undefined) parts.push(body.slice(start, match.index).replace(/^\r?\n/, ''));
    if (match[1] === '--') return parts;
    start = match.index + match[0].length;
  }
  // No closing delimiter: keep what came after the last one.
  if (start !== undefined) parts.push(body.slice(start).replace(/^\r?\n/, ''));
  return parts;
}

function decodeQuotedPrintable(text: string): Uint8Array {
  const input = text.replace(/=\r?\n/g, '');
  const out: number[] = [];
  for (let index = 0; index < input.length; index++) {
    const hex = input.slice(index + 1, index + 3);
    if (input[index] === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      out.push(Number.parseInt(hex, 16));
      index += 2;
    } else {
      out.push(input.charCodeAt(index) & 0xff);
    }
  }
  return Uint8Array.from(out);
}

function decodeEntityBody(
  body: string,
  transferEncoding: string | undefined,
  charset: string | undefined,
): string {
  const encoding = transferEncoding?.trim().toLowerCase();
  const bytes =
    encoding === 'base64'
      ? Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64')
      : encoding === 'quoted-printable'
        ? decodeQuotedPrintable(body)
        : Buffer.from(body, 'latin1');
  return decodeCharset(bytes, charset);
}

function plainTextOfEntity(headers: MimeHeader[], body: string, depth: number): string | undefined {
  const disposition = headerValue(headers, 'Content-Disposition');
  if (disposition !== undefined && /^\s*attachment/i.test(disposition)) return undefined;
  const { type, params } = headerParams(headerValue(headers, 'Content-Type') ?? 'text/plain');
  if (type === 'text/plain' || type === '') {
    return decodeEntityBody(
      body,
      headerValue(headers, 'Content-Transfer-Encoding'),
      params.get('charset'),
    );
  }
  const boundary = params.get('boundary');
  if (type.startsWith('multipart/') && boundary !== undefined && depth < 8) {
    for (const part of multipartParts(body, boundary)) {
      const entity = splitMessage(part);
      const text = plainTextOfEntity(entity.headers, entity.body, depth + 1);
      if (text !== undefined) return text;
    }
  }
  return undefined;
}

/**
 * The first text/plain part of a raw message (binary string), decoded (base64 or
 * quoted-printable, then its charset); undefined when it has none (e.g. HTML only).
 */
export function plainTextOf(raw: string): string | undefined {
  const { headers, body } = splitMessage(raw);
  return plainTextOfEntity(headers, body, 0);
}
