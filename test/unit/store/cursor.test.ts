import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, InvalidCursorError } from '../../../lib/store/cursor.ts';

describe('cursors', () => {
  const key = { pk: 'CONTACT#ct_1', sk: 'TIMELINE#2025-03-01T12:00:00.000Z#evt_1' };
  const ofContact1 = (k: Record<string, string>) => k.pk === 'CONTACT#ct_1';

  it('round-trip a LastEvaluatedKey', () => {
    expect(decodeCursor(encodeCursor(key), ['pk', 'sk'], ofContact1)).toEqual(key);
    expect(decodeCursor(undefined, ['pk', 'sk'])).toBeUndefined();
  });

  it.each([
    ['garbage', 'not base64 JSON at all'],
    ['other attributes', encodeCursor({ gsi1pk: 'STAGE#lead', gsi1sk: 'x' })],
    ['non-string values', encodeCursor({ pk: 1, sk: 'x' })],
    ["another contact's list", encodeCursor({ pk: 'CONTACT#ct_2', sk: 'TIMELINE#x' })],
  ])('refuse %s', (_name, cursor) => {
    expect(() => decodeCursor(cursor, ['pk', 'sk'], ofContact1)).toThrow(InvalidCursorError);
  });
});
