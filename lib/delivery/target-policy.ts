import ipaddr from 'ipaddr.js';

/** Why a webhook URL is refused, or undefined when it is allowed. */
export type TargetRefusal = string | undefined;

const LOCAL_HOSTNAMES = new Set(['localhost', 'localhost.localdomain']);

/**
 * Checks a subscriber URL before it is stored. In production only https to a public
 * address is allowed: a literal loopback, private, link-local (cloud metadata), CGNAT or
 * unique-local address is refused. Local mode also allows http and loopback, so a receiver
 * on the same machine works. Host names are resolved and checked again at send time by the
 * delivery issue's guard (against DNS rebinding).
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
    return url.protocol === 'https:' || url.protocol === 'http:'
      ? undefined
      : 'only http and https are allowed';
  }
  if (url.protocol !== 'https:') return 'only https URLs are allowed';
  // A trailing dot names the same host (fully qualified), so `localhost.` is loopback too.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  if (LOCAL_HOSTNAMES.has(host.toLowerCase()) || host.toLowerCase().endsWith('.localhost')) {
    return 'loopback hosts are not allowed';
  }
  if (ipaddr.isValid(host)) {
    const address = ipaddr.process(host);
    const range = address.range();
    if (range !== 'unicast') return `addresses in the ${range} range are not allowed`;
  }
  return undefined;
}
