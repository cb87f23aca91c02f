import { isIP } from 'node:net';
import {
  forbiddenRange,
  type Resolver,
  resolveAndCheck,
  TargetRefusedError,
} from './target-guard.ts';

/** Why a webhook URL is refused, or undefined when it is allowed. */
export type TargetRefusal = string | undefined;

const LOCAL_HOSTNAMES = new Set(['localhost', 'localhost.localdomain']);

/** How long subscription create waits for DNS before refusing the URL. */
const CREATE_RESOLVE_TIMEOUT_MS = 5_000;

/** The URL's host without IPv6 brackets and without a trailing dot. */
export function targetHost(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
}

/**
 * Checks a subscriber URL without resolving it. In production only https to a public address
 * is allowed: a literal loopback, private, link-local (cloud metadata), CGNAT, unique-local
 * or otherwise non-public address is refused, and so are `localhost` names. Local mode also
 * allows http and loopback (a receiver on the same machine), never private ranges. Host
 * names are resolved by `checkWebhookTargetResolved` (at create) and by the send path at
 * connect time (against DNS rebinding).
 */
export function checkWebhookTarget(
  rawUrl: string,
  options: { allowLocal: boolean },
): TargetRefusal {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return 'not a valid URL';
  }
  if (url.username !== '' || url.password !== '') return 'credentials in the URL are not allowed';
  if (options.allowLocal) {
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      return 'only http and https are allowed';
    }
  } else if (url.protocol !== 'https:') {
    return 'only https URLs are allowed';
  }
  // A trailing dot names the same host (fully qualified), so `localhost.` is loopback too.
  const host = targetHost(url);
  const lower = host.toLowerCase();
  if (!options.allowLocal && (LOCAL_HOSTNAMES.has(lower) || lower.endsWith('.localhost'))) {
    return 'loopback hosts are not allowed';
  }
  if (isIP(host) !== 0) {
    const range = forbiddenRange(host, options);
    if (range !== undefined) return `addresses in the ${range} range are not allowed`;
  }
  return undefined;
}

/**
 * `checkWebhookTarget`, then resolves the host name and refuses it when ANY of its
 * addresses is forbidden. For subscription create; the send path checks again at connect
 * time, since the records can change after this check. A name that does not resolve is
 * refused too.
 */
export async function checkWebhookTargetResolved(
  rawUrl: string,
  options: { allowLocal: boolean; resolver?: Resolver; timeoutMs?: number },
): Promise<TargetRefusal> {
  const refusal = checkWebhookTarget(rawUrl, options);
  if (refusal !== undefined) return refusal;
  const host = targetHost(new URL(rawUrl));
  if (isIP(host) !== 0) return undefined;
  let timer: NodeJS.Timeout | undefined;
  const timeoutMs = options.timeoutMs ?? CREATE_RESOLVE_TIMEOUT_MS;
  try {
    await Promise.race([
      resolveAndCheck(host, {
        allowLocal: options.allowLocal,
        ...(options.resolver ? { resolver: options.resolver } : {}),
      }),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(
          () => reject(new Error(`resolving took longer than ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
    return undefined;
  } catch (error) {
    if (error instanceof TargetRefusedError) return error.reason;
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOTFOUND' || code === 'ENODATA'
      ? 'the host name does not resolve'
      : 'the host name could not be resolved; try again';
  } finally {
    clearTimeout(timer);
  }
}
