import { createRoute, z } from '@hono/zod-openapi';
import { createRouter } from '../router.ts';

const healthRoute = createRoute({
  method: 'get',
  path: '/healthz',
  summary: 'Liveness check',
  responses: {
    200: {
      description: 'The API answers.',
      content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } },
    },
  },
});

/** `GET /healthz`: answers without touching storage, so a load balancer can poll it cheaply. */
export function healthRoutes() {
  return createRouter().openapi(healthRoute, (c) => c.json({ status: 'ok' as const }, 200));
}
