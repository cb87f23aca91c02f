import { describe, expect, it } from 'vitest';
import { auth, testApi } from '../support/api.ts';
import { annaId, bobId, carolId, getJson, type Page, seededApi } from '../support/funnel-seed.ts';
import { expectProblem } from '../support/problem.ts';

interface Change {
  contactId: string;
  email: string;
  name?: string;
  company?: string;
  sequence: number;
  from: string | null;
  to: string;
  direction: string;
  reasons: { code: string; message: string }[];
  missing: string[];
  at: string;
  causedBy: string;
}

/** Every page of the list, following the cursors. */
async function allPages(api: Awaited<ReturnType<typeof seededApi>>, query: string) {
  const items: Change[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await getJson<Page<Change>>(
      api,
      `/v1/stage-changes?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    items.push(...page.items);
    cursor = page.nextCursor;
    pages += 1;
    if (pages > 50) throw new Error('the cursor never ends');
  } while (cursor !== undefined);
  return { items, pages };
}

describe('GET /v1/stage-changes', () => {
  it('refuses a request without the API key', async () => {
    await expectProblem(await testApi().app.request('/v1/stage-changes'), 401);
  });

  it.each([
    ['stage=won', '#/stage'],
    ['limit=0', '#/limit'],
    ['limit=101', '#/limit'],
  ])('refuses a bad query (%s)', async (query, pointer) => {
    const problem = await expectProblem(
      await testApi().app.request(`/v1/stage-changes?${query}`, { headers: auth }),
      400,
    );
    expect(problem.errors?.map((error) => error.pointer)).toContain(pointer);
  });

  it.each([
    ['not base64 JSON', 'garbage!'],
    ['another shape', Buffer.from(JSON.stringify({ pk: 'x', sk: 'y' })).toString('base64url')],
    [
      'a key of another list',
      Buffer.from(JSON.stringify({ before: '2025-03-01T12:00:00.000Z#msg_x' })).toString(
        'base64url',
      ),
    ],
  ])('refuses a cursor it did not hand out (%s)', async (_, cursor) => {
    const problem = await expectProblem(
      await testApi().app.request(`/v1/stage-changes?cursor=${cursor}`, { headers: auth }),
      400,
    );
    expect(problem.type).toBe('/problems/invalid-cursor');
  });

  it('lists every contact’s changes, newest first, with who and why', async () => {
    const api = await seededApi();
    const page = await getJson<Page<Change>>(api, '/v1/stage-changes');
    const ats = page.items.map((change) => change.at);
    expect(ats).toEqual([...ats].sort().reverse());
    // Every change of every contact is there, as their stage histories have them.
    let expected = 0;
    for (const id of [annaId, bobId, carolId]) {
      const history = await getJson<Page>(api, `/v1/contacts/${id}/stage-history`);
      expected += history.items.length;
    }
    expect(page.items).toHaveLength(expected);
    expect(page.nextCursor).toBeUndefined();
    const anna = page.items.filter((change) => change.contactId === annaId);
    expect(anna.length).toBeGreaterThanOrEqual(2);
    expect(anna[0]).toMatchObject({
      email: 'anna.schmidt@example.com',
      name: 'Anna Schmidt',
      company: 'Schmidt Maschinenbau GmbH',
      causedBy: 'evt_anna_reply',
    });
    expect(anna.at(-1)).toMatchObject({ sequence: 1, from: null, direction: 'initial' });
    for (const change of page.items) {
      expect(change.reasons.length).toBeGreaterThan(0);
      expect(change.reasons[0]).toEqual({ code: expect.any(String), message: expect.any(String) });
      expect(Array.isArray(change.missing)).toBe(true);
      expect(change).not.toHaveProperty('gsi4pk');
      expect(change).not.toHaveProperty('flags');
    }
  });

  it('filters on the stage changed to', async () => {
    const api = await seededApi();
    const all = (await allPages(api, 'limit=100')).items;
    for (const stage of ['lead', 'prospect', 'qualified']) {
      const page = await getJson<Page<Change>>(api, `/v1/stage-changes?stage=${stage}`);
      expect(page.items).toEqual(all.filter((change) => change.to === stage));
    }
  });

  it('pages through the list with the cursor: every change once, in order', async () => {
    const api = await seededApi();
    const all = (await allPages(api, 'limit=100')).items;
    const paged = await allPages(api, 'limit=2');
    expect(paged.items).toEqual(all);
    expect(paged.pages).toBe(Math.ceil(all.length / 2));
    const lead = await allPages(api, 'stage=lead&limit=1');
    expect(lead.items).toEqual(all.filter((change) => change.to === 'lead'));
  });

  it('an erased contact’s changes are gone from the list', async () => {
    const api = await seededApi();
    const response = await api.app.request(`/v1/contacts/${annaId}`, {
      method: 'DELETE',
      headers: auth,
    });
    expect(response.status).toBe(204);
    const page = await getJson<Page<Change>>(api, '/v1/stage-changes?limit=100');
    expect(page.items.length).toBeGreaterThan(0);
    expect(page.items.some((change) => change.contactId === annaId)).toBe(false);
  });
});
