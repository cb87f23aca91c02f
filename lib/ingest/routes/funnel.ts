import { createRoute, z } from '@hono/zod-openapi';
import { FUNNEL_PATH, type PathStage, STAGES, type Stage } from '../../domain/stage.ts';
import { zeroPath, zeroStages } from '../../store/funnel-store.ts';
import { apiKeyAuth } from '../api-key-auth.ts';
import type { ApiDeps } from '../deps.ts';
import { problem } from '../problem.ts';
import { createRouter } from '../router.ts';
import { bearerSecurity, problemResponse, unauthorizedResponse } from '../schemas.ts';

/** The default period: the last 30 UTC days, today included. */
export const DEFAULT_PERIOD_DAYS = 30;
/** The longest period one request may ask for. */
export const MAX_PERIOD_DAYS = 366;
/** The steps of the funnel whose conversion rate is shown, in order. */
export const CONVERSION_STEPS: readonly (readonly [PathStage, PathStage])[] = [
  ['lead', 'qualified'],
  ['qualified', 'prospect'],
  ['prospect', 'sales_ready'],
];

const DAY_MS = 86_400_000;

const daySchema = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a UTC day as YYYY-MM-DD')
  // Before 1970 nothing was counted, and Date cannot print years past 9999 as four digits.
  .refine((day) => day >= '1970-01-01', 'a day in the years 1970 to 9999')
  .refine((day) => {
    const time = Date.parse(`${day}T00:00:00.000Z`);
    return Number.isFinite(time) && new Date(time).toISOString().slice(0, 10) === day;
  }, 'not a calendar day');

const stageCounts = z.object(
  Object.fromEntries(STAGES.map((stage) => [stage, z.number().int()])) as Record<
    Stage,
    z.ZodNumber
  >,
);

const pathCounts = z.object(
  Object.fromEntries(FUNNEL_PATH.map((stage) => [stage, z.number().int()])) as Record<
    PathStage,
    z.ZodNumber
  >,
);

const funnelSchema = z
  .object({
    stages: stageCounts.openapi({ description: 'Current contacts per stage (not erased).' }),
    total: z.number().int().openapi({ description: 'Current contacts (not erased).' }),
    notContactable: z
      .number()
      .int()
      .openapi({ description: 'Current contacts whose `flags.contactable` is false.' }),
    stale: z.number().int().openapi({
      description: 'Current contacts whose `flags.stale` is true (as of their last event).',
    }),
    period: z.object({ from: z.string(), to: z.string() }),
    entered: stageCounts.openapi({
      description:
        'Stage changes into each stage during the period (UTC days, both ends included).',
    }),
    reached: pathCounts.openapi({
      description:
        'Forward stage changes during the period that reached each stage of the path lead < ' +
        'qualified < prospect < sales_ready, from below it to it or beyond: a lead going ' +
        'straight to prospect reaches qualified and prospect; a new contact reaches lead. ' +
        'Moves back and into `disqualified` reach nothing.',
    }),
    conversions: z
      .array(
        z.object({
          from: z.enum(FUNNEL_PATH),
          to: z.enum(FUNNEL_PATH),
          rate: z
            .number()
            .nullable()
            .openapi({
              description:
                '`reached[to] / reached[from]`, two decimals: of the changes that reached `from`, ' +
                'the share of those that reached `to` or beyond; null when `reached[from]` is 0.',
            }),
        }),
      )
      .openapi({ description: 'lead -> qualified -> prospect -> sales_ready, step by step.' }),
  })
  .openapi('Funnel');

const funnelRoute = createRoute({
  method: 'get',
  path: '/v1/funnel',
  summary: 'Contacts per stage now, and stage changes and conversion rates in a period',
  description:
    'Read from counters kept with every stage change (no scan): current counts per stage, not ' +
    'contactable and stale, and per UTC day the changes into each stage and the forward ' +
    'changes that reached each stage of the path (conversions divide these). The period defaults ' +
    `to the last ${DEFAULT_PERIOD_DAYS} days up to today (UTC) and spans at most ${MAX_PERIOD_DAYS} days.`,
  security: bearerSecurity,
  request: {
    query: z.object({
      from: daySchema.optional().openapi({ example: '2026-10-28' }),
      to: daySchema.optional().openapi({ example: '2026-11-26' }),
    }),
  },
  responses: {
    200: { description: 'The funnel.', content: { 'application/json': { schema: funnelSchema } } },
    400: problemResponse(
      'A bad day (not YYYY-MM-DD in the years 1970 to 9999), `from` after `to` (or after today ' +
        'when `to` is absent), or a period longer than 366 days.',
    ),
    401: unauthorizedResponse,
  },
});

const dayOf = (time: number) => new Date(time).toISOString().slice(0, 10);
const timeOf = (day: string) => Date.parse(`${day}T00:00:00.000Z`);

/** `numerator / denominator` to two decimals; null when nothing reached the step's start. */
export function conversionRate(numerator: number, denominator: number): number | null {
  return denominator === 0 ? null : Math.round((numerator / denominator) * 100) / 100;
}

/** `GET /v1/funnel` (API key). */
export function funnelRoutes(deps: ApiDeps) {
  const router = createRouter();
  router.use('/v1/funnel', apiKeyAuth(deps.apiKeyHashes));
  return router.openapi(funnelRoute, async (c) => {
    const query = c.req.valid('query');
    const today = dayOf(deps.now().getTime());
    const to = query.to ?? today;
    const from = query.from ?? dayOf(timeOf(to) - (DEFAULT_PERIOD_DAYS - 1) * DAY_MS);
    const days = (timeOf(to) - timeOf(from)) / DAY_MS + 1;
    if (days < 1 || days > MAX_PERIOD_DAYS) {
      // Without `to` the period ends today: say so, not "after `to`".
      const end = query.to === undefined ? 'today' : '`to`';
      return problem(c, 400, {
        type: '/problems/validation',
        title: 'Invalid request',
        detail:
          days < 1
            ? `\`from\` is after ${end}.`
            : `The period spans ${days} days; at most ${MAX_PERIOD_DAYS} are allowed.`,
        errors: [
          {
            pointer: '#/from',
            detail: days < 1 ? `after ${end}` : `more than ${MAX_PERIOD_DAYS} days before ${end}`,
          },
        ],
      });
    }
    const [current, byDay] = await Promise.all([
      deps.funnel.current(),
      deps.funnel.enteredByDay(from, to),
    ]);
    const entered = zeroStages();
    const reached = zeroPath();
    for (const day of byDay) {
      for (const stage of STAGES) entered[stage] += day.entered[stage];
      for (const stage of FUNNEL_PATH) reached[stage] += day.reached[stage];
    }
    const stages = zeroStages();
    for (const stage of STAGES) stages[stage] = current[stage];
    return c.json(
      {
        stages,
        total: current.total,
        notContactable: current.notContactable,
        stale: current.stale,
        period: { from, to },
        entered,
        reached,
        conversions: CONVERSION_STEPS.map(([start, end]) => ({
          from: start,
          to: end,
          rate: conversionRate(reached[end], reached[start]),
        })),
      },
      200,
    );
  });
}
