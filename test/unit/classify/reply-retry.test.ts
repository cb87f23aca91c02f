import { describe, expect, it } from 'vitest';
import { createClassifyHandler } from '../../../lib/classify/classify-handler.ts';
import { contactIdFor } from '../../../lib/store/keys.ts';
import { classifyFixture, withCommit } from '../support/classify.ts';
import { sqsEvent } from '../support/sqs-event.ts';

describe('a reply from a new sender whose first try died before its commit', () => {
  it('is applied when SQS delivers it again (the recorded sender match still holds)', async () => {
    const f = await classifyFixture();
    let commits = 0;
    const realCommit = f.contacts.commit.bind(f.contacts);
    const body = JSON.stringify({
      v: 1,
      reply: {
        id: 'evt_reply_new',
        occurredAt: '2025-03-01T11:00:00.000Z',
        source: 'postmark',
        from: 'new.person@example.org',
        references: [],
      },
    });
    const failing = createClassifyHandler({
      ...f.deps,
      contacts: withCommit(f.contacts, async () => {
        commits += 1;
        throw new Error('throttled');
      }),
    });
    expect((await failing(sqsEvent([body]))).batchItemFailures).toHaveLength(1);
    expect(commits).toBe(1);

    const handler = createClassifyHandler({
      ...f.deps,
      contacts: withCommit(f.contacts, realCommit),
    });
    expect((await handler(sqsEvent([body]))).batchItemFailures).toEqual([]);
    const contact = await f.contacts.get(contactIdFor('new.person@example.org'));
    expect(contact?.facts.counts.email_replied).toBe(1);
    expect(contact?.stage).toBe('prospect');
  });
});
