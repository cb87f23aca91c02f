import { createRoute, z } from '@hono/zod-openapi';
import { STAGES } from '../../domain/stage.ts';
import { InvalidCursorError } from '../../store/cursor.ts';
import type { ListedStageChange } from '../../store/history-store.ts';
import { apiKeyAuth } from '../api-key-auth.ts';
import type { ApiDeps } from '../deps.ts';
import { problem } from '../problem.ts';
import { createRouter } from '../router.ts';
import { problemResponse } from '../schemas.ts';

const reasonSchema = z.object({ code: z.string(), message: z.string() });

const recentChangeSchema = z
  .object({
    contactId: z.string(),
    email: z.string(),
    name: z.string().optional(),
    firstName: z.string().optional(),
    lastName: z.string().optional(),
    company: z.string().optional(),
    sequence: z.number().int(),
    from: z.enum(STAGES).nullable(),
    to: z.enum(STAGES),
    direction: z.string(),
    reasons: z.array(reasonSchema),
    missing: z.array(z.string()),
    at: z.string(),
    causedBy: z.string().openapi({ description: 'The id of the event that caused the change.' }),
  })
  .openapi('RecentStageChange');

const recentChangesRoute = createRoute({
  method: 'get',
  path: '/v1/stage-changes',
  summary: 'Recent stage changes of every contact, newest first',
  description:
    'Each change with its reasons and what is missing; `stage` keeps only the changes TO that ' +
    "stage. Email and name are the contact's as of the change. Erased contacts' changes are gone.",
  security: [{ bearerAuth: [] }],
  request: {
    query: z.object({
      stage: z.enum(STAGES).optional(),
      limit: z.coerce.number().int().min(1).max(100).default(25),
      cursor: z
        .string()
        .max(2048)
        .optional()
        .openapi({ description: 'The `nextCursor` of the previous page' }),
    }),
  },
  responses: {
    200: {
      description: 'One page of stage changes.',
      content: {
        'application/json': {
          schema: z
            .object({ items: z.array(recentChangeSchema), nextCursor: z.string().optional() })
            .openapi('RecentStageChangePage'),
        },
      },
    },
    400: problemResponse('Bad stage, limit or cursor.'),
    401: problemResponse('Missing or invalid API key.'),
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
    try {
      const page = await deps.history.recentStageChanges({
        limit,
        ...(stage !== undefined ? { stage } : {}),
        ...(cursor !== undefined ? { cursor } : {}),
      });
      return c.json(
        {
          items: page.items.map(listItem),
          ...(page.nextCursor !== undefined ? { nextCursor: page.nextCursor } : {}),
        },
        200,
      );
    } catch (error) {
      if (error instanceof InvalidCursorError) {
        return problem(c, 400, {
          type: '/problems/invalid-cursor',
          title: 'Invalid cursor',
          detail: 'The cursor is not one this list handed out; start again without it.',
          errors: [{ pointer: '#/cursor', detail: 'not valid for this list' }],
        });
      }
      throw error;
    }
  });
}
