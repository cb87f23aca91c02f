import { expect } from 'vitest';
import { applyEvent } from '../../../lib/classify/apply-event.ts';
import { appConfigSchema } from '../../../lib/config/app-config.ts';
import { type LeadEventInput, leadEventSchema } from '../../../lib/domain/events.ts';
import { contactIdFor } from '../../../lib/store/keys.ts';
import { auth, classifyDepsFor, TEST_NOW, testApi } from './api.ts';
import { subscription } from './classify.ts';

/** Shared by the funnel, stage-changes and contact-deliveries route tests. */

export const ANNA = 'anna.schmidt@example.com';
export const annaId = contactIdFor(ANNA);
export const BOB = 'bob.builder@example.com';
export const bobId = contactIdFor(BOB);
export const CAROL = 'carol.old@example.com';
export const carolId = contactIdFor(CAROL);

/** Criteria Anna meets and Bob does not, so their stages differ. */
export const config = appConfigSchema.parse({
  qualification: { minEmployees: 50 },
});

export type Api = ReturnType<typeof testApi>;

/** A clock a minute later at every reading, from TEST_NOW: stage changes get distinct times. */
export function tickingClock(start = TEST_NOW.getTime()) {
  let time = start;
  return () => {
    time += 60_000;
    return new Date(time);
  };
}

export async function seed(api: Api, events: LeadEventInput[], now: () => Date): Promise<void> {
  const deps = classifyDepsFor(api, now);
  for (const input of events) await applyEvent(leadEventSchema.parse(input), deps);
}

/** Anna: a qualifying form, then a reply; Bob: a plain form, then a hard bounce; Carol: an old import. */
export const EVENTS: LeadEventInput[] = [
  {
    kind: 'form_submitted',
    id: 'evt_anna_form',
    occurredAt: '2025-03-01T10:00:00Z',
    email: ANNA,
    source: 'form:contact',
    formId: 'contact',
    profile: { name: 'Anna Schmidt', company: 'Schmidt Maschinenbau GmbH', employees: 120 },
  },
  {
    kind: 'form_submitted',
    id: 'evt_bob_form',
    occurredAt: '2025-03-01T10:05:00Z',
    email: BOB,
    source: 'form:contact',
    formId: 'contact',
    profile: { name: 'Bob Builder' },
  },
  {
    kind: 'email_replied',
    id: 'evt_anna_reply',
    occurredAt: '2025-03-01T11:00:00Z',
    email: ANNA,
    source: 'postmark',
    matchMethod: 'in_reply_to',
    excerpt: 'Yes, please call me on Monday.',
  },
  {
    kind: 'email_bounced',
    id: 'evt_bob_bounce',
    occurredAt: '2025-03-01T11:10:00Z',
    email: BOB,
    source: 'postmark',
    bounceType: 'hard',
  },
  {
    kind: 'contact_imported',
    id: 'evt_carol_import',
    occurredAt: '2024-01-10T09:00:00Z',
    email: CAROL,
    source: 'import',
    profile: { name: 'Carol Old', company: 'Dusty Archives' },
  },
];

/** The app with Anna, Bob and Carol classified, and one subscriber. */
export async function seededApi() {
  const api = testApi({ config });
  await api.subscriptions.put(subscription('sub_a'));
  await seed(api, EVENTS, tickingClock());
  return api;
}

export async function getJson<T = Record<string, unknown>>(api: Api, path: string): Promise<T> {
  const response = await api.app.request(path, { headers: auth });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/json\b/);
  return (await response.json()) as T;
}

export interface Page<T = Record<string, unknown>> {
  items: T[];
  nextCursor?: string;
}
