import { describe, expect, it } from 'vitest';
import { contactIdFor } from '../../../lib/store/keys.ts';
import { auth, testApi } from '../support/api.ts';
import { subscription } from '../support/classify.ts';
import { annaId, bobId, getJson, type Page, seededApi } from '../support/funnel-seed.ts';
import { expectProblem } from '../support/problem.ts';

interface Delivery {
  deliveryId: string;
  contactId: string;
  subscriptionId: string;
  eventType: string;
  status: string;
  attemptCount: number;
  createdAt: string;
}

describe('GET /v1/contacts/{id}/deliveries', () => {
  it('refuses a request without the API key', async () => {
    await expectProblem(await testApi().app.request(`/v1/contacts/${annaId}/deliveries`), 401);
  });

  it('refuses a bad id, limit or cursor; 404 for an unknown contact', async () => {
    const api = await seededApi();
    await expectProblem(
      await api.app.request('/v1/contacts/anna/deliveries', { headers: auth }),
      400,
    );
    await expectProblem(
      await api.app.request(`/v1/contacts/${annaId}/deliveries?limit=0`, { headers: auth }),
      400,
    );
    const cursor = await expectProblem(
      await api.app.request(`/v1/contacts/${annaId}/deliveries?cursor=nope`, { headers: auth }),
      400,
    );
    expect(cursor.type).toBe('/problems/invalid-cursor');
    await expectProblem(
      await api.app.request(`/v1/contacts/${contactIdFor('nobody@example.com')}/deliveries`, {
        headers: auth,
      }),
      404,
    );
  });

  it("lists the contact's deliveries, newest first, and only its own", async () => {
    const api = await seededApi();
    await api.subscriptions.put(subscription('sub_b'));
    const page = await getJson<Page<Delivery>>(api, `/v1/contacts/${annaId}/deliveries`);
    const stored = api.deliveries.all().filter((delivery) => delivery.contactId === annaId);
    expect(stored.length).toBeGreaterThanOrEqual(2);
    expect(page.items.map((item) => item.deliveryId).sort()).toEqual(
      stored.map((delivery) => delivery.deliveryId).sort(),
    );
    const keys = page.items.map((item) => `${item.createdAt}#${item.deliveryId}`);
    expect(keys).toEqual([...keys].sort().reverse());
    for (const item of page.items) {
      expect(item).toMatchObject({
        contactId: annaId,
        subscriptionId: 'sub_a',
        eventType: 'contact.stage_changed',
        status: 'pending',
        attemptCount: 0,
      });
      expect(item).not.toHaveProperty('message');
    }
    // Bob's deliveries include the not-contactable notice of his hard bounce.
    const bob = await getJson<Page<Delivery>>(api, `/v1/contacts/${bobId}/deliveries`);
    expect(bob.items.map((item) => item.eventType)).toContain('contact.not_contactable');
    expect(bob.items.every((item) => item.contactId === bobId)).toBe(true);
  });

  it('pages with the cursor: every delivery once, in order', async () => {
    const api = await seededApi();
    const all = (await getJson<Page<Delivery>>(api, `/v1/contacts/${annaId}/deliveries`)).items;
    const paged: Delivery[] = [];
    let cursor: string | undefined;
    do {
      const page = await getJson<Page<Delivery>>(
        api,
        `/v1/contacts/${annaId}/deliveries?limit=1${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.items.length).toBeLessThanOrEqual(1);
      paged.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    expect(paged).toEqual(all);
  });

  it('answers 404 once the contact is erased', async () => {
    const api = await seededApi();
    await api.app.request(`/v1/contacts/${annaId}`, { method: 'DELETE', headers: auth });
    await expectProblem(
      await api.app.request(`/v1/contacts/${annaId}/deliveries`, { headers: auth }),
      404,
    );
  });
});
