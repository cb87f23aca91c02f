import { createRoute, z } from '@hono/zod-openapi';
import { eraseContact } from '../../classify/erase-contact.ts';
import { crmValuesFor } from '../../domain/crm.ts';
import { normalizeEmail } from '../../domain/events.ts';
import { STAGES } from '../../domain/stage.ts';
import { type ContactSummary, summaryOf } from '../../store/contact-directory.ts';
import type { ContactRecord } from '../../store/contact-store.ts';
import type { DeliverySummary } from '../../store/delivery-store.ts';
import { contactIdFor } from '../../store/keys.ts';
import { apiKeyAuth } from '../api-key-auth.ts';
import type { ApiDeps } from '../deps.ts';
import { problem } from '../problem.ts';
import { createRouter } from '../router.ts';
import {
  answerPage,
  bearerSecurity,
  contactNameFields,
  deliverySchema,
  deliveryView,
  jsonResponse,
  pageOf,
  pageQuery,
  problemResponse,
  reasonSchema,
  stageChangeFields,
  unauthorizedResponse,
} from '../schemas.ts';

const contactIdParam = z.object({
  id: z
    .string()
    .regex(/^ct_[0-9a-f]{24}$/, 'a contact id such as ct_97f63aac346999c85faa4657')
    .openapi({ example: 'ct_97f63aac346999c85faa4657' }),
});
const flagsSchema = z.object({
  contactable: z.boolean(),
  stale: z.boolean(),
  cadenceExceeded: z.boolean(),
});

const contactSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    stage: z.enum(STAGES),
    stageChangedAt: z.string(),
    reasons: z.array(reasonSchema),
    missing: z.array(z.string()),
    qualification: z.string(),
    flags: flagsSchema,
    sequence: z.number().int(),
    crm: z.object({
      hubspot: z.object({ lifecycleStage: z.string(), leadStatus: z.string() }),
      salesforce: z.object({ leadStatus: z.string() }),
    }),
    profile: z.record(z.string(), z.unknown()),
    facts: z.object({
      counts: z.record(z.string(), z.number()),
      first: z.record(z.string(), z.string()),
      last: z.record(z.string(), z.string()),
      firstSeenAt: z.string(),
      lastSeenAt: z.string(),
      consent: z.unknown().optional(),
      attribution: z.unknown().optional(),
      replyMatch: z.string().optional(),
    }),
    updatedAt: z.string(),
  })
  .openapi('Contact');

const contactSummarySchema = z
  .object({
    id: z.string(),
    email: z.string(),
    stage: z.enum(STAGES),
    stageChangedAt: z.string(),
    flags: flagsSchema,
    qualification: z.string(),
    ...contactNameFields,
  })
  .openapi('ContactSummary');

const timelineEntrySchema = z
  .object({
    eventId: z.string(),
    kind: z.string(),
    source: z.string(),
    occurredAt: z.string(),
    appliedAt: z.string(),
    details: z.record(z.string(), z.unknown()),
  })
  .openapi('TimelineEntry');

const stageChangeSchema = z
  .object({ ...stageChangeFields, flags: flagsSchema })
  .openapi('StageChange');

/**
 * The `Delivery` of a subscription's delivery list, plus `subscriptionId` (a contact's
 * deliveries go to every subscriber).
 */
// Spread rather than `.extend()`: an extended component is an `allOf`, which /docs shows empty.
const contactDeliverySchema = z
  .object({ ...deliverySchema.shape, subscriptionId: z.string() })
  .openapi('ContactDelivery');

const notFound = problemResponse('No contact with this id (or it was erased).');

const getContactRoute = createRoute({
  method: 'get',
  path: '/v1/contacts/{id}',
  summary: 'A contact: stage, reasons, missing data, flags, profile and facts',
  security: bearerSecurity,
  request: { params: contactIdParam },
  responses: {
    200: jsonResponse(contactSchema, 'The contact.'),
    400: problemResponse('Not a contact id.'),
    401: unauthorizedResponse,
    404: notFound,
  },
});

