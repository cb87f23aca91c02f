import { describe, expect, it } from 'vitest';
import type { SubscriptionRecord } from '../../../lib/store/subscription-store.ts';
import { auth, patchJson, postJson, testApi } from '../support/api.ts';
import { expectProblem } from '../support/problem.ts';

type Api = ReturnType<typeof testApi>;

async function create(app: Api['app']): Promise<{ id: string; secret: string }> {
  const response = await app.request(
    '/v1/subscriptions',
    postJson({ url: 'https://crm.example.com/h' }, auth),
  );
  expect(response.status).toBe(201);
  return (await response.json()) as { id: string; secret: string };
}

/**
 * Runs `between` after the route has read the subscription and before it writes, the first
 * `times` reads: another writer (the deliver worker, a second admin) landing in that gap.
 */
function writeBetweenReadAndWrite(
  subscriptions: Api['subscriptions'],
  between: () => Promise<unknown>,
  times = 1,
): { reads: () => number } {
  const get = subscriptions.get.bind(subscriptions);
  let reads = 0;
  subscriptions.get = async (id: string): Promise<SubscriptionRecord | undefined> => {
    const read = await get(id);
    reads += 1;
    if (reads <= times) await between();
    return read;
  };
  return { reads: () => reads };
}

describe('subscription edits racing other writes', () => {
  it('a PATCH does not undo a health write that landed after its read: a subscription disabled as gone stays disabled', async () => {
    const { app, subscriptions } = testApi();
    const { id } = await create(app);
    writeBetweenReadAndWrite(subscriptions, () =>
      subscriptions.recordHealth(id, {
        disable: 'gone',
        failingSince: '2025-03-01T11:00:00.000Z',
      }),
    );

    const response = await app.request(
      `/v1/subscriptions/${id}`,
      patchJson({ description: 'CRM (EU)' }),
    );

    expect(response.status).toBe(200);
    const expected = {
      description: 'CRM (EU)',
      enabled: false,
      disabledReason: 'gone',
      failingSince: '2025-03-01T11:00:00.000Z',
    };
    expect(await response.json()).toMatchObject(expected);
    expect(await subscriptions.get(id)).toMatchObject(expected);
  });

  it('a rotation that races a PATCH keeps both: the edit, and the secret the rotation answered', async () => {
    const { app, subscriptions } = testApi();
    const { id, secret: first } = await create(app);
    writeBetweenReadAndWrite(subscriptions, async () => {
      const edited = await app.request(
        `/v1/subscriptions/${id}`,
        patchJson({ stages: ['prospect'] }),
      );
      expect(edited.status).toBe(200);
    });

    const response = await app.request(`/v1/subscriptions/${id}/rotate-secret`, {
      method: 'POST',
      headers: auth,
    });

    expect(response.status).toBe(200);
    const rotated = (await response.json()) as { secret: string; stages?: string[] };
    expect(rotated.secret).not.toBe(first);
    expect(rotated.stages).toEqual(['prospect']);
    const stored = await subscriptions.get(id);
    expect(stored?.secret).toBe(rotated.secret);
    expect(stored?.stages).toEqual(['prospect']);
    expect(stored?.previousSecrets?.map((previous) => previous.secret)).toEqual([first]);
  });

  it('a PATCH of a subscription deleted after its read answers 404 and does not bring it back', async () => {
    const { app, subscriptions } = testApi();
    const { id } = await create(app);
    writeBetweenReadAndWrite(subscriptions, () => subscriptions.delete(id));

    await expectProblem(
      await app.request(`/v1/subscriptions/${id}`, patchJson({ enabled: false })),
      404,
    );

    expect(await subscriptions.list()).toEqual([]);
  });

  it('a rotation of a subscription deleted after its read answers 404 and does not bring it back', async () => {
    const { app, subscriptions } = testApi();
    const { id } = await create(app);
    writeBetweenReadAndWrite(subscriptions, () => subscriptions.delete(id));

    await expectProblem(
      await app.request(`/v1/subscriptions/${id}/rotate-secret`, { method: 'POST', headers: auth }),
      404,
    );

    expect(await subscriptions.list()).toEqual([]);
  });

  it('answers 409 problem+json when the subscription changes under every attempt, and writes nothing of its own', async () => {
    const { app, subscriptions } = testApi();
    const { id } = await create(app);
    let health = 0;
    const race = writeBetweenReadAndWrite(
      subscriptions,
      () => subscriptions.recordHealth(id, { lastSuccessAt: `2025-03-01T11:00:0${health++}.000Z` }),
      Number.POSITIVE_INFINITY,
    );

    const document = await expectProblem(
      await app.request(`/v1/subscriptions/${id}`, patchJson({ description: 'never stored' })),
      409,
    );

    expect(document.detail).toContain(id);
    expect(race.reads()).toBe(8);
    const stored = await subscriptions.get(id);
    expect(stored?.description).toBeUndefined();
    expect(stored?.lastSuccessAt).toBe('2025-03-01T11:00:07.000Z');
  });

  it('an edit that meets one other write succeeds on its second attempt', async () => {
    const { app, subscriptions } = testApi();
    const { id } = await create(app);
    const race = writeBetweenReadAndWrite(subscriptions, () =>
      subscriptions.recordHealth(id, { lastSuccessAt: '2025-03-01T11:30:00.000Z' }),
    );

    const response = await app.request(`/v1/subscriptions/${id}`, patchJson({ description: 'ok' }));

    expect(response.status).toBe(200);
    // The read the first attempt wrote from, and the fresh one of the second.
    expect(race.reads()).toBe(2);
    expect(await subscriptions.get(id)).toMatchObject({
      description: 'ok',
      lastSuccessAt: '2025-03-01T11:30:00.000Z',
    });
  });
});
