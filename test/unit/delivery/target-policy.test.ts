import { describe, expect, it } from 'vitest';
import type { Resolver } from '../../../lib/delivery/target-guard.ts';
import {
  checkWebhookTarget,
  checkWebhookTargetResolved,
} from '../../../lib/delivery/target-policy.ts';

const production = { allowLocal: false };
const local = { allowLocal: true };

describe('checkWebhookTarget in production', () => {
  it.each([
    ['plain http', 'http://crm.example.com/hooks'],
    ['a non-http scheme', 'ftp://crm.example.com/hooks'],
    ['not a URL', 'crm.example.com/hooks'],
  ])('refuses %s', (_label, url) => {
    expect(checkWebhookTarget(url, production)).toEqual(expect.any(String));
  });

  it.each([
    ['IPv4 loopback', 'https://127.0.0.1/hooks'],
    ['IPv4 loopback, short form', 'https://127.1/hooks'],
    ['IPv4 loopback, hex form', 'https://0x7f000001/hooks'],
    ['10.0.0.0/8', 'https://10.1.2.3/hooks'],
    ['172.16.0.0/12, low end', 'https://172.16.0.1/hooks'],
    ['172.16.0.0/12, high end', 'https://172.31.255.254/hooks'],
    ['192.168.0.0/16', 'https://192.168.1.10/hooks'],
    ['the cloud metadata address', 'https://169.254.169.254/latest/meta-data/'],
    ['CGNAT 100.64.0.0/10', 'https://100.64.0.1/hooks'],
    ['CGNAT, high end', 'https://100.127.255.254/hooks'],
    ['the unspecified IPv4 address', 'https://0.0.0.0/hooks'],
    ['IPv6 loopback', 'https://[::1]/hooks'],
    ['IPv6 unique-local fc00::/7 (fc)', 'https://[fc00::1]/hooks'],
    ['IPv6 unique-local fc00::/7 (fd)', 'https://[fd12:3456:789a::1]/hooks'],
    ['IPv6 link-local', 'https://[fe80::1]/hooks'],
    ['IPv4-mapped IPv6 of 10.x', 'https://[::ffff:10.0.0.1]/hooks'],
    ['IPv4-mapped IPv6 of loopback', 'https://[::ffff:127.0.0.1]/hooks'],
    ['IPv4-mapped IPv6 of 192.168.x', 'https://[::ffff:192.168.0.1]/hooks'],
    ['IPv4-mapped IPv6 of the metadata address', 'https://[::ffff:169.254.169.254]/hooks'],
    ['IPv4-compatible IPv6 of 10.x', 'https://[::a00:1]/hooks'],
    ['IPv4-compatible IPv6 in dotted form', 'https://[::10.0.0.1]/hooks'],
    ['IPv4 multicast', 'https://224.0.0.1/hooks'],
    ['IPv4 broadcast', 'https://255.255.255.255/hooks'],
    ['6to4 IPv6', 'https://[2002:a00:1::1]/hooks'],
    ['IPv6 unspecified', 'https://[::]/hooks'],
  ])('refuses %s', (_label, url) => {
    expect(checkWebhookTarget(url, production)).toMatch(/range are not allowed/);
  });

  it.each([
    ['localhost', 'https://localhost/hooks'],
    ['LOCALHOST in capitals', 'https://LOCALHOST/hooks'],
    ['localhost.localdomain', 'https://localhost.localdomain/hooks'],
    ['a *.localhost name', 'https://crm.localhost/hooks'],
    ['localhost as a fully qualified name (trailing dot)', 'https://localhost./hooks'],
    ['a *.localhost name with a trailing dot', 'https://crm.localhost./hooks'],
  ])('refuses %s', (_label, url) => {
    expect(checkWebhookTarget(url, production)).toBe('loopback hosts are not allowed');
  });

  it.each([
    ['user and password', 'https://user:secret@crm.example.com/hooks'],
    ['a user alone', 'https://user@crm.example.com/hooks'],
  ])('refuses credentials in the URL: %s', (_label, url) => {
    expect(checkWebhookTarget(url, production)).toBe('credentials in the URL are not allowed');
  });

  it.each([
    ['a public host name', 'https://crm.example.com/hooks/leadstage?x=1'],
    ['a public IPv4 address', 'https://93.184.216.34/hooks'],
    ['an address just outside 172.16.0.0/12', 'https://172.32.0.1/hooks'],
    ['an address just outside CGNAT', 'https://100.128.0.1/hooks'],
    ['a public IPv6 address', 'https://[2606:2800:220:1:248:1893:25c8:1946]/hooks'],
    ['a public host on another port', 'https://crm.example.com:8443/hooks'],
  ])('allows %s over https', (_label, url) => {
    expect(checkWebhookTarget(url, production)).toBeUndefined();
  });
});

