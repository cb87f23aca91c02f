/*
 * "Counts per stage must not scan the table": the funnel counters are moved with each
 * change and must equal what the contacts say, however SQS delivers (duplicates, crashes
 * between the steps, projections out of order, concurrent writers) and after erasures.
 * Real Dynamo stores on dynalite and DynamoDB Local.
 */
import { describe, expect, it } from 'vitest';
import { applyEvent, type ClassifyDeps, projectOutbox } from '../../../lib/classify/apply-event.ts';
import { createClassifyHandler } from '../../../lib/classify/classify-handler.ts';
import { eraseContact } from '../../../lib/classify/erase-contact.ts';
import type { LeadEvent } from '../../../lib/domain/events.ts';
import type { ContactRecord, StageChange } from '../../../lib/store/contact-store.ts';
import {
  type CountIntent,
  countToken,
  type FunnelStore,
  RECENT_SET_MS,
  shardOf,
  TOKEN_MEMORY_MS,
} from '../../../lib/store/funnel-store.ts';
import { contactIdFor, keys } from '../../../lib/store/keys.ts';
import { dynamoBackends, useDynamoTable } from '../../support/dynamo-backends.ts';
import {
  type ClassifyHarness,
  classifyHarness,
  difference,
  failingTimes,
  InjectedCrash,
  leadEvent,
  override,
  partitionItems,
  qualifyingConfig,
  readTally,
  shuffled,
  sqsEvent,
  truth,
  uniqueEmail,
} from './support.ts';

/** A person's way through the funnel: form, mail engagement, reply, quote, revenue. */
function journey(email: string): LeadEvent[] {
  return [
    leadEvent({
      kind: 'form_submitted',
      id: 'evt_form',
      email,
      occurredAt: '2025-02-01T09:00:00.000Z',
      source: 'form:contact',
      formId: 'contact',
      profile: {
        name: 'Ada Lovelace',
        company: 'Analytical Engines',
        employees: 40,
        country: 'DE',
      },
    }),
    leadEvent({
      kind: 'email_clicked',
      id: 'evt_click',
      email,
      occurredAt: '2025-02-02T10:05:00.000Z',
      source: 'postmark',
      url: 'https://www.example.com/demo',
    }),
    leadEvent({
      kind: 'email_replied',
      id: 'evt_reply',
      email,
      occurredAt: '2025-02-03T08:00:00.000Z',
      source: 'postmark',
      matchMethod: 'reply_token',
      excerpt: 'Sounds good, can you send us an offer?',
    }),
    leadEvent({
      kind: 'quote_requested',
      id: 'evt_quote',
      email,
      occurredAt: '2025-02-04T15:00:00.000Z',
      source: 'api',
    }),
    leadEvent({
      kind: 'profile_updated',
      id: 'evt_profile',
      email,
      occurredAt: '2025-02-05T11:00:00.000Z',
      source: 'api',
      profile: { annualRevenue: { amount: 2_500_000, currency: 'EUR' } },
    }),
  ];
}

const hardBounce = (email: string) =>
  leadEvent({
    kind: 'email_bounced',
    id: 'evt_bounce',
    email,
    occurredAt: '2025-02-06T09:00:00.000Z',
    source: 'postmark',
    bounceType: 'hard',
  });

/** The stage changes a contact has now (kept by the counters after an erasure). */
async function stageChanges(h: ClassifyHarness, contactId: string): Promise<StageChange[]> {
  return (await partitionItems(h.table, contactId))
    .filter((item) => item.type === 'stage_change')
    .map((item) => item as unknown as StageChange);
}

/** The "reached" counters of every day, as `<day>:<stage>` -> count (zeros left out). */
async function readReached(funnel: FunnelStore): Promise<Record<string, number>> {
  const tally: Record<string, number> = {};
  for (const day of await funnel.enteredByDay('2000-01-01', '2099-12-31')) {
    for (const [stage, count] of Object.entries(day.reached)) {
      if (count !== 0) tally[`${day.day}:${stage}`] = count;
    }
  }
  return tally;
}

/**
 * What the "reached" counters must have gained from these contacts, read off their stage-change
 * items: each forward change reaches every path stage above where it came from, up to where it
 * went (the path written out here, not imported from the code under test).
 */
