import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, defaultAppConfig } from '../../../lib/config/app-config.ts';
import { mainOptionsFromEnv } from '../../../lib/local/main-options.ts';
import { makeTempDir } from '../../support/temp-dir.ts';

let temp: { path: string; remove(): Promise<void> };
beforeEach(async () => {
  temp = await makeTempDir();
});
afterEach(async () => {
  await temp.remove();
});

const dataDir = () => join(temp.path, 'data');

async function configError(env: Record<string, string>): Promise<ConfigError> {
  const error = await mainOptionsFromEnv(env).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

describe('mainOptionsFromEnv', () => {
  it('defaults to 127.0.0.1:3000 and the built-in config', async () => {
    const options = await mainOptionsFromEnv({ LEADSTAGE_DATA_DIR: dataDir() });
    expect(options).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      dataDir: dataDir(),
      logLevel: 'info',
      visibilityTimeoutSeconds: 30,
      config: defaultAppConfig,
    });
  });

  it('generates an API key, keeps it in the data folder readable by the owner only, and reuses it', async () => {
    const first = await mainOptionsFromEnv({ LEADSTAGE_DATA_DIR: dataDir() });
    expect(first.apiKeySource).toBe('generated');
    expect(first.apiKey).toMatch(/^lsk_[A-Za-z0-9_-]{43}$/);
    const file = join(dataDir(), 'api-key');
    expect((await readFile(file, 'utf8')).trim()).toBe(first.apiKey);
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    const second = await mainOptionsFromEnv({ LEADSTAGE_DATA_DIR: dataDir() });
    expect(second.apiKeySource).toBe('file');
    expect(second.apiKey).toBe(first.apiKey);
  });

  it('generates a different key in another data folder', async () => {
    const a = await mainOptionsFromEnv({ LEADSTAGE_DATA_DIR: join(temp.path, 'a') });
    const b = await mainOptionsFromEnv({ LEADSTAGE_DATA_DIR: join(temp.path, 'b') });
    expect(a.apiKey).not.toBe(b.apiKey);
  });

  it('prefers LEADSTAGE_API_KEY over a kept key, and writes no file for it', async () => {
    const generated = await mainOptionsFromEnv({ LEADSTAGE_DATA_DIR: join(temp.path, 'kept') });
    const fromEnv = await mainOptionsFromEnv({
      LEADSTAGE_DATA_DIR: join(temp.path, 'kept'),
      LEADSTAGE_API_KEY: 'my-own-key-0123456789',
    });
    expect(fromEnv).toMatchObject({ apiKey: 'my-own-key-0123456789', apiKeySource: 'env' });
    expect(fromEnv.apiKey).not.toBe(generated.apiKey);

    await mainOptionsFromEnv({
      LEADSTAGE_DATA_DIR: dataDir(),
      LEADSTAGE_API_KEY: 'my-own-key-0123456789',
    });
    await expect(stat(join(dataDir(), 'api-key'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a LEADSTAGE_API_KEY shorter than 16 characters, naming it', async () => {
    const error = await configError({ LEADSTAGE_DATA_DIR: dataDir(), LEADSTAGE_API_KEY: 'short' });
    expect(error.message).toContain('LEADSTAGE_API_KEY');
  });

  it('reads PORT, HOST and LOG_LEVEL', async () => {
    const options = await mainOptionsFromEnv({
      LEADSTAGE_DATA_DIR: dataDir(),
      PORT: '8080',
      HOST: '0.0.0.0',
      LOG_LEVEL: 'warn',
    });
    expect(options).toMatchObject({ port: 8080, host: '0.0.0.0', logLevel: 'warn' });
  });

  it.each(['abc', '70000', '-1', '80.5'])('refuses PORT=%s, naming PORT', async (port) => {
    const error = await configError({ LEADSTAGE_DATA_DIR: dataDir(), PORT: port });
    expect(error.message).toContain('PORT');
  });

  it('parses the LEADSTAGE_CONFIG file', async () => {
    const file = join(temp.path, 'leadstage.json');
    await writeFile(file, JSON.stringify({ forms: [{ id: 'contact' }, { id: 'demo' }] }));
    const options = await mainOptionsFromEnv({
      LEADSTAGE_DATA_DIR: dataDir(),
      LEADSTAGE_CONFIG: file,
    });
    expect(options.config.forms.map((form) => form.id)).toEqual(['contact', 'demo']);
    expect(options.configSource).toBe(file);
  });

  it('refuses a bad LEADSTAGE_CONFIG file with a ConfigError naming the file and the field', async () => {
    const file = join(temp.path, 'leadstage.json');
    await writeFile(file, JSON.stringify({ forms: [{ id: 'contact' }, { id: 'Not Valid' }] }));
    const error = await configError({ LEADSTAGE_DATA_DIR: dataDir(), LEADSTAGE_CONFIG: file });
    expect(error.message).toContain(file);
    expect(error.message).toContain('forms.1.id');
  });

  it('refuses a LEADSTAGE_CONFIG file that does not exist, naming it', async () => {
    const file = join(temp.path, 'missing.json');
    const error = await configError({ LEADSTAGE_DATA_DIR: dataDir(), LEADSTAGE_CONFIG: file });
    expect(error.message).toContain('LEADSTAGE_CONFIG');
    expect(error.message).toContain(file);
  });
});
