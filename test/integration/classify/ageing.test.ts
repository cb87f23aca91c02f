/*
 * `stale` follows time, not only events: each commit keys the contact in the sparse flagsDue
 * index by when time next moves a flag; the ageing pass reads what is due, queues a refresh of
 * each, and the classify worker commits the time flags and counts them in the funnel.
 * Real Dynamo stores on dynalite and DynamoDB Local; the queues in memory.
 */

import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type AgeDeps,
  ageContacts,
  continueRekey,
  flagsConfigOf,
} from '../../../lib/classify/age-contacts.ts';
import { applyEvent } from '../../../lib/classify/apply-event.ts';
import { createClassifyHandler } from '../../../lib/classify/classify-handler.ts';
import { eraseContact } from '../../../lib/classify/erase-contact.ts';
import {
  type QualificationConfig,
  qualificationConfigSchema,
} from '../../../lib/domain/qualification.ts';
import { silentLogger } from '../../../lib/observability/logger.ts';
import { DynamoAgeingStateStore } from '../../../lib/store/ageing-state-store.ts';
import { contactIdFor, keys } from '../../../lib/store/keys.ts';
import { dynamoBackends, useDynamoTable } from '../../support/dynamo-backends.ts';
import {
  type ClassifyHarness,
  classifyHarness,
  committed,
  difference,
  leadEvent,
  readTally,
  seedSubscriptions,
  sqsEvent,
  uniqueEmail,
  useExtraTable,
} from './support.ts';

const form = (email: string, occurredAt: string) =>
  leadEvent({
    kind: 'form_submitted',
    id: `evt_form_${occurredAt}`,
    email,
    occurredAt,
    source: 'form:contact',
    formId: 'contact',
    profile: { name: 'Grace Hopper', company: 'Cobol Ltd' },
  });

/** The ageing pass's dependencies on the harness's table, queue and clock. */
function ageDeps(
  h: ClassifyHarness,
  qualification: QualificationConfig = h.deps.config.qualification,
): AgeDeps {
  return {
    directory: h.directory,
    ingestQueue: h.ingestQueue,
    state: new DynamoAgeingStateStore(h.table.doc, h.table.tableName),
    flagsConfig: flagsConfigOf(qualification),
    now: h.clock.now,
    logger: silentLogger,
  };
}

/** Hands what was queued since `from` to the classify worker; the contact ids refreshed. */
async function classifyQueued(h: ClassifyHarness, from: number, deps = h.deps): Promise<string[]> {
  const bodies = h.ingestQueue.sent.slice(from);
  const response = await createClassifyHandler(deps)(sqsEvent(bodies, `age${from}_`));
  expect(response.batchItemFailures).toEqual([]);
  return bodies.map(
    (body) => (JSON.parse(body) as { refresh: { contactId: string } }).refresh.contactId,
  );
}

/** Runs the ageing pass at the harness's clock and hands what it queued to the classify worker. */
async function agePass(h: ClassifyHarness): Promise<string[]> {
  const from = h.ingestQueue.sent.length;
  const { queued } = await ageContacts(ageDeps(h));
  expect(h.ingestQueue.sent.length - from).toBe(queued);
  return classifyQueued(h, from);
}

