import { z } from 'zod';

/** A page of results and the opaque cursor of the next page, if any. */
export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface PageRequest {
  limit: number;
  cursor?: string;
}

/** The cursor is not one this API handed out (tampered, truncated, or from another query). */
export class InvalidCursorError extends Error {
  override readonly name = 'InvalidCursorError';
}

const keySchema = z.record(z.string(), z.string());

/** DynamoDB's LastEvaluatedKey as an opaque, URL-safe cursor. */
export function encodeCursor(key: Record<string, unknown> | undefined): string | undefined {
  return key === undefined ? undefined : Buffer.from(JSON.stringify(key)).toString('base64url');
}

/**
 * Decodes a cursor; only string-valued keys with the expected attribute names are accepted,
 * and `belongs` must agree that the key is of this list (a cursor of another contact's
 * timeline would otherwise reach DynamoDB and fail there).
 */
export function decodeCursor(
  cursor: string | undefined,
  attributes: readonly string[],
  belongs: (key: Record<string, string>) => boolean = () => true,
): Record<string, string> | undefined {
  if (cursor === undefined) return undefined;
  try {
    const key = keySchema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    const names = Object.keys(key).sort();
    if (names.length !== attributes.length || !attributes.every((name) => names.includes(name)))
      throw new Error('keys');
    if (!belongs(key)) throw new Error('another list');
    return key;
  } catch (error) {
    throw new InvalidCursorError('The cursor is not valid for this list.', { cause: error });
  }
}

const beforeSchema = z.object({ before: z.string().min(1).max(512) }).strict();

/**
 * A cursor for lists merged or sorted outside DynamoDB: the sort key of the last item
 * handed out; the next page starts below it.
 */
export function encodeBeforeCursor(before: string): string {
  return Buffer.from(JSON.stringify({ before })).toString('base64url');
}

/** Decodes encodeBeforeCursor's cursor; `valid` checks the sort key is of this list. */
export function decodeBeforeCursor(
  cursor: string | undefined,
  valid: (before: string) => boolean,
): string | undefined {
  if (cursor === undefined) return undefined;
  try {
    const { before } = beforeSchema.parse(
      JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')),
    );
    if (!valid(before)) throw new Error('another list');
    return before;
  } catch (error) {
    throw new InvalidCursorError('The cursor is not valid for this list.', { cause: error });
  }
}
