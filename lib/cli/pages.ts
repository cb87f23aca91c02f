import type { CommandContext, OptionSpec } from './command.ts';
import { intValue, stringValue } from './command.ts';
import type { RequestOptions } from './http-client.ts';

/** One page of a list endpoint. */
export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

/** The options every paged list takes. */
export const PAGE_OPTIONS: Record<string, OptionSpec> = {
  limit: { type: 'string', placeholder: 'N', description: 'Items per page, 1 to 100 (default 25)' },
  cursor: {
    type: 'string',
    placeholder: 'CURSOR',
    description: 'Continue after a previous page (its nextCursor)',
  },
  all: { type: 'boolean', description: 'Follow the pages to the end of the list' },
};

/**
 * Reads a list endpoint: one page, or with `--all` every page (then without a next cursor).
 * For people, a page that has more says how to get it.
 */
export async function readPages<T>(
  context: CommandContext,
  path: string,
  query: RequestOptions['query'] = {},
): Promise<Page<T>> {
  const limit = intValue(context.values, 'limit', { min: 1, max: 100 });
  let cursor = stringValue(context.values, 'cursor');
  const all = context.values.all === true;
  const items: T[] = [];
  for (;;) {
    const page = await context.api().request<Page<T>>('GET', path, {
      query: { ...query, limit: limit ?? (all ? 100 : undefined), cursor },
    });
    items.push(...page.items);
    if (!all || page.nextCursor === undefined) {
      return { items, ...(page.nextCursor !== undefined ? { nextCursor: page.nextCursor } : {}) };
    }
    cursor = page.nextCursor;
  }
}

/** Tells a person there is more (on stderr, so stdout stays the table). */
export function noteMore(context: CommandContext, page: Page<unknown>): void {
  if (page.nextCursor !== undefined && !context.json) {
    context.out.stderr(`More: add --cursor ${page.nextCursor} (or --all).\n`);
  }
}
