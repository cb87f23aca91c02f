import { describe, expect, it } from 'vitest';
import { checkWebhookTarget } from '../../../lib/delivery/target-policy.ts';

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

  it('still refuses other schemes and credentials', () => {
    expect(checkWebhookTarget('ftp://127.0.0.1/hooks', local)).toBe(
      'only http and https are allowed',
    );
    expect(checkWebhookTarget('http://u:p@127.0.0.1/hooks', local)).toBe(
      'credentials in the URL are not allowed',
    );
  });
});
