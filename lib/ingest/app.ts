import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { renderApiReference } from './api-reference.ts';
import type { ApiDeps } from './deps.ts';
import { problem } from './problem.ts';
import { contactRoutes } from './routes/contacts.ts';
import { deadLetterRoutes } from './routes/dead-letters.ts';
import { emailWebhookRoutes } from './routes/email-webhooks.ts';
import { eventRoutes } from './routes/events.ts';
import { formRoutes } from './routes/forms.ts';
import { funnelRoutes } from './routes/funnel.ts';
import { healthRoutes } from './routes/health.ts';
import { stageChangeRoutes } from './routes/stage-changes.ts';
import { subscriptionRoutes } from './routes/subscriptions.ts';
import { uiRoutes } from './routes/ui.ts';

/** Requests larger than this are refused with 413 before they are parsed. */
export const MAX_BODY_BYTES = 256 * 1024;

/**
 * The whole HTTP API as one Hono app: the same app runs on `@hono/node-server` locally
 * and behind API Gateway through `hono/aws-lambda`.
 */
export function createApp(deps: ApiDeps): OpenAPIHono {
  const app = new OpenAPIHono();

  app.use(
    '/v1/*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) =>
        problem(c, 413, {
          type: '/problems/payload-too-large',
          title: 'Payload too large',
          detail: `The body exceeds ${MAX_BODY_BYTES} bytes.`,
        }),
    }),
  );

  app.route('/', uiRoutes());
  app.route('/', healthRoutes());
  app.route('/', formRoutes(deps));
  app.route('/', subscriptionRoutes(deps));
  app.route('/', emailWebhookRoutes(deps));
  app.route('/', eventRoutes(deps));
  app.route('/', contactRoutes(deps));
  app.route('/', funnelRoutes(deps));
  app.route('/', stageChangeRoutes(deps));
  app.route('/', deadLetterRoutes(deps));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
  });
  const documentConfig = {
    openapi: '3.1.0',
    info: {
      title: 'Leadstage API',
      version: '0.1.0',
      description:
        'Website forms, email-provider webhooks and sales activity in; explained funnel stages out.',
    },
  };
  app.doc31('/openapi.json', documentConfig);
  let reference: string | undefined;
  app.get('/docs', (c) => {
    reference ??= renderApiReference(
      app.getOpenAPI31Document(documentConfig) as unknown as Record<string, unknown>,
    );
    return c.html(reference);
  });

  app.notFound((c) =>
    problem(c, 404, {
      type: '/problems/not-found',
      title: 'Not found',
      detail: `No route for ${c.req.method} ${c.req.path}.`,
    }),
  );

  app.onError((error, c) => {
    if (error instanceof HTTPException && error.status < 500) {
      // Hono's validators throw these for bodies they cannot read: malformed JSON (400), a
      // content type the route does not take (415).
      if (error.status === 415) {
        return problem(c, 415, {
          type: '/problems/unsupported-media-type',
          title: 'Unsupported media type',
          detail: error.message,
        });
      }
      return problem(c, error.status as 400, {
        type: '/problems/bad-request',
        title: 'Bad request',
        detail: error.message,
        errors: [{ pointer: '#', detail: error.message }],
      });
    }
    deps.logger.error('request failed', { method: c.req.method, path: c.req.routePath, error });
    return problem(c, 500, {
      type: '/problems/internal',
      title: 'Internal error',
      detail: 'The request could not be completed; it is safe to retry.',
    });
  });

  return app;
}
