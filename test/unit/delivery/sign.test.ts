import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { generateSigningSecret, signDelivery } from '../../../lib/delivery/sign.ts';

const body = JSON.stringify({ type: 'contact.stage_changed', data: { sequence: 1 } });

function headersFor(secrets: string[], id = 'msg_abc', timestamp = new Date()) {
  return signDelivery({ id, timestamp, body }, secrets);
}

describe('signDelivery', () => {
  it('produces headers the standardwebhooks library verifies', () => {
    const secret = generateSigningSecret();
    const headers = headersFor([secret]);
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
  });

  it('sets webhook-id to the delivery id and webhook-timestamp to whole seconds', () => {
    const headers = headersFor([generateSigningSecret()], 'msg_xyz', new Date(1_700_000_000_987));
    expect(headers['webhook-id']).toBe('msg_xyz');
    expect(headers['webhook-timestamp']).toBe('1700000000');
  });

  it('does not verify with a different secret', () => {
    const headers = headersFor([generateSigningSecret()]);
    expect(() => new Webhook(generateSigningSecret()).verify(body, { ...headers })).toThrow(
      /No matching signature/,
    );
  });

  it('does not verify when the body was changed', () => {
    const secret = generateSigningSecret();
    const headers = headersFor([secret]);
    expect(() => new Webhook(secret).verify(`${body} `, { ...headers })).toThrow(
      /No matching signature/,
    );
  });

  it('signs with every secret during a rotation: space-separated v1 signatures, each verifiable', () => {
    const oldSecret = generateSigningSecret();
    const newSecret = generateSigningSecret();
    const headers = headersFor([oldSecret, newSecret]);
    const signatures = headers['webhook-signature'].split(' ');
    expect(signatures).toHaveLength(2);
    for (const signature of signatures) expect(signature).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(signatures[0]).not.toBe(signatures[1]);
    expect(new Webhook(oldSecret).verify(body, { ...headers })).toEqual(JSON.parse(body));
    expect(new Webhook(newSecret).verify(body, { ...headers })).toEqual(JSON.parse(body));
  });

  it('matches the Standard Webhooks published test vector', () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const vector = {
      id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      timestamp: new Date(1_614_265_330 * 1000),
      body: '{"test": 2432232314}',
    };
    const expected = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';
    // The vector itself, computed by the reference library, so a typo here cannot pass silently.
    expect(new Webhook(secret).sign(vector.id, vector.timestamp, vector.body)).toBe(expected);
    expect(signDelivery(vector, [secret])).toEqual({
      'webhook-id': vector.id,
      'webhook-timestamp': '1614265330',
      'webhook-signature': expected,
    });
  });
});

describe('generateSigningSecret', () => {
  it('starts with whsec_ and decodes to 32 bytes', () => {
    const secret = generateSigningSecret();
    expect(secret.startsWith('whsec_')).toBe(true);
    const encoded = secret.slice('whsec_'.length);
    expect(encoded).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    expect(Buffer.from(encoded, 'base64')).toHaveLength(32);
  });

  it('gives a different secret each time', () => {
    expect(generateSigningSecret()).not.toBe(generateSigningSecret());
  });
});