const listContactsRoute = createRoute({
  method: 'get',
  path: '/v1/contacts',
  summary: 'Find a contact by email, or list the contacts in a stage (newest first)',
  security: bearerSecurity,
  request: {
    query: z.object({
      email: z.string().min(1).max(254).optional().openapi({ example: 'anna.schmidt@example.com' }),
      stage: z.enum(STAGES).optional(),
      ...pageQuery,
    }),
  },
  responses: {
    200: jsonResponse(pageOf(contactSummarySchema, 'ContactPage'), 'One page of contacts.'),
    400: problemResponse('Neither `email` nor `stage` given, or a bad cursor.'),
    401: unauthorizedResponse,
  },
});

const timelineRoute = createRoute({
  method: 'get',
  path: '/v1/contacts/{id}/timeline',
  summary: "A contact's events, newest first",
  security: bearerSecurity,
  request: { params: contactIdParam, query: z.object(pageQuery) },
  responses: {
    200: jsonResponse(pageOf(timelineEntrySchema, 'TimelinePage'), 'One page of the timeline.'),
    400: problemResponse('Bad cursor.'),
    401: unauthorizedResponse,
    404: notFound,
  },
});

const stageHistoryRoute = createRoute({
  method: 'get',
  path: '/v1/contacts/{id}/stage-history',
  summary: "A contact's stage changes, oldest first",
  security: bearerSecurity,
  request: { params: contactIdParam, query: z.object(pageQuery) },
  responses: {
    200: jsonResponse(
      pageOf(stageChangeSchema, 'StageHistoryPage'),
      'One page of the stage history.',
    ),
    400: problemResponse('Bad cursor.'),
    401: unauthorizedResponse,
    404: notFound,
  },
});

const contactDeliveriesRoute = createRoute({
  method: 'get',
  path: '/v1/contacts/{id}/deliveries',
  summary: "The deliveries of a contact's changes, newest first",
  description:
    'Every webhook made for this contact (stage changes, not-contactable notices), to every ' +
    'subscriber; items as in `GET /v1/subscriptions/{id}/deliveries`.',
  security: bearerSecurity,
  request: { params: contactIdParam, query: z.object(pageQuery) },
  responses: {
    200: jsonResponse(
      pageOf(contactDeliverySchema, 'ContactDeliveryPage'),
      'One page of deliveries.',
    ),
    400: problemResponse('Bad limit or cursor.'),
    401: unauthorizedResponse,
    404: notFound,
  },
});

const eraseRoute = createRoute({
  method: 'delete',
  path: '/v1/contacts/{id}',
  summary: 'Erase a contact (GDPR Art. 17)',
  description:
    'Deletes the contact, its timeline, stage history and deliveries, keeps only a marker without ' +
    'personal data, and sends `contact.erased` to every subscriber. Later webhooks about the ' +
    'person are dropped unless they are a fresh opt-in (form, consent, import) made after the erasure.',
  security: bearerSecurity,
  request: { params: contactIdParam },
  responses: {
    204: { description: 'Erased (or already erased).' },
    401: unauthorizedResponse,
    404: problemResponse('No contact with this id.'),
  },
});

function contactView(contact: ContactRecord, deps: ApiDeps) {
  const { facts } = contact;
  return {
    id: contact.contactId,
    email: contact.email,
    stage: contact.stage,
    stageChangedAt: contact.stageChangedAt,
    reasons: contact.reasons,
    missing: contact.missing,
    qualification: contact.qualification,
    flags: contact.flags,
    sequence: contact.sequence,
    crm: crmValuesFor(contact.stage, deps.config.crm),
    profile: Object.fromEntries(
      Object.entries(facts.profile).map(([field, stamped]) => [field, stamped?.value]),
    ),
    facts: {
      counts: facts.counts as Record<string, number>,
      first: facts.first as Record<string, string>,
      last: facts.last as Record<string, string>,
      firstSeenAt: facts.firstSeenAt,
      lastSeenAt: facts.lastSeenAt,
      ...(facts.consent ? { consent: { ...facts.consent.value, at: facts.consent.at } } : {}),
      ...(facts.attribution
        ? {
            attribution: {
              first: facts.attribution.first.value,
              last: facts.attribution.last.value,
            },
          }
        : {}),
      ...(facts.replyMatch ? { replyMatch: facts.replyMatch.value } : {}),
    },
    updatedAt: contact.updatedAt,
  };
}

