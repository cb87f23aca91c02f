import { describe, expect, it } from 'vitest';
import { createClassifyHandler } from '../../../lib/classify/classify-handler.ts';
import { contactIdFor } from '../../../lib/store/keys.ts';
import { classifyFixture, formEvent, subscription } from '../support/classify.ts';
import { sqsEvent } from '../support/sqs-event.ts';

describe('createClassifyHandler', () => {
  it('reports exactly the unreadable records as batch item failures and applies the rest', async () => {
    const f = await classifyFixture([subscription('sub_a')]);
    const handler = createClassifyHandler(f.deps);
    const response = await handler(
      sqsEvent(
        [
          '{not json',
          JSON.stringify({ v: 1, event: formEvent('evt_ok') }),
          JSON.stringify({ v: 2, event: formEvent('evt_v2') }),
        ],
        ['bad-json', 'good', 'bad-version'],
      ),
    );
    expect(response.batchItemFailures.map((failure) => failure.itemIdentifier).sort()).toEqual([
      'bad-json',
      'bad-version',
    ]);
    const contact = await f.contacts.get(contactIdFor('anna@example.com'));
    expect(Object.keys(contact?.seen ?? {})).toEqual(['evt_ok']);
    expect(f.deliveries.all()).toHaveLength(1);
  });

  it('reports an envelope whose event is invalid', async () => {
    const f = await classifyFixture();
    const handler = createClassifyHandler(f.deps);
    const response = await handler(
      sqsEvent([JSON.stringify({ v: 1, event: { ...formEvent('evt_1'), email: 'nope' } })]),
    );
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
    expect(f.contacts.all()).toEqual([]);
  });

  it('reports no failures when every record is applied, duplicates included', async () => {
    const f = await classifyFixture();
    const handler = createClassifyHandler(f.deps);
    const body = JSON.stringify({ v: 1, event: formEvent('evt_1') });
    const response = await handler(sqsEvent([body, body]));
    expect(response.batchItemFailures).toEqual([]);
    expect((await f.contacts.get(contactIdFor('anna@example.com')))?.facts.counts).toEqual({
      form_submitted: 1,
    });
  });
});
