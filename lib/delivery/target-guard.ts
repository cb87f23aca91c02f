import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** One resolved address of a host name, as `dns.lookup` with `{ all: true }` returns it. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to all of its addresses (injectable, for tests). */
export type Resolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

export interface GuardOptions {
  /** Local mode: loopback (127.0.0.0/8, ::1) is allowed. Private ranges never are. */
  allowLocal: boolean;
  /** Defaults to the system resolver (`dns.promises.lookup` with `{ all: true }`). */
  resolver?: Resolver;
}

/**
 * The target is not allowed. `reason` says why without naming the host or its address, so it
 * can be stored with the attempt and returned to the API caller as is.
 */
export class TargetRefusedError extends Error {
  override readonly name = 'TargetRefusedError';
  readonly reason: string;

  constructor(reason: string) {
    super(`target refused: ${reason}`);
    this.reason = reason;
  }
}

/** The system resolver: every address, in the order the resolver gives them. */
export const systemResolver: Resolver = async (hostname) => {
  const addresses = await dnsLookup(hostname, { all: true, verbatim: true });
  return addresses.map((entry) => ({
    address: entry.address,
    family: entry.family === 6 ? 6 : 4,
  }));
};

const IPV6_GLOBAL_UNICAST = ipaddr.IPv6.parseCIDR('2000::/3');
const IPV4_COMPATIBLE = ipaddr.IPv6.parseCIDR('::/96');

/**
 * The name of the range that makes an address forbidden, or undefined when it may be
 * connected to. Only public unicast is allowed: loopback, private (RFC 1918), link-local
 * (with the cloud metadata address 169.254.169.254), CGNAT, unspecified (0.0.0.0/8, ::),
 * broadcast, multicast, reserved and documentation ranges, IPv6 unique-local and
 * link-local, and every IPv6 form that embeds an IPv4 address (compatible, NAT64, 6to4,
 * Teredo) are refused; an IPv4-mapped address is judged as the IPv4 address it carries.
 * IPv6 must also be in 2000::/3, the only block allocated for global unicast.
 * `allowLocal` allows loopback and nothing else.
 */
export function forbiddenRange(ip: string, options: { allowLocal: boolean }): string | undefined {
  const literal = ip.replace(/^\[(.*)\]$/, '$1');
  if (isIP(literal) === 0) return 'invalid';
  const address = ipaddr.process(isIP(literal) === 6 ? withoutDottedQuad(literal) : literal);
  const range = address.range();
  if (range === 'loopback') return options.allowLocal ? undefined : range;
  if (range !== 'unicast') return range;
  if (address.kind() === 'ipv6') {
    const v6 = address as ipaddr.IPv6;
    if (v6.match(IPV4_COMPATIBLE)) return 'ipv4Compatible';
    if (!v6.match(IPV6_GLOBAL_UNICAST)) return 'non-global IPv6';
  }
  return undefined;
}

/**
 * Rewrites an IPv6 literal's trailing dotted quad as two hex groups (`::8.8.8.8` ->
 * `::808:808`). ipaddr.js reads `::a.b.c.d` as IPv4-mapped, but the socket connects to it as
 * IPv4-compatible (`::/96`), so the guard must judge the address the socket would use.
 */
function withoutDottedQuad(literal: string): string {
  const match = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)(%.*)?$/.exec(literal);
  if (match === null) return literal;
  const [a, b, c, d] = match.slice(2, 6).map(Number) as [number, number, number, number];
  const high = ((a << 8) | b).toString(16);
  const low = ((c << 8) | d).toString(16);
  return `${match[1]}${high}:${low}${match[6] ?? ''}`;
}

/** Why an address may not be connected to, or undefined when it may (see `forbiddenRange`). */
export function addressRefusal(ip: string, options: { allowLocal: boolean }): string | undefined {
  const range = forbiddenRange(ip, options);
  if (range === undefined) return undefined;
  return range === 'invalid'
    ? 'not an IP address'
    : `addresses in the ${range} range are not allowed`;
}

/** True when the address may not be connected to (see `addressRefusal`). */
export function isForbiddenAddress(ip: string, options: { allowLocal?: boolean } = {}): boolean {
  return addressRefusal(ip, { allowLocal: options.allowLocal ?? false }) !== undefined;
}

/**
 * Resolves a host name to ALL of its addresses and refuses (with `TargetRefusedError`) when
 * any of them is forbidden, so a name with one public and one private record is refused too.
 * An IP literal is checked without resolving. Resolver failures (no such host, DNS down) are
 * thrown as they are: they are not a policy refusal. Returns the checked addresses; connect
 * only to these (that is what defeats DNS rebinding).
 */
export async function resolveAndCheck(
  hostname: string,
  options: GuardOptions,
): Promise<ResolvedAddress[]> {
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  const literalFamily = isIP(host);
  const addresses: readonly ResolvedAddress[] =
    literalFamily === 0
      ? await (options.resolver ?? systemResolver)(host)
      : [{ address: host, family: literalFamily === 6 ? 6 : 4 }];
  if (addresses.length === 0) {
    throw Object.assign(new Error('the host name has no addresses'), { code: 'ENOTFOUND' });
  }
  for (const entry of addresses) {
    const range = forbiddenRange(entry.address, options);
    if (range === undefined) continue;
    if (literalFamily !== 0) {
      throw new TargetRefusedError(`addresses in the ${range} range are not allowed`);
    }
    throw new TargetRefusedError(
      range === 'invalid'
        ? 'the resolver returned something that is not an IP address'
        : `the host name resolves to an address in the ${range} range`,
    );
  }
  return addresses.map((entry) => ({
    address: entry.address,
    family: isIP(entry.address) === 6 ? 6 : 4,
  }));
}
