import { createRoute, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import type { FormConfig } from '../../config/app-config.ts';
import type { EventEnvelope } from '../../domain/events.ts';
import { clientIp } from '../client-ip.ts';
import type { ApiDeps } from '../deps.ts';
import { errorPage, thankYouPage } from '../forms/pages.ts';
import { FormBodyError, readFormBody } from '../forms/read-body.ts';
import { formEventId, formFieldsSchema, submissionToEvent } from '../forms/to-event.ts';
import { type FieldIssue, problem } from '../problem.ts';
import { createRouter } from '../router.ts';
import { problemResponse } from '../schemas.ts';

/** The fields every form understands (a form's `fields` mapping adds its own names). */
export const formSubmissionSchema = formFieldsSchema.openapi('FormSubmission', {
  example: {
    email: 'anna.schmidt@example.com',
    name: 'Anna Schmidt',
    company: 'Schmidt Maschinenbau GmbH',
    country: 'DE',
    consent: 'on',
    utm_source: 'newsletter',
  },
});

const acceptedSchema = z.object({ eventId: z.string() }).openapi('Accepted');

const submitRoute = createRoute({
  method: 'post',
  path: '/v1/forms/{formId}/submissions',
  summary: 'Submit a website form',
  description:
    'Accepts a lead from a website form and queues it; nothing is stored until it is classified. ' +
    "A browser posting a plain HTML form (Accept: text/html) is redirected (303) to the form's " +
    'thank-you URL, or on bad input to its error URL. Spam (honeypot, too fast) is answered like a success and dropped.',
  request: {
    params: z.object({ formId: z.string().min(1).max(64).openapi({ example: 'contact' }) }),
    headers: z.object({
      'idempotency-key': z.string().min(1).max(200).optional().openapi({
        description:
          'The same key on the same form gives the same event id: a retry is not counted twice.',
      }),
    }),
    body: {
      content: {
        'application/json': { schema: formSubmissionSchema },
        'application/x-www-form-urlencoded': { schema: formSubmissionSchema },
        'multipart/form-data': { schema: formSubmissionSchema },
      },
    },
  },
  responses: {
    202: { description: 'Queued.', content: { 'application/json': { schema: acceptedSchema } } },
    303: { description: 'Browser form: redirect to the thank-you (or error) page.' },
    400: problemResponse('The submission is not valid; `errors` names each field.'),
    404: problemResponse('No form with this id is configured.'),
    413: problemResponse('The body is too large.'),
    415: problemResponse('Not JSON, urlencoded or multipart.'),
  },
});

/** A browser posting a plain HTML form asks for HTML; scripts ask for JSON or anything. */
function wantsHtml(c: Context): boolean {
  const accept = c.req.header('accept') ?? '';
  return /\btext\/html\b/.test(accept) && !/^\s*application\/(problem\+)?json/.test(accept);
}

function redirect(c: Context, url: string): Response {
  return c.body(null, 303, { location: url, 'cache-control': 'no-store' });
}

/** CORS per form: an allowed origin may post with a script; any origin may post a plain form. */
function formCors(forms: Map<string, FormConfig>): MiddlewareHandler {
  return async (c, next) => {
    const form = forms.get(c.req.param('formId') ?? '');
    const origin = c.req.header('origin');
    const allowed =
      form !== undefined && origin !== undefined && form.allowedOrigins.includes(origin);
    if (c.req.method === 'OPTIONS') {
      if (!allowed) {
        return problem(c, 403, {
          type: '/problems/origin-not-allowed',
          title: 'Origin not allowed',
          detail:
            "This origin may not post to this form with a script; add it to the form's allowedOrigins.",
        });
      }
      return c.body(null, 204, {
        'access-control-allow-origin': origin,
        'access-control-allow-methods': 'POST, OPTIONS',
        'access-control-allow-headers': 'content-type, idempotency-key',
        'access-control-max-age': '600',
        vary: 'Origin',
      });
    }
    await next();
    if (allowed) {
      c.header('access-control-allow-origin', origin);
      c.header('vary', 'Origin', { append: true });
    }
  };
}

/** Refuses an unknown form before the body is read, so the answer is 404 whatever was sent. */
function requireKnownForm(forms: Map<string, FormConfig>): MiddlewareHandler {
  return async (c, next) => {
    const formId = c.req.param('formId') ?? '';
    if (!forms.has(formId)) {
      return problem(c, 404, {
        type: '/problems/unknown-form',
        title: 'Unknown form',
        detail: `No form with id "${formId}" is configured.`,
      });
    }
    await next();
  };
}

/** `POST /v1/forms/{formId}/submissions`: read, check for spam, validate, enqueue. */
export function formRoutes(deps: ApiDeps) {
  const forms = new Map(deps.config.forms.map((form) => [form.id, form]));
  const router = createRouter();
  router.use('/v1/forms/:formId/submissions', formCors(forms));
  router.use('/v1/forms/:formId/submissions', requireKnownForm(forms));

  router.get('/v1/forms/:formId/thanks', (c) =>
    forms.has(c.req.param('formId')) ? c.html(thankYouPage()) : c.notFound(),
  );

  const refuse = (
    c: Context,
    form: FormConfig,
    status: 400 | 415,
    detail: string,
    issues: FieldIssue[],
  ) => {
    if (wantsHtml(c)) {
      if (form.errorUrl !== undefined) {
        const target = new URL(form.errorUrl);
        target.searchParams.set('error', status === 415 ? 'unsupported' : 'invalid');
        const field = issues[0]?.pointer.replace(/^#\/?/, '');
        if (field) target.searchParams.set('field', field);
        return redirect(c, target.toString());
      }
      return c.html(errorPage(detail, issues), status);
    }
    return problem(c, status, {
      type: status === 415 ? '/problems/unsupported-media-type' : '/problems/validation',
      title: status === 415 ? 'Unsupported media type' : 'Invalid submission',
      detail,
      ...(issues.length > 0 ? { errors: issues } : {}),
    });
  };

  const accept = (c: Context, form: FormConfig, eventId: string) => {
    if (wantsHtml(c)) return redirect(c, form.thankYouUrl ?? `/v1/forms/${form.id}/thanks`);
    return c.json({ eventId }, 202);
  };

  // Documented in OpenAPI, but not validated by it: the body is read by hand (three
  // encodings, per-form field names), and spam must be answered like a success.
  router.openAPIRegistry.registerPath(submitRoute);
  router.post('/v1/forms/:formId/submissions', async (c) => {
    const form = forms.get(c.req.param('formId') ?? '') as FormConfig;
    const idempotencyKey = c.req.header('idempotency-key');
    let fields: Awaited<ReturnType<typeof readFormBody>>;
    try {
      fields = await readFormBody(c.req.raw);
    } catch (error) {
      if (!(error instanceof FormBodyError)) throw error;
      return refuse(
        c,
        form,
        error.status,
        error.message,
        error.status === 400 ? [{ pointer: '#', detail: error.message }] : [],
      );
    }
    const result = submissionToEvent(fields, {
      form,
      now: deps.now(),
      ...(idempotencyKey ? { idempotencyKey } : {}),
      ...(clientIp(c) ? { ip: clientIp(c) } : {}),
      ...(c.req.header('referer') ? { refererHeader: c.req.header('referer') } : {}),
    });
    if (!result.ok) {
      if ('spam' in result) {
        deps.logger.info('form submission dropped as spam', {
          formId: form.id,
          reason: result.reason,
        });
        return accept(c, form, formEventId(form.id, idempotencyKey));
      }
      return refuse(c, form, 400, 'The submission is not valid.', result.issues);
    }
    const envelope: EventEnvelope = { v: 1, event: result.event };
    await deps.ingestQueue.send(JSON.stringify(envelope));
    deps.logger.info('form submission queued', { formId: form.id, eventId: result.event.id });
    return accept(c, form, result.event.id);
  });
  return router;
}