describe('checkWebhookTarget in local mode', () => {
  it.each([
    'http://127.0.0.1:8080/hooks',
    'http://localhost:8080/hooks',
    'http://[::1]:8080/hooks',
    'https://crm.example.com/hooks',
  ])('allows %s', (url) => {
    expect(checkWebhookTarget(url, local)).toBeUndefined();
  });

  it.each([
    ['10.0.0.0/8', 'http://10.0.0.5/hooks'],
    ['192.168.0.0/16', 'http://192.168.1.10:8080/hooks'],
    ['the cloud metadata address', 'http://169.254.169.254/latest/meta-data/'],
    ['CGNAT', 'http://100.64.0.1/hooks'],
    ['IPv6 unique-local', 'http://[fd00::1]/hooks'],
    ['the unspecified address', 'http://0.0.0.0:8080/hooks'],
  ])('still refuses %s: local mode allows loopback, not private ranges', (_label, url) => {
    expect(checkWebhookTarget(url, local)).toMatch(/range are not allowed/);
  });

  it('still refuses other schemes and credentials', () => {
    expect(checkWebhookTarget('ftp://127.0.0.1/hooks', local)).toBe(
      'only http and https are allowed',
    );
    expect(checkWebhookTarget('http://u:p@127.0.0.1/hooks', local)).toBe(
      'credentials in the URL are not allowed',
    );
  });
});

const resolvesTo =
  (...addresses: string[]): Resolver =>
  async () =>
    addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

describe('checkWebhookTargetResolved (subscription create)', () => {
  it('allows a host name whose addresses are all public', async () => {
    const resolver = resolvesTo('93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946');
    await expect(
      checkWebhookTargetResolved('https://crm.example.com/hooks', { ...production, resolver }),
    ).resolves.toBeUndefined();
  });

  it.each([
    ['a private address', ['10.0.0.5'], 'private'],
    ['the metadata address', ['169.254.169.254'], 'linkLocal'],
    ['an IPv4-mapped loopback address', ['::ffff:127.0.0.1'], 'loopback'],
    ['CGNAT', ['100.64.0.1'], 'carrierGradeNat'],
    ['IPv6 unique-local', ['fd00::1'], 'uniqueLocal'],
    ['one private address among public ones', ['93.184.216.34', '10.0.0.5'], 'private'],
  ])('refuses a host name that resolves to %s', async (_label, addresses, range) => {
    await expect(
      checkWebhookTargetResolved('https://crm.example.com/hooks', {
        ...production,
        resolver: resolvesTo(...addresses),
      }),
    ).resolves.toBe(`the host name resolves to an address in the ${range} range`);
  });

  it('applies the URL policy first, without resolving', async () => {
    const resolver: Resolver = async () => {
      throw new Error('must not be called');
    };
    await expect(
      checkWebhookTargetResolved('http://crm.example.com/hooks', { ...production, resolver }),
    ).resolves.toBe('only https URLs are allowed');
    await expect(
      checkWebhookTargetResolved('https://10.0.0.5/hooks', { ...production, resolver }),
    ).resolves.toBe('addresses in the private range are not allowed');
    await expect(
      checkWebhookTargetResolved('https://93.184.216.34/hooks', { ...production, resolver }),
    ).resolves.toBeUndefined();
  });

  it('allows loopback names in local mode, but not private ones', async () => {
    await expect(
      checkWebhookTargetResolved('http://receiver.test:8080/hooks', {
        ...local,
        resolver: resolvesTo('127.0.0.1', '::1'),
      }),
    ).resolves.toBeUndefined();
    await expect(
      checkWebhookTargetResolved('http://nas.lan/hooks', {
        ...local,
        resolver: resolvesTo('192.168.1.20'),
      }),
    ).resolves.toBe('the host name resolves to an address in the private range');
  });

  it('refuses a host name that does not resolve, or not in time', async () => {
    const notFound: Resolver = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    };
    await expect(
      checkWebhookTargetResolved('https://nowhere.example/hooks', {
        ...production,
        resolver: notFound,
      }),
    ).resolves.toBe('the host name does not resolve');
    const never: Resolver = () => new Promise(() => {});
    await expect(
      checkWebhookTargetResolved('https://slow.example/hooks', {
        ...production,
        resolver: never,
        timeoutMs: 20,
      }),
    ).resolves.toBe('the host name could not be resolved; try again');
  });
});
