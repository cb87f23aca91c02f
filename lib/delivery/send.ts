import type { LookupAddress, LookupOptions } from 'node:dns';
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { DeliveryAttempt } from '../store/delivery-store.ts';
import { type Resolver, resolveAndCheck, TargetRefusedError } from './target-guard.ts';
import { checkWebhookTarget, targetHost } from './target-policy.ts';

/** How long one attempt may take in all (DNS, connect, TLS, answer, body) by default. */
export const SEND_TIMEOUT_MS = 15_000;
/** How much of the response body is kept with the attempt. */
export const MAX_KEPT_RESPONSE_CHARS = 1_000;
/** Reading the response body stops after this many bytes. */
export const MAX_READ_RESPONSE_BYTES = 64 * 1024;
export const USER_AGENT = 'Leadstage-Webhooks/0.1';

export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** The whole attempt's budget; 15 s when omitted. */
  timeoutMs?: number;
  /**
   * Local mode: http and loopback targets are allowed (never private ranges). Omitted means
   * production: https only, public addresses only.
   */
  allowLocal?: boolean;
  /** Resolves the host name at connect time; the system resolver when omitted (tests). */
  resolver?: Resolver;
}

export interface SendResult {
  /** Only a 2xx is success; a 3xx is a failure and is never followed. */
  ok: boolean;
  attempt: DeliveryAttempt;
  /** The answer's `Retry-After` (delta-seconds or HTTP-date) in milliseconds from now. */
  retryAfterMs?: number;
  /** The target is not allowed (no connection was made); retrying will not help. */
  refused?: boolean;
}

interface Answer {
  statusCode: number;
  body: string;
  retryAfter: string | undefined;
}

class SendTimeoutError extends Error {
  override readonly name = 'SendTimeoutError';
}

/**
 * POSTs one signed webhook with `node:http`/`node:https`. The URL is checked against the
 * target policy, then the host name is resolved and EVERY address checked inside the
 * socket's `lookup`, so the address that was checked is the address connected to (DNS
 * rebinding cannot swap it after the check); a refused target is never connected to. TLS
 * still verifies the certificate against the host name (SNI). Only a 2xx is success; a 3xx
 * is a failure and is not followed. The body read stops at 64 KB and its first 1,000
 * characters are kept. One timeout (15 s by default) covers the whole attempt.
 */