describe.each(dynamoBackends)('the ageing pass, on $name', (backend) => {
  const table = useDynamoTable(backend, 'ageing');
  // The flagsDue index is one partition per table: each test reads only its own contacts.
  beforeAll(() => seedSubscriptions(table()));

  it('flags and counts contacts gone stale without an event, once, in every stage; an event makes them active again', async () => {
    const h = classifyHarness(table());
    const before = await readTally(h.funnel);
    const quiet = uniqueEmail('quiet');
    const answered = uniqueEmail('answered');
    const busy = uniqueEmail('busy');
    const erased = uniqueEmail('erased');
    h.clock.set('2025-03-01T12:00:00.000Z');
    for (const email of [quiet, answered, busy, erased]) {
      await applyEvent(form(email, '2025-03-01T09:00:00.000Z'), h.deps);
    }
    // A prospect: the pass reads every stage's partition, not only leads'.
    await applyEvent(
      leadEvent({
        kind: 'email_replied',
        id: 'evt_reply',
        email: answered,
        occurredAt: '2025-03-02T09:00:00.000Z',
        source: 'postmark',
        matchMethod: 'reply_token',
      }),
      h.deps,
    );
    h.clock.set('2025-08-15T12:00:00.000Z');
    await applyEvent(
      leadEvent({
        kind: 'email_clicked',
        id: 'evt_click',
        email: busy,
        occurredAt: '2025-08-15T10:00:00.000Z',
        source: 'postmark',
      }),
      h.deps,
    );
    await eraseContact(contactIdFor(erased), h.eraseDeps);
    const afterEvents = await readTally(h.funnel);
    expect(afterEvents['current:stale']).toBe(before['current:stale']);

    // 184 days after the forms: two have gone stale, the one clicked in August has not, the
    // erased one is not found at all.
    h.clock.set('2025-09-01T12:00:00.000Z');
    const webhooksBefore = h.deliveryQueue.sent.length;
    expect(webhooksBefore).toBeGreaterThan(0);
    expect((await agePass(h)).sort()).toEqual([contactIdFor(quiet), contactIdFor(answered)].sort());
    for (const email of [quiet, answered]) {
      const contact = await committed(h, contactIdFor(email));
      expect(contact.flags.stale).toBe(true);
      expect(contact.reasons).toContainEqual(expect.objectContaining({ code: 'stale' }));
    }
    expect((await committed(h, contactIdFor(answered))).stage).toBe('prospect');
    expect((await committed(h, contactIdFor(busy))).flags.stale).toBe(false);
    expect(difference(await readTally(h.funnel), afterEvents)).toEqual({ 'current:stale': 2 });
    // No webhook: stale is a flag, not a stage change.
    expect(h.deliveryQueue.sent.length).toBe(webhooksBefore);

    // The next pass finds nothing new; a refresh delivered again changes nothing.
    expect(await agePass(h)).toEqual([]);
    const settled = await readTally(h.funnel);
    const again = JSON.stringify({ v: 1, refresh: { contactId: contactIdFor(quiet) } });
    const repeated = await createClassifyHandler(h.deps)(sqsEvent([again, again], 'again'));
    expect(repeated.batchItemFailures).toEqual([]);
    expect(difference(await readTally(h.funnel), settled)).toEqual({});

    // Half a year after the click, that one goes stale too.
    h.clock.set('2026-02-15T12:00:00.000Z');
    expect(await agePass(h)).toEqual([contactIdFor(busy)]);
    expect(difference(await readTally(h.funnel), afterEvents)).toEqual({ 'current:stale': 3 });

    // A new form makes the quiet contact active again, and the count follows.
    h.clock.set('2026-02-16T12:00:00.000Z');
    await applyEvent(form(quiet, '2026-02-16T09:00:00.000Z'), h.deps);
    expect((await committed(h, contactIdFor(quiet))).flags.stale).toBe(false);
    expect(difference(await readTally(h.funnel), afterEvents)).toEqual({ 'current:stale': 2 });
    expect(await agePass(h)).toEqual([]);
  });

  const cadenceTable = useExtraTable(table, 'ageing_cadence');

  it('lifts cadenceExceeded once the touches have left the window, without counting anything', async () => {
    const h = classifyHarness(cadenceTable());
    const email = uniqueEmail('cadence');
    const contactId = contactIdFor(email);
    h.clock.set('2025-03-01T12:00:00.000Z');
    await applyEvent(form(email, '2025-03-01T09:00:00.000Z'), h.deps);
    // Seven deliveries in a week: over the ceiling of six in 30 days.
    for (let day = 2; day <= 8; day++) {
      const at = `2025-03-0${day}T09:00:00.000Z`;
      h.clock.set(at);
      await applyEvent(
        leadEvent({
          kind: 'email_delivered',
          id: `evt_sent_${day}`,
          email,
          occurredAt: at,
          source: 'postmark',
        }),
        h.deps,
      );
    }
    expect((await committed(h, contactId)).flags.cadenceExceeded).toBe(true);
    const counts = await readTally(h.funnel);

    // Not due while the touches are inside the window (until 1 April, 30 days after the first).
    h.clock.set('2025-04-01T09:00:00.000Z');
    expect(await agePass(h)).toEqual([]);
    // Out of it: lifted, with its reason; neither stale nor counted.
    h.clock.set('2025-04-20T12:00:00.000Z');
    expect(await agePass(h)).toEqual([contactId]);
    const lifted = await committed(h, contactId);
    expect(lifted.flags).toEqual({ contactable: true, stale: false, cadenceExceeded: false });
    expect(lifted.reasons).not.toContainEqual(
      expect.objectContaining({ code: 'cadence_exceeded' }),
    );
    expect(await readTally(h.funnel)).toEqual(counts);
    expect(await agePass(h)).toEqual([]);
  });

  const rekeyTable = useExtraTable(table, 'ageing_rekey');

  it('re-keys every contact when the flag settings change, and contacts stored before the flagsDue index', async () => {
    const h = classifyHarness(rekeyTable());
    const legacy = uniqueEmail('legacy');
    const recent = uniqueEmail('recent');
    h.clock.set('2025-03-01T12:00:00.000Z');
    await applyEvent(form(legacy, '2025-03-01T09:00:00.000Z'), h.deps);
    h.clock.set('2025-08-01T12:00:00.000Z');
    await applyEvent(form(recent, '2025-08-01T09:00:00.000Z'), h.deps);
    // The first pass keys nothing it need not: the settings are recorded, a walk is started
    // (the table had no state yet, as after an update from a version without the index).
    expect(await ageContacts(ageDeps(h))).toEqual({ queued: 0, rekey: true });
    expect((await continueRekey(ageDeps(h))).queued).toBe(2);
    await classifyQueued(h, 0);
    expect(await ageContacts(ageDeps(h))).toEqual({ queued: 0, rekey: false });
    expect(await continueRekey(ageDeps(h))).toEqual({ queued: 0 });

    // A contact as an older version stored it: no flagsDueAt, no flagsDue index entry.
    await h.table.doc.send(
      new UpdateCommand({
        TableName: h.table.tableName,
        Key: keys.contact(contactIdFor(legacy)),
        UpdateExpression: 'REMOVE flagsDueAt, gsi5pk, gsi5sk',
      }),
    );
    h.clock.set('2025-09-01T12:00:00.000Z');
    expect(await agePass(h)).toEqual([]);
    expect((await committed(h, contactIdFor(legacy))).flags.stale).toBe(false);

    // The deployment lowers staleAfterDays to 30: the next pass starts a walk, the sweeps
    // carry it on, and every contact is keyed with the new settings (the legacy one too).
    const strict = qualificationConfigSchema.parse({ staleAfterDays: 30 });
    const strictDeps = { ...h.deps, config: { ...h.deps.config, qualification: strict } };
    const before = await readTally(h.funnel);
    expect(await ageContacts(ageDeps(h, strict))).toEqual({ queued: 0, rekey: true });
    const from = h.ingestQueue.sent.length;
    // A walk with no time left does nothing but keep its place; the next sweep carries it on.
    expect(await continueRekey(ageDeps(h, strict), 0)).toEqual({ queued: 0 });
    expect((await continueRekey(ageDeps(h, strict))).queued).toBe(2);
    expect((await classifyQueued(h, from, strictDeps)).sort()).toEqual(
      [contactIdFor(legacy), contactIdFor(recent)].sort(),
    );
    for (const email of [legacy, recent]) {
      expect((await committed(h, contactIdFor(email))).flags.stale).toBe(true);
    }
    expect(difference(await readTally(h.funnel), before)).toEqual({ 'current:stale': 2 });
    expect(await ageContacts(ageDeps(h, strict))).toEqual({ queued: 0, rekey: false });
  });
});
