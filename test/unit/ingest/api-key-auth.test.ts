import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { apiKeyAuth, hashApiKey } from '../../../lib/ingest/api-key-auth.ts';

function protectedApp(keys: string[]) {
  const app = new Hono();
  app.use('*', apiKeyAuth(keys.map(hashApiKey)));
  app.get('/', (c) => c.text('in'));
  return app;
}

describe('hashApiKey', () => {
  it('is the SHA-256 hex digest of the key', () => {
    expect(hashApiKey('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(hashApiKey('lsk_x')).toBe(createHash('sha256').update('lsk_x').digest('hex'));
  });
});

describe('apiKeyAuth', () => {
  it('lets a request with an accepted Bearer key through', async () => {
    const response = await protectedApp(['key-one-0123456789']).request('/', {
      headers: { authorization: 'Bearer key-one-0123456789' },
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('in');
  });

  it('accepts any of several keys (rotation) and a lower-case scheme', async () => {
    const app = protectedApp(['key-one-0123456789', 'key-two-0123456789']);
    for (const authorization of ['Bearer key-one-0123456789', 'bearer key-two-0123456789']) {
      expect((await app.request('/', { headers: { authorization } })).status).toBe(200);
    }
  });

  it.each([
    ['no header', undefined],
    ['an unknown key', 'Bearer key-three-0123456789'],
    ['a prefix of the key', 'Bearer key-one'],
    ['the digest instead of the key', `Bearer ${hashApiKey('key-one-0123456789')}`],
    ['an empty bearer token', 'Bearer '],
    ['two tokens', 'Bearer key-one-0123456789 extra'],
  ])('refuses %s with 401 problem+json and www-authenticate', async (_label, authorization) => {
    const response = await protectedApp(['key-one-0123456789']).request('/', {
      headers: authorization === undefined ? {} : { authorization },
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="leadstage"');
    expect(await response.json()).toMatchObject({ status: 401, type: '/problems/unauthorized' });
  });

  it('refuses every key when none is configured', async () => {
    const response = await protectedApp([]).request('/', {
      headers: { authorization: 'Bearer anything-0123456789' },
    });
    expect(response.status).toBe(401);
  });
});
