import { OpenAPIHono } from '@hono/zod-openapi';
import { validationProblem } from './problem.ts';

/**
 * A sub-app whose validation failures answer as problem+json. Every route module makes
 * its router here so no route can answer a zod failure any other way.
 */
export function createRouter(): OpenAPIHono {
  return new OpenAPIHono({
    defaultHook: (result, c) => {
      if (!result.success) {
        const where = result.target === 'json' ? 'body' : result.target;
        return validationProblem(c, result.error, `The request ${where} is not valid.`);
      }
      return undefined;
    },
  });
}
