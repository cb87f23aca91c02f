import { describe, expect, it } from 'vitest';
import {
  addressRefusal,
  isForbiddenAddress,
  type Resolver,
  resolveAndCheck,
  TargetRefusedError,
} from '../../../lib/delivery/target-guard.ts';

const resolvesTo =
  (...addresses: string[]): Resolver =>
  async () =>
    addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

describe('isForbiddenAddress', () => {
  it.each([
    ['IPv4 loopback', '127.0.0.1'],
    ['IPv4 loopback, top of 127/8', '127.255.255.254'],
    ['10.0.0.0/8', '10.0.0.5'],
    ['10.0.0.0/8, high end', '10.255.255.255'],
    ['172.16.0.0/12, low end', '172.16.0.1'],
    ['172.16.0.0/12, high end', '172.31.255.254'],
    ['192.168.0.0/16', '192.168.1.10'],
    ['link-local 169.254.0.0/16', '169.254.1.1'],
    ['the cloud metadata address', '169.254.169.254'],
    ['CGNAT 100.64.0.0/10, low end', '100.64.0.1'],
    ['CGNAT, high end', '100.127.255.254'],
    ['0.0.0.0', '0.0.0.0'],
    ['0.0.0.0/8', '0.1.2.3'],
    ['multicast', '224.0.0.1'],
    ['multicast, high end', '239.255.255.250'],
    ['broadcast', '255.255.255.255'],
    ['reserved 240.0.0.0/4', '240.0.0.1'],
    ['IETF protocol assignments 192.0.0.0/24', '192.0.0.170'],
    ['documentation TEST-NET-1', '192.0.2.1'],
    ['documentation TEST-NET-3', '203.0.113.7'],
    ['benchmarking 198.18.0.0/15', '198.18.0.1'],
    ['IPv6 loopback', '::1'],
    ['IPv6 unspecified', '::'],
    ['IPv6 unique-local fc00::/7 (fc)', 'fc00::1'],
    ['IPv6 unique-local fc00::/7 (fd)', 'fd12:3456:789a::1'],
    ['IPv6 link-local', 'fe80::1'],
    ['IPv6 link-local with a zone', 'fe80::1%eth0'],
    ['IPv6 site-local (deprecated)', 'fec0::1'],
    ['IPv6 multicast', 'ff02::1'],
    ['IPv4-mapped loopback', '::ffff:127.0.0.1'],
    ['IPv4-mapped 10.x', '::ffff:10.0.0.1'],
    ['IPv4-mapped 192.168.x, hex form', '::ffff:c0a8:1'],
    ['IPv4-mapped metadata address', '::ffff:169.254.169.254'],
    ['IPv4-mapped CGNAT', '::ffff:100.64.0.1'],
    ['IPv4-compatible 10.0.0.1', '::a00:1'],
    ['IPv4-compatible loopback', '::127.0.0.1'],
    ['IPv4-compatible public address', '::8.8.8.8'],
    ['IPv4-translated (RFC 6145)', '::ffff:0:a00:1'],
    ['NAT64 of a private address', '64:ff9b::a00:1'],
    ['NAT64 local use', '64:ff9b:1::1'],
    ['6to4 embedding 10.0.0.1', '2002:a00:1::1'],
    ['Teredo', '2001:0:4136:e378:8000:63bf:3fff:fdd2'],
    ['IPv6 documentation', '2001:db8::1'],
    ['IPv6 discard', '100::1'],
    ['IPv6 outside 2000::/3', '4000::1'],
    ['not an address', 'crm.example.com'],
    ['an empty string', ''],
  ])('refuses %s (%s)', (_label, ip) => {
    expect(isForbiddenAddress(ip)).toBe(true);
    expect(addressRefusal(ip, { allowLocal: false })).toEqual(expect.any(String));
  });

  it.each([
    ['a public IPv4 address', '93.184.216.34'],
    ['1.1.1.1', '1.1.1.1'],
    ['just outside 172.16.0.0/12', '172.32.0.1'],
    ['just below 172.16.0.0/12', '172.15.255.255'],
    ['just outside CGNAT', '100.128.0.1'],
    ['just below CGNAT', '100.63.255.255'],
    ['just outside 192.168.0.0/16', '192.169.0.1'],
    ['a public IPv6 address', '2606:2800:220:1:248:1893:25c8:1946'],
    ['another public IPv6 address', '2a00:1450:4001:80b::200e'],
    ['an IPv4-mapped public address', '::ffff:93.184.216.34'],
  ])('allows %s (%s)', (_label, ip) => {
    expect(isForbiddenAddress(ip)).toBe(false);
    expect(addressRefusal(ip, { allowLocal: false })).toBeUndefined();
  });

  it('names the range in the reason', () => {
    expect(addressRefusal('10.0.0.5', { allowLocal: false })).toBe(
      'addresses in the private range are not allowed',
    );
    expect(addressRefusal('169.254.169.254', { allowLocal: false })).toBe(
      'addresses in the linkLocal range are not allowed',
    );
    expect(addressRefusal('100.64.0.1', { allowLocal: false })).toBe(
      'addresses in the carrierGradeNat range are not allowed',
    );
    expect(addressRefusal('fd00::1', { allowLocal: false })).toBe(
      'addresses in the uniqueLocal range are not allowed',
    );
  });

  describe('in local mode', () => {
    it.each(['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'])('allows loopback %s', (ip) => {
      expect(isForbiddenAddress(ip, { allowLocal: true })).toBe(false);
    });

    it.each([
      '10.0.0.5',
      '192.168.1.1',
      '172.16.0.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::',
      'fd00::1',
      'fe80::1',
      '::ffff:10.0.0.1',
      '::a00:1',
      '::127.0.0.1',
    ])('still refuses %s', (ip) => {
      expect(isForbiddenAddress(ip, { allowLocal: true })).toBe(true);
    });
  });
});

