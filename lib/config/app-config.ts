import { z } from 'zod';
import { crmMappingSchema, defaultCrmMapping } from '../domain/crm.ts';
import { defaultQualificationConfig, qualificationConfigSchema } from '../domain/qualification.ts';

/** One website form that may post leads to `POST /v1/forms/{formId}/submissions`. */
export const formConfigSchema = z.object({
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lower-case letters, digits, "-" and "_", at most 64'),
  name: z.string().min(1).max(200).optional(),
});
export type FormConfig = z.infer<typeof formConfigSchema>;

/**
 * The deployment's configuration: its forms, qualification criteria and CRM vocabulary.
 * Parsed once at start-up and passed in; never read from globals.
 */
export const appConfigSchema = z
  .object({
    forms: z
      .array(formConfigSchema)
      .min(1)
      .default([{ id: 'contact', name: 'Contact form' }]),
    /** The criteria leads are qualified against, and the sales-ready rule (docs/stages.md). */
    qualification: qualificationConfigSchema.default(defaultQualificationConfig),
    /** Our stages in each CRM's vocabulary, carried in webhooks. */
    crm: crmMappingSchema.default(defaultCrmMapping),
  })
  .strict()
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.forms.forEach((form, index) => {
      if (seen.has(form.id)) {
        ctx.addIssue({
          code: 'custom',
          path: ['forms', index, 'id'],
          message: `duplicate form id "${form.id}"`,
        });
      }
      seen.add(form.id);
    });
  });
export type AppConfig = z.output<typeof appConfigSchema>;

/** The built-in config: one form with id `contact`, so a fresh start needs no file. */
export const defaultAppConfig: AppConfig = appConfigSchema.parse({});

/** A config that failed validation; the message names every bad field by its path. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map(
      (issue) => `  - ${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`,
    )
    .join('\n');
}

/**
 * Parses a config document (already JSON-decoded), naming each bad field on failure.
 * @param origin where the document came from, for the error message (a file path or env name)
 */
export function parseAppConfig(document: unknown, origin: string): AppConfig {
  const result = appConfigSchema.safeParse(document);
  if (!result.success) {
    throw new ConfigError(`Invalid config in ${origin}:\n${describeIssues(result.error)}`, {
      cause: result.error,
    });
  }
  return result.data;
}

/** Parses config JSON text; a syntax error is reported as a ConfigError too. */
export function parseAppConfigJson(text: string, origin: string): AppConfig {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      `Invalid config in ${origin}: not valid JSON (${(error as Error).message})`,
      {
        cause: error,
      },
    );
  }
  return parseAppConfig(document, origin);
}
