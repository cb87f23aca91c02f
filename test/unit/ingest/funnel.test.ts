import { describe, expect, it } from 'vitest';
import { STAGES } from '../../../lib/domain/stage.ts';
import { conversionRate } from '../../../lib/ingest/routes/funnel.ts';
import { auth, testApi } from '../support/api.ts';
import {
  type Api,
  annaId,
  bobId,
  carolId,
  getJson,
  type Page,
  seed,
  seededApi,
  tickingClock,
} from '../support/funnel-seed.ts';
import { expectProblem } from '../support/problem.ts';

interface Funnel {
  stages: Record<string, number>;
  total: number;
  notContactable: number;
  stale: number;
  period: { from: string; to: string };
  entered: Record<string, number>;
  reached: Record<string, number>;
  conversions: { from: string; to: string; rate: number | null }[];
}

/** What the contacts say, read through the other routes: contacts per stage and their changes. */
async function groundTruth(api: Api, contactIds: string[]) {
  const stages: Record<string, number> = {};
  for (const stage of STAGES) {
    const page = await getJson<Page>(api, `/v1/contacts?stage=${stage}&limit=100`);
    stages[stage] = page.items.length;
  }
  const entered: Record<string, number> = Object.fromEntries(STAGES.map((s) => [s, 0]));
  // The forward path, written out here rather than imported, so the test checks the route's.
  const path = ['lead', 'qualified', 'prospect', 'sales_ready'];
  const reached: Record<string, number> = Object.fromEntries(path.map((s) => [s, 0]));
  let notContactable = 0;
  let stale = 0;
  for (const id of contactIds) {
    const contact = await api.contacts.get(id);
    if (contact === undefined) continue;
    if (!contact.flags.contactable) notContactable += 1;
    if (contact.flags.stale) stale += 1;
    const history = await getJson<Page<{ from: string | null; to: string }>>(
      api,
      `/v1/contacts/${id}/stage-history`,
    );
    for (const change of history.items) {
      entered[change.to] = (entered[change.to] ?? 0) + 1;
      const fromRank = change.from === null ? -1 : path.indexOf(change.from);
      const toRank = path.indexOf(change.to);
      for (let rank = fromRank + 1; rank <= toRank; rank++) {
        const stage = path[rank] as string;
        reached[stage] = (reached[stage] ?? 0) + 1;
      }
    }
  }
  return { stages, entered, reached, notContactable, stale };
}