/** A list entry of `GET /v1/contacts`: the summary, flattened. */
function listItem(item: ContactSummary) {
  return {
    id: item.contactId,
    email: item.email,
    stage: item.stage,
    stageChangedAt: item.stageChangedAt,
    flags: item.flags,
    qualification: item.qualification,
    ...item.summary,
  };
}

const notFoundProblem = (id: string) => ({
  type: '/problems/not-found',
  title: 'Not found',
  detail: `No contact with id "${id}".`,
});

/** A `ContactDelivery`: the `Delivery` with its subscription after the contact. */
function contactDeliveryView(summary: DeliverySummary) {
  const { deliveryId, contactId, ...rest } = deliveryView(summary);
  return { deliveryId, contactId, subscriptionId: summary.subscriptionId, ...rest };
}

/** `/v1/contacts`: read contacts, their timeline, stage history and deliveries, and erase them (API key). */
export function contactRoutes(deps: ApiDeps) {
  const router = createRouter();
  router.use('/v1/contacts', apiKeyAuth(deps.apiKeyHashes));
  router.use('/v1/contacts/*', apiKeyAuth(deps.apiKeyHashes));

  return router
    .openapi(listContactsRoute, async (c) => {
      const { email, stage, limit, cursor } = c.req.valid('query');
      if (email !== undefined) {
        const contact = await deps.contacts.get(contactIdFor(normalizeEmail(email)));
        // The same summary as a stage list shows: not the whole profile.
        const items = contact === undefined ? [] : [listItem(summaryOf(contact))];
        return c.json({ items }, 200);
      }
      if (stage === undefined) {
        return problem(c, 400, {
          type: '/problems/validation',
          title: 'Invalid request',
          detail: 'Give `email` to find one contact or `stage` to list a stage.',
          errors: [{ pointer: '#/stage', detail: 'email or stage is required' }],
        });
      }
      return answerPage(
        c,
        () =>
          deps.directory.listByStage(stage, {
            limit,
            ...(cursor ? { cursor } : {}),
          }),
        listItem,
      );
    })
    .openapi(getContactRoute, async (c) => {
      const { id } = c.req.valid('param');
      const contact = await deps.contacts.get(id);
      if (contact === undefined) return problem(c, 404, notFoundProblem(id));
      return c.json(contactView(contact, deps), 200);
    })
    .openapi(timelineRoute, async (c) => {
      const { id } = c.req.valid('param');
      const { limit, cursor } = c.req.valid('query');
      if ((await deps.contacts.get(id)) === undefined) return problem(c, 404, notFoundProblem(id));
      return answerPage(
        c,
        () => deps.history.timeline(id, { limit, ...(cursor ? { cursor } : {}) }),
        ({ contactId: _contactId, ...entry }) => entry,
      );
    })
    .openapi(stageHistoryRoute, async (c) => {
      const { id } = c.req.valid('param');
      const { limit, cursor } = c.req.valid('query');
      if ((await deps.contacts.get(id)) === undefined) return problem(c, 404, notFoundProblem(id));
      return answerPage(
        c,
        () => deps.history.stageHistory(id, { limit, ...(cursor ? { cursor } : {}) }),
        ({ contactId: _contactId, ...change }) => change,
      );
    })
    .openapi(contactDeliveriesRoute, async (c) => {
      const { id } = c.req.valid('param');
      const { limit, cursor } = c.req.valid('query');
      if ((await deps.contacts.get(id)) === undefined) return problem(c, 404, notFoundProblem(id));
      return answerPage(
        c,
        () =>
          deps.deliveries.listByContact(id, {
            limit,
            ...(cursor ? { cursor } : {}),
          }),
        contactDeliveryView,
      );
    })
    .openapi(eraseRoute, async (c) => {
      const { id } = c.req.valid('param');
      const outcome = await eraseContact(id, deps);
      if (outcome === 'not_found') return problem(c, 404, notFoundProblem(id));
      return c.body(null, 204);
    });
}