describe('resolveAndCheck', () => {
  const production = { allowLocal: false };

  it('returns every address of a public name', async () => {
    await expect(
      resolveAndCheck('crm.example.com', {
        ...production,
        resolver: resolvesTo('93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'),
      }),
    ).resolves.toEqual([
      { address: '93.184.216.34', family: 4 },
      { address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 },
    ]);
  });

  it.each([
    ['a private address', ['10.0.0.5'], 'private'],
    ['the metadata address', ['169.254.169.254'], 'linkLocal'],
    ['an IPv4-mapped loopback address', ['::ffff:127.0.0.1'], 'loopback'],
    ['one private address among public ones', ['93.184.216.34', '192.168.0.10'], 'private'],
    ['a unique-local address after a public one', ['2606:4700::1', 'fd00::5'], 'uniqueLocal'],
  ])('refuses a name that resolves to %s', async (_label, addresses, range) => {
    const attempt = resolveAndCheck('crm.example.com', {
      ...production,
      resolver: resolvesTo(...addresses),
    });
    await expect(attempt).rejects.toBeInstanceOf(TargetRefusedError);
    await expect(attempt).rejects.toMatchObject({
      reason: `the host name resolves to an address in the ${range} range`,
      message: `target refused: the host name resolves to an address in the ${range} range`,
    });
  });

  it('keeps the host name and the address out of the reason', async () => {
    const error = await resolveAndCheck('secret-crm.example.com', {
      ...production,
      resolver: resolvesTo('10.9.8.7'),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TargetRefusedError);
    expect(String((error as Error).message)).not.toMatch(/secret-crm|10\.9\.8\.7/);
  });

  it('checks an IP literal without calling the resolver', async () => {
    const resolver: Resolver = async () => {
      throw new Error('must not be called');
    };
    await expect(resolveAndCheck('93.184.216.34', { ...production, resolver })).resolves.toEqual([
      { address: '93.184.216.34', family: 4 },
    ]);
    await expect(resolveAndCheck('[::1]', { ...production, resolver })).rejects.toMatchObject({
      reason: 'addresses in the loopback range are not allowed',
    });
  });

  it('allows a name that resolves to loopback in local mode only', async () => {
    const resolver = resolvesTo('127.0.0.1', '::1');
    await expect(
      resolveAndCheck('localhost', { allowLocal: true, resolver }),
    ).resolves.toHaveLength(2);
    await expect(
      resolveAndCheck('localhost', { allowLocal: false, resolver }),
    ).rejects.toBeInstanceOf(TargetRefusedError);
    await expect(
      resolveAndCheck('nas.lan', { allowLocal: true, resolver: resolvesTo('192.168.1.20') }),
    ).rejects.toBeInstanceOf(TargetRefusedError);
  });

  it('refuses what is not an IP address from the resolver', async () => {
    await expect(
      resolveAndCheck('crm.example.com', { ...production, resolver: resolvesTo('not-an-ip') }),
    ).rejects.toBeInstanceOf(TargetRefusedError);
  });

  it('passes resolver failures on as they are, not as refusals', async () => {
    const failure = Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    const attempt = resolveAndCheck('nowhere.example', {
      ...production,
      resolver: async () => {
        throw failure;
      },
    });
    await expect(attempt).rejects.toBe(failure);
    await expect(
      resolveAndCheck('empty.example', { ...production, resolver: resolvesTo() }),
    ).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('uses the system resolver by default (localhost, from the hosts file)', async () => {
    const addresses = await resolveAndCheck('localhost', { allowLocal: true });
    expect(addresses.length).toBeGreaterThan(0);
    await expect(resolveAndCheck('localhost', production)).rejects.toBeInstanceOf(
      TargetRefusedError,
    );
  });
});