async function reachedTruth(h: ClassifyHarness, contactIds: string[]) {
  const path = ['lead', 'qualified', 'prospect', 'sales_ready'];
  const tally: Record<string, number> = {};
  for (const contactId of contactIds) {
    for (const change of await stageChanges(h, contactId)) {
      const fromRank = change.from === null ? -1 : path.indexOf(change.from);
      for (let rank = fromRank + 1; rank <= path.indexOf(change.to); rank++) {
        const key = `${change.at.slice(0, 10)}:${path[rank]}`;
        tally[key] = (tally[key] ?? 0) + 1;
      }
    }
  }
  return tally;
}

/** Plays the journey one event a day, so changes land on different UTC days. */
async function play(h: ClassifyHarness, events: LeadEvent[], deps: ClassifyDeps = h.deps) {
  for (const [i, event] of events.entries()) {
    h.clock.set(`2025-03-${String(i + 1).padStart(2, '0')}T12:00:00.000Z`);
    await applyEvent(event, deps);
  }
}

/**
 * Plays the journey one event a day with every commit landing but its counting dying (the
 * counter claim crashes), so all projections are left for the test to run; the records as
 * committed, oldest first.
 */
async function commitWithoutCounting(h: ClassifyHarness, email: string): Promise<ContactRecord[]> {
  const committedRecords: ContactRecord[] = [];
  const deferred: ClassifyDeps = {
    ...h.deps,
    contacts: override(h.contacts, {
      commit: async (record, expectedVersion) => {
        await h.contacts.commit(record, expectedVersion);
        committedRecords.push(structuredClone(record));
      },
    }),
    funnel: override(h.funnel, {
      claim: async () => {
        throw new InjectedCrash('counting deferred');
      },
    }),
  };
  for (const [i, event] of journey(email).entries()) {
    h.clock.set(`2025-03-${String(i + 1).padStart(2, '0')}T12:00:00.000Z`);
    await expect(applyEvent(event, deferred)).rejects.toBeInstanceOf(InjectedCrash);
  }
  return committedRecords;
}