describe('GET /v1/funnel', () => {
  it('refuses a request without the API key', async () => {
    const api = testApi();
    await expectProblem(await api.app.request('/v1/funnel'), 401);
  });

  it.each([
    ['from=2025-13-01', '#/from'],
    ['to=2025-02-30', '#/to'],
    ['from=yesterday', '#/from'],
    ['from=2025-3-1', '#/from'],
    ['to=0000-01-01', '#/to'],
    ['from=1969-12-31', '#/from'],
    ['to=10000-01-01', '#/to'],
  ])('refuses a day that is not YYYY-MM-DD (%s)', async (query, pointer) => {
    const api = testApi();
    const problem = await expectProblem(
      await api.app.request(`/v1/funnel?${query}`, { headers: auth }),
      400,
    );
    expect(problem.errors?.map((error) => error.pointer)).toContain(pointer);
  });

  it('refuses `from` after `to`, and a period over 366 days', async () => {
    const api = testApi();
    const reversed = await expectProblem(
      await api.app.request('/v1/funnel?from=2025-03-02&to=2025-03-01', { headers: auth }),
      400,
    );
    expect(reversed.detail).toMatch(/after/);
    const long = await expectProblem(
      await api.app.request('/v1/funnel?from=2024-02-29&to=2025-03-01', { headers: auth }),
      400,
    );
    expect(long.detail).toMatch(/367 days/);
    // 366 days, both ends included, is allowed.
    const year = await api.app.request('/v1/funnel?from=2024-03-01&to=2025-03-01', {
      headers: auth,
    });
    expect(year.status).toBe(200);
  });

  it('takes the first and the last day of the years 1970 to 9999', async () => {
    const api = testApi();
    const first = await getJson<Funnel>(api, '/v1/funnel?from=1970-01-01&to=1970-01-01');
    expect(first.period).toEqual({ from: '1970-01-01', to: '1970-01-01' });
    const last = await getJson<Funnel>(api, '/v1/funnel?from=9999-12-31&to=9999-12-31');
    expect(last.period).toEqual({ from: '9999-12-31', to: '9999-12-31' });
  });

  it('a `from` in the future without `to` is refused as after today, not after `to`', async () => {
    const api = testApi();
    // TEST_NOW is 2025-03-01.
    const problem = await expectProblem(
      await api.app.request('/v1/funnel?from=2025-03-02', { headers: auth }),
      400,
    );
    expect(problem.detail).toBe('`from` is after today.');
    expect(problem.errors).toEqual([{ pointer: '#/from', detail: 'after today' }]);
  });

  it('counts nothing on an empty deployment, over the last 30 days by default', async () => {
    const api = testApi();
    const funnel = await getJson<Funnel>(api, '/v1/funnel');
    expect(funnel).toEqual({
      stages: { lead: 0, qualified: 0, prospect: 0, sales_ready: 0, disqualified: 0 },
      total: 0,
      notContactable: 0,
      stale: 0,
      // TEST_NOW is 2025-03-01: thirty days up to it, both included.
      period: { from: '2025-01-31', to: '2025-03-01' },
      entered: { lead: 0, qualified: 0, prospect: 0, sales_ready: 0, disqualified: 0 },
      reached: { lead: 0, qualified: 0, prospect: 0, sales_ready: 0 },
      conversions: [
        { from: 'lead', to: 'qualified', rate: null },
        { from: 'qualified', to: 'prospect', rate: null },
        { from: 'prospect', to: 'sales_ready', rate: null },
      ],
    });
  });

  it('shows the contacts per stage, the flags and the changes of the period, as the contacts say', async () => {
    const api = await seededApi();
    const funnel = await getJson<Funnel>(api, '/v1/funnel?from=2025-03-01&to=2025-03-01');
    const truth = await groundTruth(api, [annaId, bobId, carolId]);
    expect(funnel.stages).toEqual(truth.stages);
    expect(funnel.total).toBe(3);
    // Bob bounced hard; Carol's only activity is over 180 days old.
    expect(funnel.notContactable).toBe(1);
    expect(truth.notContactable).toBe(1);
    expect(funnel.stale).toBe(1);
    expect(truth.stale).toBe(1);
    expect(funnel.entered).toEqual(truth.entered);
    expect(funnel.reached).toEqual(truth.reached);
    expect(funnel.period).toEqual({ from: '2025-03-01', to: '2025-03-01' });
    for (const step of funnel.conversions) {
      const from = funnel.reached[step.from] ?? 0;
      expect(step.rate).toBe(
        from === 0 ? null : Math.round(((funnel.reached[step.to] ?? 0) / from) * 100) / 100,
      );
    }
    // The precondition of a meaningful check: more than one stage is populated.
    expect(Object.values(funnel.stages).filter((n) => n > 0).length).toBeGreaterThan(1);
  });

  it('leads going straight to prospect count as reaching qualified and prospect', async () => {
    // The default config has no qualification criteria: an answer makes a lead a prospect.
    const api = testApi();
    const form = (name: string) => ({
      kind: 'form_submitted' as const,
      id: `evt_${name}_form`,
      occurredAt: '2025-03-01T10:00:00Z',
      email: `${name}@example.com`,
      source: 'form:contact',
      formId: 'contact',
    });
    const reply = (name: string) => ({
      kind: 'email_replied' as const,
      id: `evt_${name}_reply`,
      occurredAt: '2025-03-01T11:00:00Z',
      email: `${name}@example.com`,
      source: 'postmark',
      matchMethod: 'in_reply_to' as const,
    });
    await seed(
      api,
      [form('dora'), form('erik'), form('fay'), reply('dora'), reply('erik')],
      tickingClock(),
    );
    const funnel = await getJson<Funnel>(api, '/v1/funnel?from=2025-03-01&to=2025-03-01');
    expect(funnel.stages).toMatchObject({ lead: 1, qualified: 0, prospect: 2 });
    expect(funnel.entered).toMatchObject({ lead: 3, qualified: 0, prospect: 2 });
    expect(funnel.reached).toEqual({ lead: 3, qualified: 2, prospect: 2, sales_ready: 0 });
    // 2 of 3 leads went on (0.67), both of those reached prospect (1), none sales_ready (0).
    expect(funnel.conversions).toEqual([
      { from: 'lead', to: 'qualified', rate: 0.67 },
      { from: 'qualified', to: 'prospect', rate: 1 },
      { from: 'prospect', to: 'sales_ready', rate: 0 },
    ]);
  });

  it('a period without changes has none entered, but the same current counts', async () => {
    const api = await seededApi();
    const funnel = await getJson<Funnel>(api, '/v1/funnel?from=2025-02-01&to=2025-02-28');
    expect(Object.values(funnel.entered)).toEqual([0, 0, 0, 0, 0]);
    expect(Object.values(funnel.reached)).toEqual([0, 0, 0, 0]);
    expect(funnel.conversions.every((step) => step.rate === null)).toBe(true);
    expect(funnel.total).toBe(3);
  });

  it('an erased contact leaves the current counts; its past changes stay in the period', async () => {
    const api = await seededApi();
    const before = await getJson<Funnel>(api, '/v1/funnel?from=2025-03-01&to=2025-03-01');
    const anna = await api.contacts.get(annaId);
    const response = await api.app.request(`/v1/contacts/${annaId}`, {
      method: 'DELETE',
      headers: auth,
    });
    expect(response.status).toBe(204);
    const after = await getJson<Funnel>(api, '/v1/funnel?from=2025-03-01&to=2025-03-01');
    expect(after.total).toBe(before.total - 1);
    expect(after.stages[anna?.stage as string]).toBe(
      (before.stages[anna?.stage as string] ?? 0) - 1,
    );
    expect(after.entered).toEqual(before.entered);
    expect(after.reached).toEqual(before.reached);
    expect(after.stages).toEqual((await groundTruth(api, [bobId, carolId])).stages);
  });
});

describe('conversionRate', () => {
  it('rounds to two decimals and is null when nothing reached the first stage', () => {
    expect(conversionRate(1, 3)).toBe(0.33);
    expect(conversionRate(2, 3)).toBe(0.67);
    expect(conversionRate(3, 3)).toBe(1);
    expect(conversionRate(0, 0)).toBeNull();
    expect(conversionRate(0, 4)).toBe(0);
  });
});

describe('the OpenAPI document', () => {
  it('describes the funnel, the recent stage changes and a contact’s deliveries', async () => {
    const response = await testApi().app.request('/openapi.json');
    const document = (await response.json()) as {
      paths: Record<string, Record<string, { security?: unknown[] }>>;
      components: { schemas: Record<string, unknown> };
    };
    for (const path of ['/v1/funnel', '/v1/stage-changes', '/v1/contacts/{id}/deliveries']) {
      expect(document.paths[path]?.get?.security).toEqual([{ bearerAuth: [] }]);
    }
    expect(Object.keys(document.components.schemas)).toEqual(
      expect.arrayContaining(['Funnel', 'RecentStageChangePage', 'ContactDeliveryPage']),
    );
  });
});
