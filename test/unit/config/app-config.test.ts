import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  defaultAppConfig,
  parseAppConfig,
  parseAppConfigJson,
} from '../../../lib/config/app-config.ts';

function errorOf(action: () => unknown): ConfigError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('app config', () => {
  it('has the form "contact" by default', () => {
    expect(defaultAppConfig.forms.map((form) => form.id)).toEqual(['contact']);
  });

  it('parses a valid document, and an empty one to the default', () => {
    expect(
      parseAppConfigJson('{"forms":[{"id":"contact"},{"id":"demo-request","name":"Demo"}]}', 'x')
        .forms,
    ).toMatchObject([{ id: 'contact' }, { id: 'demo-request', name: 'Demo' }]);
    expect(parseAppConfigJson('{}', 'x')).toEqual(defaultAppConfig);
  });

  it('refuses text that is not JSON, naming the origin', () => {
    const error = errorOf(() => parseAppConfigJson('{"forms": [', '/etc/leadstage.json'));
    expect(error.message).toContain('/etc/leadstage.json');
    expect(error.message).toContain('not valid JSON');
  });

  it('refuses an unknown top-level key, naming it', () => {
    const error = errorOf(() => parseAppConfigJson('{"forms":[{"id":"contact"}],"form":[]}', 'x'));
    expect(error.message).toContain('"form"');
  });

  it.each([
    ['upper-case letters', 'Contact'],
    ['a space', 'contact form'],
    ['an empty id', ''],
    ['a leading dash', '-contact'],
    ['more than 64 characters', `a${'b'.repeat(64)}`],
  ])('refuses a form id with %s, naming forms.N.id', (_label, id) => {
    const error = errorOf(() =>
      parseAppConfigJson(JSON.stringify({ forms: [{ id: 'contact' }, { id }] }), 'x'),
    );
    expect(error.message).toContain('forms.1.id');
  });

  it('accepts a form id of exactly 64 characters', () => {
    const id = `a${'b'.repeat(63)}`;
    expect(parseAppConfig({ forms: [{ id }] }, 'x').forms[0]?.id).toBe(id);
  });

  it('refuses duplicate form ids, naming the second one', () => {
    const error = errorOf(() =>
      parseAppConfigJson('{"forms":[{"id":"a"},{"id":"b"},{"id":"a"}]}', 'x'),
    );
    expect(error.message).toContain('forms.2.id');
    expect(error.message).toContain('duplicate form id "a"');
    expect(error.message).not.toContain('forms.0.id');
  });

  it('refuses an empty forms list', () => {
    const error = errorOf(() => parseAppConfig({ forms: [] }, 'x'));
    expect(error.message).toContain('forms');
  });

  it('refuses a document that is not an object, naming the root', () => {
    const error = errorOf(() => parseAppConfigJson('[]', 'x'));
    expect(error.message).toContain('(root)');
  });
});
