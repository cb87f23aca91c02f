import { createRoute, z } from '@hono/zod-openapi';
import { STAGES } from '../../domain/stage.ts';
import type { ListedStageChange } from '../../store/history-store.ts';
import { apiKeyAuth } from '../api-key-auth.ts';
import type { ApiDeps } from '../deps.ts';
import { createRouter } from '../router.ts';
import {
  answerPage,
  bearerSecurity,
  contactNameFields,
  jsonResponse,
  pageOf,
  pageQuery,
  problemResponse,
  stageChangeFields,
  unauthorizedResponse,
} from '../schemas.ts';

const recentChangeSchema = z
  .object({
    contactId: z.string(),
    email: z.string(),
    ...contactNameFields,
    ...stageChangeFields,
  })
  .openapi('RecentStageChange');

const recentChangesRoute = createRoute({
  method: 'get',
  path: '/v1/stage-changes',
  summary: 'Recent stage changes of every contact, newest first',
  description:
    'Each change with its reasons and what is missing; `stage` keeps only the changes TO that ' +
    "stage. Email and name are the contact's as of the change. Erased contacts' changes are gone.",
  security: bearerSecurity,
  request: {
    query: z.object({
      stage: z.enum(STAGES).optional(),
      ...pageQuery,
    }),
  },
  responses: {
    200: jsonResponse(
      pageOf(recentChangeSchema, 'RecentStageChangePage'),
      'One page of stage changes.',
    ),
    400: problemResponse('Bad stage, limit or cursor.'),
    401: unauthorizedResponse,
  },
});

function listItem(change: ListedStageChange) {
  return {
    contactId: change.contactId,
    email: change.email,
    ...change.summary,
    sequence: change.sequence,
    from: change.from,
    to: change.to,
    direction: change.direction,
    reasons: change.reasons,
    missing: change.missing,
    at: change.at,
    causedBy: change.causedBy,
  };
}

/** `GET /v1/stage-changes` (API key). */
export function stageChangeRoutes(deps: ApiDeps) {
  const router = createRouter();
  router.use('/v1/stage-changes', apiKeyAuth(deps.apiKeyHashes));
  return router.openapi(recentChangesRoute, async (c) => {
    const { stage, limit, cursor } = c.req.valid('query');
    return answerPage(
      c,
      () =>
        deps.history.recentStageChanges({
          limit,
          ...(stage !== undefined ? { stage } : {}),
          ...(cursor !== undefined ? { cursor } : {}),
        }),
      listItem,
    );
  });
}
