import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/config/app-config.ts';
import { apiKeysFromSecret, settingsFromLambdaEnv } from '../../../lib/config/settings.ts';
import { hashApiKey } from '../../../lib/ingest/api-key-auth.ts';

const baseEnv = {
  TABLE_NAME: 'leadstage',
  INGEST_QUEUE_URL: 'https://sqs.eu-central-1.amazonaws.com/123456789012/ingest',
  DELIVERY_QUEUE_URL: 'https://sqs.eu-central-1.amazonaws.com/123456789012/delivery',
};

const secretsOf = (values: Record<string, string>) => {
  const read: string[] = [];
  const reader = async (id: string) => {
    read.push(id);
    const value = values[id];
    if (value === undefined) throw new Error(`no secret ${id}`);
    return value;
  };
  return { reader, read };
};

describe('settingsFromLambdaEnv', () => {
  it('reads nothing from Secrets Manager when no secret is named, and accepts no API key', async () => {
    const { reader, read } = secretsOf({});
    const settings = await settingsFromLambdaEnv(baseEnv, reader);
    expect(read).toEqual([]);
    expect(settings.apiKeyHashes).toEqual([]);
    expect(settings.config.forms.map((form) => form.id)).toEqual(['contact']);
    expect(settings.allowLocalWebhookTargets).toBe(false);
  });

  it('hashes the API keys from their secret and keeps only the hashes', async () => {
    const key = 'lsk_0123456789abcdefghij';
    const { reader } = secretsOf({
      keys: JSON.stringify({ keys: [key, `${key}-next`] }),
      one: key,
    });
    const many = await settingsFromLambdaEnv(
      { ...baseEnv, LEADSTAGE_API_KEYS_SECRET_ARN: 'keys' },
      reader,
    );
    expect(many.apiKeyHashes).toEqual([hashApiKey(key), hashApiKey(`${key}-next`)]);
    expect(JSON.stringify(many)).not.toContain(key);
    const one = await settingsFromLambdaEnv(
      { ...baseEnv, LEADSTAGE_API_KEYS_SECRET_ARN: 'one' },
      reader,
    );
    expect(one.apiKeyHashes).toEqual([hashApiKey(key)]);
  });

  it('takes the providers section of the config from its secret, validated like the file', async () => {
    const providers = {
      postmark: { basicAuth: { username: 'postmark', password: 'a-long-password' } },
    };
    const { reader } = secretsOf({ providers: JSON.stringify(providers), bad: '{"postmark": {}}' });
    const settings = await settingsFromLambdaEnv(
      {
        ...baseEnv,
        LEADSTAGE_CONFIG_JSON: '{"forms":[{"id":"demo"}]}',
        LEADSTAGE_PROVIDERS_SECRET_ARN: 'providers',
      },
      reader,
    );
    expect(settings.config.providers.postmark?.basicAuth.username).toBe('postmark');
    expect(settings.config.forms.map((form) => form.id)).toEqual(['demo']);
    await expect(
      settingsFromLambdaEnv({ ...baseEnv, LEADSTAGE_PROVIDERS_SECRET_ARN: 'bad' }, reader),
    ).rejects.toThrow(/providers\.postmark\.basicAuth/);
  });

  it('names the missing variable', async () => {
    const { reader } = secretsOf({});
    await expect(settingsFromLambdaEnv({ TABLE_NAME: 't' }, reader)).rejects.toThrow(
      /INGEST_QUEUE_URL/,
    );
  });
});

describe('apiKeysFromSecret', () => {
  it.each([
    ['a short key', 'short'],
    ['bad JSON', '{"keys": ['],
    ['an empty key list', '{"keys": []}'],
  ])('refuses %s with a ConfigError', (_name, text) => {
    expect(() => apiKeysFromSecret(text)).toThrow(ConfigError);
  });
});
