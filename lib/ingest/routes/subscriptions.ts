import { randomUUID } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import { generateSigningSecret } from '../../delivery/sign.ts';
import { checkWebhookTargetResolved } from '../../delivery/target-policy.ts';
import type { SubscriptionRecord } from '../../store/subscription-store.ts';
import { apiKeyAuth } from '../api-key-auth.ts';
import type { ApiDeps } from '../deps.ts';
import { problem } from '../problem.ts';
import { createRouter } from '../router.ts';
import { problemResponse } from '../schemas.ts';

const createBodySchema = z
  .object({
    url: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .openapi({ example: 'https://crm.example.com/hooks/leadstage' }),
  })
  .openapi('SubscriptionCreate');

const subscriptionSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    enabled: z.boolean(),
    createdAt: z.string(),
  })
  .openapi('Subscription');

const createdSchema = subscriptionSchema
  .extend({
    secret: z
      .string()
      .openapi({ description: 'The signing secret (`whsec_...`). Shown only here, once.' }),
  })
  .openapi('SubscriptionCreated');

const idParams = z.object({ id: z.string().min(1).max(64) });
const security = [{ bearerAuth: [] }];
const unauthorized = problemResponse('Missing or invalid API key.');
const notFound = problemResponse('No subscription with this id.');

const createSubscriptionRoute = createRoute({
  method: 'post',
  path: '/v1/subscriptions',
  summary: 'Subscribe a URL to stage changes',
  security,
  request: {
    body: { required: true, content: { 'application/json': { schema: createBodySchema } } },
  },
  responses: {
    201: {
      description: 'Created; the secret is in this response only.',
      content: { 'application/json': { schema: createdSchema } },
    },
    400: problemResponse('The body is not valid, or the URL is not an allowed target.'),
    401: unauthorized,
  },
});

const getSubscriptionRoute = createRoute({
  method: 'get',
  path: '/v1/subscriptions/{id}',
  summary: 'Get a subscription',
  security,
  request: { params: idParams },
  responses: {
    200: {
      description: 'The subscription (without its secret).',
      content: { 'application/json': { schema: subscriptionSchema } },
    },
    401: unauthorized,
    404: notFound,
  },
});

const deleteSubscriptionRoute = createRoute({
  method: 'delete',
  path: '/v1/subscriptions/{id}',
  summary: 'Delete a subscription',
  security,
  request: { params: idParams },
  responses: {
    204: { description: 'Deleted; its undelivered webhooks are cancelled.' },
    401: unauthorized,
    404: notFound,
  },
});

function publicView(subscription: SubscriptionRecord) {
  return {
    id: subscription.id,
    url: subscription.url,
    enabled: subscription.enabled,
    createdAt: subscription.createdAt,
  };
}

/** `/v1/subscriptions`: the CRM endpoints that receive signed stage changes (API key). */
export function subscriptionRoutes(deps: ApiDeps) {
  const router = createRouter();
  router.use('/v1/subscriptions', apiKeyAuth(deps.apiKeyHashes));
  router.use('/v1/subscriptions/*', apiKeyAuth(deps.apiKeyHashes));
  const notFoundProblem = (id: string) => ({
    type: '/problems/not-found',
    title: 'Not found',
    detail: `No subscription with id "${id}".`,
  });

  return router
    .openapi(createSubscriptionRoute, async (c) => {
      const { url } = c.req.valid('json');
      // Resolved now and again at every send: the address checked is the address connected to.
      const refusal = await checkWebhookTargetResolved(url, {
        allowLocal: deps.allowLocalWebhookTargets,
        ...(deps.webhookResolver ? { resolver: deps.webhookResolver } : {}),
      });
      if (refusal !== undefined) {
        return problem(c, 400, {
          type: '/problems/validation',
          title: 'Invalid request',
          detail: 'The webhook URL is not an allowed target.',
          errors: [{ pointer: '#/url', detail: refusal }],
        });
      }
      const subscription: SubscriptionRecord = {
        id: `sub_${randomUUID().replaceAll('-', '')}`,
        url,
        secret: generateSigningSecret(),
        enabled: true,
        createdAt: deps.now().toISOString(),
      };
      await deps.subscriptions.put(subscription);
      deps.logger.info('subscription created', { subscriptionId: subscription.id });
      return c.json({ ...publicView(subscription), secret: subscription.secret }, 201);
    })
    .openapi(getSubscriptionRoute, async (c) => {
      const { id } = c.req.valid('param');
      const subscription = await deps.subscriptions.get(id);
      if (subscription === undefined) return problem(c, 404, notFoundProblem(id));
      return c.json(publicView(subscription), 200);
    })
    .openapi(deleteSubscriptionRoute, async (c) => {
      const { id } = c.req.valid('param');
      if (!(await deps.subscriptions.delete(id))) return problem(c, 404, notFoundProblem(id));
      deps.logger.info('subscription deleted', { subscriptionId: id });
      return c.body(null, 204);
    });
}
