import { describe, expect, it } from 'vitest';
import { applyEvent } from '../../../lib/classify/apply-event.ts';
import { eraseContact } from '../../../lib/classify/erase-contact.ts';
import { contactIdFor } from '../../../lib/store/keys.ts';
import { classifyFixture, erasureFixture, formEvent, subscription } from '../support/classify.ts';

describe('disabled and filtered subscriptions', () => {
  it('a disabled subscription gets no stage change (as in Svix; a replay recovers them)', async () => {
    const f = await classifyFixture([subscription('sub_on'), subscription('sub_off', false)]);
    await applyEvent(formEvent('evt_1'), f.deps);
    expect(f.deliveries.all().map((d) => [d.subscriptionId, d.status])).toEqual([
      ['sub_on', 'pending'],
    ]);
    expect(f.deliveryQueue.sent.map((body) => JSON.parse(body).subscriptionId)).toEqual(['sub_on']);
  });

  it('a disabled subscription keeps its erasure notice, paused, for when it is enabled again', async () => {
    const f = await erasureFixture([subscription('sub_on'), subscription('sub_off', false)]);
    await applyEvent(formEvent('evt_1'), f.deps);
    await eraseContact(contactIdFor('anna@example.com'), f.eraseDeps);
    const notices = f.deliveries.all().filter((d) => d.message.type === 'contact.erased');
    expect(Object.fromEntries(notices.map((d) => [d.subscriptionId, d.status]))).toEqual({
      sub_on: 'pending',
      sub_off: 'paused',
    });
    // Not due for the sweeper until the subscription is enabled (which resumes it).
    const due = await f.deliveries.listDue('2099-01-01T00:00:00.000Z', 10);
    expect(due.map((d) => d.subscriptionId)).not.toContain('sub_off');
  });

  it('a subscription filtered to other stages gets nothing', async () => {
    const f = await classifyFixture([{ ...subscription('sub_prospects'), stages: ['prospect'] }]);
    await applyEvent(formEvent('evt_1'), f.deps);
    expect(f.deliveries.all()).toEqual([]);
  });
});