describe.each(dynamoBackends)('funnel counters, on $name', (backend) => {
  const table = useDynamoTable(backend, 'funnel_counters');
  const harness = () => classifyHarness(table(), { config: qualifyingConfig });

  it('a journey moves the counters exactly as the contact and its stage history say', async () => {
    const h = harness();
    const email = uniqueEmail('journey');
    const contactId = contactIdFor(email);
    const before = await readTally(h.funnel);
    const reachedBefore = await readReached(h.funnel);
    await play(h, [...journey(email), hardBounce(email)]);

    const contact = await h.contacts.get(contactId);
    // The precondition: several stage changes, and a flag (the hard bounce) that moved too.
    expect(contact?.sequence).toBeGreaterThanOrEqual(3);
    expect(contact?.flags.contactable).toBe(false);
    expect(contact?.pendingCounts ?? {}).toEqual({});
    const gained = difference(await readTally(h.funnel), before);
    expect(gained).toEqual(await truth(h, [contactId]));
    expect(gained['current:total']).toBe(1);
    expect(gained['current:notContactable']).toBe(1);
    const reached = difference(await readReached(h.funnel), reachedBefore);
    expect(reached).toEqual(await reachedTruth(h, [contactId]));
    // The precondition: the journey went up the whole path.
    expect(Object.keys(reached).map((key) => key.split(':')[1])).toEqual(
      expect.arrayContaining(['lead', 'qualified', 'prospect', 'sales_ready']),
    );
    // The marker holds what was counted, and no personal data.
    const marker = (await partitionItems(h.table, contactId)).find(
      (item) => item.sk === keys.counted(contactId).sk,
    );
    expect(marker).toMatchObject({
      stage: contact?.stage,
      contactable: false,
      version: contact?.version,
      sequence: contact?.sequence,
    });
    expect(JSON.stringify(marker)).not.toContain('Lovelace');
  });

  it('every event delivered 3 times (in a row and at once) counts once', async () => {
    const h = harness();
    const email = uniqueEmail('redelivered');
    const contactId = contactIdFor(email);
    const before = await readTally(h.funnel);
    for (const [i, event] of journey(email).entries()) {
      h.clock.set(`2025-03-${String(i + 1).padStart(2, '0')}T12:00:00.000Z`);
      await Promise.all([applyEvent(event, h.deps), applyEvent(event, h.deps)]);
      await applyEvent(event, h.deps);
    }
    expect(difference(await readTally(h.funnel), before)).toEqual(await truth(h, [contactId]));
  });

  it('20 contacts at once, every event twice and concurrently: the counters equal the contacts', async () => {
    const h = harness();
    const emails = Array.from({ length: 20 }, (_, i) => uniqueEmail(`crowd${i}`));
    const before = await readTally(h.funnel);
    const reachedBefore = await readReached(h.funnel);
    await Promise.all(
      emails.map(async (email, i) => {
        // Each contact stops somewhere else along the way.
        for (const event of journey(email).slice(0, 1 + (i % 5))) {
          await Promise.all([applyEvent(event, h.deps), applyEvent(event, h.deps)]);
        }
      }),
    );
    const gained = difference(await readTally(h.funnel), before);
    expect(gained).toEqual(await truth(h, emails.map(contactIdFor)));
    expect(gained['current:total']).toBe(20);
    expect(difference(await readReached(h.funnel), reachedBefore)).toEqual(
      await reachedTruth(h, emails.map(contactIdFor)),
    );
  });

  it('projections run out of order (the newest first, then the older ones) count each change once', async () => {
    const h = harness();
    const email = uniqueEmail('out-of-order');
    const contactId = contactIdFor(email);
    const before = await readTally(h.funnel);
    const committedRecords = await commitWithoutCounting(h, email);
    expect(await readTally(h.funnel)).toEqual(before);
    const stageChanging = committedRecords.filter(
      (record) => Object.keys(record.pendingHistory ?? {}).length > 0,
    );
    expect(stageChanging.length).toBeGreaterThanOrEqual(3);

    // Sequence 3's projection before sequence 2's, and so on down; then all again, shuffled.
    for (const record of [...committedRecords].reverse()) await projectOutbox(record, h.deps);
    for (const record of shuffled(committedRecords, 7)) await projectOutbox(record, h.deps);

    expect(difference(await readTally(h.funnel), before)).toEqual(await truth(h, [contactId]));
    expect((await h.contacts.get(contactId))?.pendingCounts ?? {}).toEqual({});
  });

  it('an older projection that runs between two newer ones does not drag the counts back', async () => {
    const h = harness();
    const email = uniqueEmail('interleaved');
    const contactId = contactIdFor(email);
    const before = await readTally(h.funnel);
    const committedRecords = await commitWithoutCounting(h, email);
    const [first, second, ...rest] = committedRecords;
    if (first === undefined || second === undefined) throw new Error('journey made no commits');
    await projectOutbox(second, h.deps);
    await projectOutbox(first, h.deps);
    for (const record of rest) await projectOutbox(record, h.deps);
    await projectOutbox(first, h.deps);
    expect(difference(await readTally(h.funnel), before)).toEqual(await truth(h, [contactId]));
  });

  describe('a crash between the steps of the count, repaired by the redelivery', () => {
    const crashes: [string, (h: ClassifyHarness) => ClassifyDeps][] = [
      [
        'the marker was claimed, the counters were not moved',
        (h) => ({
          ...h.deps,
          funnel: override(h.funnel, { apply: failingTimes(h.funnel.apply.bind(h.funnel)) }),
        }),
      ],
      [
        'the counters were moved, the marker still holds the change',
        (h) => ({
          ...h.deps,
          funnel: override(h.funnel, { settle: failingTimes(h.funnel.settle.bind(h.funnel)) }),
        }),
      ],
      [
        'everything was counted, the contact still says it is owed',
        (h) => ({
          ...h.deps,
          contacts: override(h.contacts, {
            clearOutbox: failingTimes(h.contacts.clearOutbox.bind(h.contacts)),
          }),
        }),
      ],
    ];

    it.each(crashes)('%s', async (_, crash) => {
      const h = harness();
      const email = uniqueEmail('count-crash');
      const contactId = contactIdFor(email);
      const [form, ...others] = journey(email);
      if (form === undefined) throw new Error('no form');
      const before = await readTally(h.funnel);
      await expect(applyEvent(form, crash(h))).rejects.toBeInstanceOf(InjectedCrash);
      // SQS redelivers the form, twice; then the rest of the journey comes.
      expect(await applyEvent(form, h.deps)).toBe('duplicate');
      expect(await applyEvent(form, h.deps)).toBe('duplicate');
      await play(h, others);
      expect(difference(await readTally(h.funnel), before)).toEqual(await truth(h, [contactId]));
    });

    it('a later event of the contact finishes a change whose worker died after the claim', async () => {
      const h = harness();
      const email = uniqueEmail('count-help');
      const contactId = contactIdFor(email);
      const [form, click] = journey(email);
      if (form === undefined || click === undefined) throw new Error('no events');
      const before = await readTally(h.funnel);
      const crashing = {
        ...h.deps,
        funnel: override(h.funnel, { apply: failingTimes(h.funnel.apply.bind(h.funnel)) }),
      };
      await expect(applyEvent(form, crashing)).rejects.toBeInstanceOf(InjectedCrash);
      await applyEvent(click, h.deps);
      expect(difference(await readTally(h.funnel), before)).toEqual(await truth(h, [contactId]));
      // The form's redelivery, much later, adds nothing.
      await applyEvent(form, h.deps);
      expect(difference(await readTally(h.funnel), before)).toEqual(await truth(h, [contactId]));
    });

    it('a worker that read the change before it was settled cannot apply it again', async () => {
      const h = harness();
      const contactId = contactIdFor(uniqueEmail('stale-reader'));
      const intent = {
        token: `${contactId}#1`,
        deltas: { current: { lead: 1, total: 1 }, entered: { '2025-03-09': { lead: 1 } } },
      };
      const before = await readTally(h.funnel);
      expect(
        await h.funnel.claim(
          contactId,
          {
            stage: 'lead',
            contactable: true,
            stale: false,
            version: 1,
            sequence: 1,
            pending: intent,
          },
          undefined,
        ),
      ).toBe(true);
      const staleRead = await h.funnel.counted(contactId);
      await h.funnel.apply(intent);
      await h.funnel.settle(contactId, intent, h.clock.now());
      // The slow worker wakes up with its copy of the pending change.
      expect(staleRead?.pending).toEqual(intent);
      await h.funnel.apply(intent);
      await h.funnel.settle(contactId, intent, h.clock.now());
      expect(difference(await readTally(h.funnel), before)).toEqual({
        'current:lead': 1,
        'current:total': 1,
        'entered:2025-03-09:lead': 1,
      });
      expect((await h.funnel.counted(contactId))?.pending).toBeUndefined();
    });
  });

  describe('the token memory of a counter item', () => {
    const intent = (contactId: string): CountIntent => ({
      token: countToken(contactId, 1),
      deltas: { current: { lead: 1, total: 1 }, entered: { '2025-03-09': { lead: 1 } } },
    });

    it('refuses a settled token again for TOKEN_MEMORY_MS while others settle, then forgets it', async () => {
      const h = harness();
      const first = intent(uniqueEmail('memory-first'));
      // Draw contacts until eight land on the first one's shard: the emails are random, so a
      // fixed number of draws would sometimes find too few (1 in 64 is a match).
      const others: CountIntent[] = [];
      for (let i = 0; others.length < 8; i++) {
        const other = intent(uniqueEmail(`memory${i}`));
        if (shardOf(other.token) === shardOf(first.token)) others.push(other);
      }
      const before = await readTally(h.funnel);
      const settledAt = Date.parse('2025-03-09T12:00:14.000Z');
      await h.funnel.apply(first);
      await h.funnel.settle('ct_memory', first, new Date(settledAt));
      // Other changes settle on the same items every 2 seconds; the repeat is refused throughout.
      let i = 0;
      for (let at = settledAt; at <= settledAt + TOKEN_MEMORY_MS; at += 2000) {
        await h.funnel.settle(
          'ct_memory',
          others[i++ % others.length] as CountIntent,
          new Date(at),
        );
        await h.funnel.apply(first);
      }
      expect(difference(await readTally(h.funnel), before)).toEqual({
        'current:lead': 1,
        'current:total': 1,
        'entered:2025-03-09:lead': 1,
      });
      // A write one set width after the memory drops the token's set: a repeat now would
      // count again (which is why no worker applies what it read APPLY_WINDOW_MS ago or more).
      await h.funnel.settle(
        'ct_memory',
        others[0] as CountIntent,
        new Date(settledAt + TOKEN_MEMORY_MS + RECENT_SET_MS),
      );
      await h.funnel.apply(first);
      expect(difference(await readTally(h.funnel), before)).toEqual({
        'current:lead': 2,
        'current:total': 2,
        'entered:2025-03-09:lead': 2,
      });
    });

    it('an apply whose window is over sends nothing', async () => {
      const h = harness();
      const late = intent(uniqueEmail('aborted'));
      const before = await readTally(h.funnel);
      await expect(h.funnel.apply(late, { abortSignal: AbortSignal.abort() })).rejects.toThrow();
      expect(await readTally(h.funnel)).toEqual(before);
    });
  });

  describe('erasure', () => {
    it('takes the contact out of the current counts, once, and keeps its past changes in the period counts', async () => {
      const h = harness();
      const email = uniqueEmail('erased');
      const contactId = contactIdFor(email);
      const before = await readTally(h.funnel);
      let lastCommitted: ContactRecord | undefined;
      await play(h, [...journey(email), hardBounce(email)], {
        ...h.deps,
        contacts: override(h.contacts, {
          commit: async (record, expectedVersion) => {
            await h.contacts.commit(record, expectedVersion);
            lastCommitted = structuredClone(record);
          },
        }),
      });
      const changes = await stageChanges(h, contactId);
      const whileAlive = difference(await readTally(h.funnel), before);
      expect(whileAlive).toEqual(await truth(h, [contactId]));

      h.clock.set('2025-04-01T12:00:00.000Z');
      expect(await eraseContact(contactId, h.eraseDeps)).toBe('erased');
      expect(await eraseContact(contactId, h.eraseDeps)).toBe('already_erased');
      // The delayed re-purge counts it out again: nothing changes.
      const handler = createClassifyHandler(h.deps);
      const purge = JSON.stringify({ v: 1, purge: { contactId } });
      expect((await handler(sqsEvent([purge]))).batchItemFailures).toEqual([]);

      const afterErasure = difference(await readTally(h.funnel), before);
      expect(afterErasure).toEqual(await truth(h, [contactId], changes));
      expect(Object.keys(afterErasure).some((key) => key.startsWith('current:'))).toBe(false);

      // A projection of the contact's last commit that was still in flight counts nothing.
      expect(Object.keys(lastCommitted?.pendingCounts ?? {})).not.toEqual([]);
      await projectOutbox(lastCommitted as ContactRecord, h.deps);
      expect(difference(await readTally(h.funnel), before)).toEqual(afterErasure);
    });

    it('an erasure that died before it counted is counted out by the delayed purge', async () => {
      const h = harness();
      const email = uniqueEmail('erase-crash');
      const contactId = contactIdFor(email);
      const before = await readTally(h.funnel);
      await play(h, journey(email));
      const changes = await stageChanges(h, contactId);
      h.clock.set('2025-04-01T12:00:00.000Z');
      const crashing = {
        ...h.eraseDeps,
        funnel: override(h.funnel, { claim: failingTimes(h.funnel.claim.bind(h.funnel)) }),
      };
      await expect(eraseContact(contactId, crashing)).rejects.toBeInstanceOf(InjectedCrash);
      // The re-purge was queued before the count.
      const purge = h.ingestQueue.sent.at(-1);
      expect(purge).toBe(JSON.stringify({ v: 1, purge: { contactId } }));
      expect(difference(await readTally(h.funnel), before)['current:total']).toBe(1);
      const handler = createClassifyHandler(h.deps);
      expect((await handler(sqsEvent([purge as string]))).batchItemFailures).toEqual([]);
      expect(difference(await readTally(h.funnel), before)).toEqual(
        await truth(h, [contactId], changes),
      );
    });

    it('a contact that comes back after the erasure is counted again from its new stage', async () => {
      const h = harness();
      const email = uniqueEmail('returning');
      const contactId = contactIdFor(email);
      const before = await readTally(h.funnel);
      await play(h, journey(email));
      const firstLife = await stageChanges(h, contactId);
      h.clock.set('2025-04-01T12:00:00.000Z');
      await eraseContact(contactId, h.eraseDeps);
      h.clock.set('2025-04-02T12:00:00.000Z');
      await applyEvent(
        leadEvent({
          kind: 'form_submitted',
          id: 'evt_form_again',
          email,
          occurredAt: '2025-04-02T11:00:00.000Z',
          source: 'form:contact',
          formId: 'contact',
          profile: { name: 'Ada Lovelace' },
        }),
        h.deps,
      );
      const gained = difference(await readTally(h.funnel), before);
      expect(gained).toEqual(await truth(h, [contactId], firstLife));
      expect(gained['current:total']).toBe(1);
    });
  });
});