export async function postWebhook(request: WebhookRequest, now: () => Date): Promise<SendResult> {
  const startedAt = now();
  const started = performance.now();
  const timeoutMs = request.timeoutMs ?? SEND_TIMEOUT_MS;
  const allowLocal = request.allowLocal ?? false;
  const elapsed = () => Math.round(performance.now() - started);
  const failure = (error: string, refused = false): SendResult => ({
    ok: false,
    attempt: { at: startedAt.toISOString(), latencyMs: elapsed(), error },
    ...(refused ? { refused } : {}),
  });

  const policyRefusal = checkWebhookTarget(request.url, { allowLocal });
  if (policyRefusal !== undefined) return failure(`target refused: ${policyRefusal}`, true);

  let refusal: TargetRefusedError | undefined;
  try {
    const answer = await send(request, timeoutMs, allowLocal, (error) => {
      refusal = error;
    });
    const retryAfterMs = parseRetryAfter(answer.retryAfter, now());
    return {
      ok: answer.statusCode >= 200 && answer.statusCode < 300,
      attempt: {
        at: startedAt.toISOString(),
        statusCode: answer.statusCode,
        latencyMs: elapsed(),
        responseBody: answer.body,
      },
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  } catch (error) {
    if (refusal !== undefined || error instanceof TargetRefusedError) {
      return failure((refusal ?? (error as TargetRefusedError)).message, true);
    }
    if (error instanceof SendTimeoutError) return failure(`timed out after ${timeoutMs} ms`);
    return failure(describeError(error));
  }
}

function send(
  request: WebhookRequest,
  timeoutMs: number,
  allowLocal: boolean,
  onRefused: (error: TargetRefusedError) => void,
): Promise<Answer> {
  const url = new URL(request.url);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const body = Buffer.from(request.body, 'utf8');

  // Called by the socket for a host name (never for an IP literal, which the policy checked):
  // resolve, check every address, and hand the socket only checked addresses.
  const lookup = (
    hostname: string,
    options: LookupOptions,
    callback: (
      error: NodeJS.ErrnoException | null,
      address: string | LookupAddress[],
      family?: number,
    ) => void,
  ): void => {
    resolveAndCheck(hostname, {
      allowLocal,
      ...(request.resolver ? { resolver: request.resolver } : {}),
    }).then(
      (resolved) => {
        const family = options.family === 4 || options.family === 6 ? options.family : undefined;
        const usable =
          family === undefined ? resolved : resolved.filter((a) => a.family === family);
        const first = usable[0];
        if (first === undefined) {
          callback(
            Object.assign(new Error(`no IPv${family} address for the host name`), {
              code: 'ENOTFOUND',
            }),
            '',
          );
        } else if (options.all) {
          callback(null, usable);
        } else {
          callback(null, first.address, first.family);
        }
      },
      (error: unknown) => {
        if (error instanceof TargetRefusedError) onRefused(error);
        callback(error as NodeJS.ErrnoException, '');
      },
    );
  };

  const options: RequestOptions & { servername?: string } = {
    method: 'POST',
    protocol: url.protocol,
    hostname: host,
    port: url.port === '' ? undefined : Number(url.port),
    path: `${url.pathname}${url.search}`,
    headers: {
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      ...request.headers,
      'content-length': String(body.length),
    },
    // A fresh connection per attempt: never a pooled socket checked under other options.
    agent: false,
    lookup,
  };
  // SNI and certificate checks use the host name (never the address connected to).
  if (url.protocol === 'https:' && isIP(host) === 0) options.servername = targetHost(url);

  return new Promise<Answer>((resolve, reject) => {
    let settled = false;
    let response: IncomingMessage | undefined;
    const chunks: Buffer[] = [];
    let received = 0;

    const finish = () => {
      if (settled || response === undefined) return;
      settled = true;
      clearTimeout(timer);
      const retryAfter = response.headers['retry-after'];
      resolve({
        statusCode: response.statusCode ?? 0,
        body: keepChars(Buffer.concat(chunks).toString('utf8')),
        retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
      });
      // Stop reading: the rest of the body (if any) is not wanted.
      req.destroy();
    };
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(error);
    };

    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(options, (res) => {
      response = res;
      res.on('data', (chunk: Buffer) => {
        if (settled) return;
        const room = MAX_READ_RESPONSE_BYTES - received;
        chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
        received += Math.min(chunk.length, room);
        if (received >= MAX_READ_RESPONSE_BYTES) finish();
      });
      res.on('end', finish);
      // The status line arrived: a body cut short keeps what was read.
      res.on('error', finish);
      res.on('aborted', finish);
      res.on('close', finish);
    });
    req.on('error', (error) => (response === undefined ? fail(error) : finish()));

    const timer = setTimeout(() => {
      // After the status line the answer stands; only the body read is cut short.
      if (response !== undefined) finish();
      else fail(new SendTimeoutError(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);

    req.end(body);
  });
}

/** The first 1,000 characters, without a lone high surrogate at the cut. */
function keepChars(text: string): string {
  if (text.length <= MAX_KEPT_RESPONSE_CHARS) return text;
  const cut = text.slice(0, MAX_KEPT_RESPONSE_CHARS);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

/**
 * `Retry-After` (RFC 9110): delta-seconds or an HTTP-date, as milliseconds from `now`
 * (never negative). Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, now: Date): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1_000;
  // Every HTTP-date form starts with the day name; anything else (e.g. "1.5") is unreadable.
  if (!/^[A-Za-z]/.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now.getTime());
}

/** A one-line reason without a stack trace. */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return 'request failed';
  if (error.message !== '') return error.message;
  // Happy eyeballs fails with an AggregateError of one error per address tried.
  const inner = (error as Partial<AggregateError>).errors;
  if (Array.isArray(inner) && inner.length > 0) {
    return inner.map((e) => (e instanceof Error ? e.message : String(e))).join('; ');
  }
  const code = (error as NodeJS.ErrnoException).code;
  return code ?? error.name;
}
