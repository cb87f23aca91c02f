import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_URL, resolveConnection } from '../../../lib/cli/connection.ts';
import { makeTempDir } from '../../support/temp-dir.ts';

describe('CLI connection settings', () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  beforeAll(async () => {
    dir = await makeTempDir();
    await mkdir(join(dir.path, '.leadstage'));
    await writeFile(join(dir.path, '.leadstage', 'api-key'), 'lsk_kept-key\n');
  });
  afterAll(() => dir.remove());

  it('prefers flags, then the environment', () => {
    const env = { LEADSTAGE_URL: 'http://env.example:1', LEADSTAGE_API_KEY: 'env-key' };
    expect(resolveConnection({ url: 'http://flag:2', apiKey: 'flag-key' }, env, dir.path)).toEqual({
      url: 'http://flag:2',
      apiKey: 'flag-key',
      apiKeySource: 'flag',
    });
    expect(resolveConnection({}, env, dir.path)).toEqual({
      url: 'http://env.example:1',
      apiKey: 'env-key',
      apiKeySource: 'env',
    });
  });

  it("falls back to the local runtime's kept key, for this machine only", () => {
    expect(resolveConnection({}, {}, dir.path)).toEqual({
      url: DEFAULT_URL,
      apiKey: 'lsk_kept-key',
      apiKeySource: 'file',
    });
    expect(() => resolveConnection({ url: 'https://leadstage.example.com' }, {}, dir.path)).toThrow(
      /No API key: pass --api-key or set LEADSTAGE_API_KEY\.$/,
    );
  });

  it('reads the kept key from LEADSTAGE_DATA_DIR and says where it looked', () => {
    expect(() => resolveConnection({}, { LEADSTAGE_DATA_DIR: 'elsewhere' }, dir.path)).toThrow(
      `${join(dir.path, 'elsewhere', 'api-key')}, which does not exist`,
    );
  });

  it('refuses what is not an http(s) URL as a usage error', () => {
    for (const url of ['localhost:3000', 'ftp://x.example']) {
      expect(() => resolveConnection({ url, apiKey: 'k' }, {}, dir.path)).toThrow(
        expect.objectContaining({ exitCode: 2 }),
      );
    }
  });
});
