/*
 * The admin lists the funnel page reads, on the real index and partition queries: recent
 * stage changes across contacts (the stageChanges index, one partition per stage, merged),
 * and a contact's deliveries (its partition, sorted by time). The memory adapters must agree.
 */
import { describe, expect, it } from 'vitest';
import { STAGES, type Stage } from '../../../lib/domain/stage.ts';
import type { StageChange } from '../../../lib/store/contact-store.ts';
import { InvalidCursorError } from '../../../lib/store/cursor.ts';
import { DynamoDeliveryStore } from '../../../lib/store/delivery-store.ts';
import { DynamoHistoryStore, type HistoryStore } from '../../../lib/store/history-store.ts';
import { contactIdFor } from '../../../lib/store/keys.ts';
import { MemoryDeliveryStore, MemoryHistoryStore } from '../../../lib/store/memory-stores.ts';
import { dynamoBackends, useDynamoTable } from '../../support/dynamo-backends.ts';
import { deliveryRecord } from './fixtures.ts';

/** 3 contacts x 4 changes, a minute apart and interleaved, through every stage. */
function changes(): StageChange[] {
  const out: StageChange[] = [];
  const path: Stage[] = ['lead', 'qualified', 'prospect', 'sales_ready'];
  for (let c = 0; c < 3; c++) {
    const contactId = contactIdFor(`list${c}@example.com`);
    path.forEach((to, i) => {
      out.push({
        contactId,
        sequence: i + 1,
        from: i === 0 ? null : (path[i - 1] as Stage),
        to,
        direction: i === 0 ? 'initial' : 'forward',
        reasons: [{ code: `r_${to}`, message: `Reached ${to}.` }],
        missing: i < 2 ? ['budget'] : [],
        flags: { contactable: true, stale: false, cadenceExceeded: false },
        at: new Date(Date.parse('2025-03-01T08:00:00.000Z') + (i * 3 + c) * 60_000).toISOString(),
        causedBy: `evt_${c}_${i}`,
      });
    });
  }
  // Two changes at the same instant: ties are broken by contact and sequence.
  out.push({ ...(out[0] as StageChange), contactId: contactIdFor('tie@example.com') });
  return out;
}

async function everyPage(store: HistoryStore, stage: Stage | undefined, limit: number) {
  const items = [];
  let cursor: string | undefined;
  do {
    const page = await store.recentStageChanges({
      limit,
      ...(stage ? { stage } : {}),
      ...(cursor ? { cursor } : {}),
    });
    expect(page.items.length).toBeLessThanOrEqual(limit);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return items;
}

describe.each(dynamoBackends)('admin lists on $name', (backend) => {
  const table = useDynamoTable(backend, 'admin_lists');

  it('recent stage changes: newest first, by stage, paged, as the memory store lists them', async () => {
    const dynamo = new DynamoHistoryStore(table().doc, table().tableName);
    const memory = new MemoryHistoryStore();
    for (const change of changes()) {
      const contact = { email: `${change.contactId}@example.com`, summary: { name: 'Ada' } };
      await dynamo.putStageChange(change, contact);
      await memory.putStageChange(change, contact);
    }
    const all = await everyPage(dynamo, undefined, 100);
    expect(all).toHaveLength(13);
    const ats = all.map((change) => change.at);
    expect(ats).toEqual([...ats].sort().reverse());
    expect(all[0]).toMatchObject({ to: 'sales_ready', email: expect.any(String) });
    expect(all[0]?.summary).toEqual({ name: 'Ada' });
    expect(all[0]).not.toHaveProperty('gsi4pk');
    expect(await everyPage(memory, undefined, 100)).toEqual(all);
    for (const limit of [1, 2, 5]) expect(await everyPage(dynamo, undefined, limit)).toEqual(all);
    for (const stage of STAGES) {
      const only = all.filter((change) => change.to === stage);
      expect(await everyPage(dynamo, stage, 2)).toEqual(only);
      expect(await everyPage(memory, stage, 2)).toEqual(only);
    }
    // The per-contact history does not show the list's extra fields.
    const history = await dynamo.stageHistory(all[0]?.contactId as string, { limit: 10 });
    expect(history.items[0]).not.toHaveProperty('email');
    expect(history.items[0]).not.toHaveProperty('gsi4sk');
    await expect(
      dynamo.recentStageChanges({ limit: 5, cursor: 'eyJiZWZvcmUiOiJ4In0' }),
    ).rejects.toBeInstanceOf(InvalidCursorError);
  });

  it("a contact's deliveries: newest first, paged, its own only, as the memory store lists them", async () => {
    const dynamo = new DynamoDeliveryStore(table().doc, table().tableName);
    const memory = new MemoryDeliveryStore();
    const contactId = contactIdFor('deliveries@example.com');
    const other = contactIdFor('other@example.com');
    for (let i = 0; i < 7; i++) {
      for (const owner of [contactId, other]) {
        const record = {
          ...deliveryRecord(`msg_${owner.slice(3)}_${String(i).padStart(12, '0')}`),
          contactId: owner,
          // Not in id order: the list sorts by time.
          createdAt: new Date(
            Date.parse('2025-03-01T08:00:00.000Z') + ((i * 5) % 7) * 60_000,
          ).toISOString(),
        };
        await dynamo.putIfAbsent(record);
        await memory.putIfAbsent(record);
      }
    }
    const all = (await dynamo.listByContact(contactId, { limit: 100 })).items;
    expect(all).toHaveLength(7);
    expect(all.every((item) => item.contactId === contactId)).toBe(true);
    const times = all.map((item) => item.createdAt);
    expect(times).toEqual([...times].sort().reverse());
    expect(all[0]).not.toHaveProperty('message');
    expect(all[0]?.eventType).toBe('contact.stage_changed');
    expect((await memory.listByContact(contactId, { limit: 100 })).items).toEqual(all);
    const paged = [];
    let cursor: string | undefined;
    do {
      const page = await dynamo.listByContact(contactId, {
        limit: 3,
        ...(cursor ? { cursor } : {}),
      });
      paged.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    expect(paged).toEqual(all);
  });
});
