import { z } from 'zod';
import type { Stage } from './stage.ts';

const perStage = (defaults: Record<Stage, string>) =>
  z
    .object({
      lead: z.string().min(1).default(defaults.lead),
      qualified: z.string().min(1).default(defaults.qualified),
      prospect: z.string().min(1).default(defaults.prospect),
      sales_ready: z.string().min(1).default(defaults.sales_ready),
      disqualified: z.string().min(1).default(defaults.disqualified),
    })
    .strict()
    .default(defaults);

/**
 * Our stages in the vocabulary of the CRMs, carried in every webhook so a receiver can
 * set its field directly. Defaults are HubSpot's internal lifecycle-stage and lead-status
 * values and Salesforce's standard Lead Status picklist; a deployment overrides any of them.
 */
export const crmMappingSchema = z
  .object({
    hubspotLifecycleStage: perStage({
      lead: 'lead',
      qualified: 'marketingqualifiedlead',
      prospect: 'salesqualifiedlead',
      sales_ready: 'opportunity',
      disqualified: 'other',
    }),
    hubspotLeadStatus: perStage({
      lead: 'NEW',
      qualified: 'OPEN',
      prospect: 'CONNECTED',
      sales_ready: 'OPEN_DEAL',
      disqualified: 'UNQUALIFIED',
    }),
    salesforceLeadStatus: perStage({
      lead: 'Open - Not Contacted',
      qualified: 'Open - Not Contacted',
      prospect: 'Working - Contacted',
      sales_ready: 'Working - Contacted',
      disqualified: 'Closed - Not Converted',
    }),
  })
  .strict();
export type CrmMappingConfig = z.output<typeof crmMappingSchema>;
export const defaultCrmMapping: CrmMappingConfig = crmMappingSchema.parse({});

/** One stage in each CRM's words. */
export interface CrmValues {
  hubspot: { lifecycleStage: string; leadStatus: string };
  salesforce: { leadStatus: string };
}

export function crmValuesFor(stage: Stage, mapping: CrmMappingConfig): CrmValues {
  return {
    hubspot: {
      lifecycleStage: mapping.hubspotLifecycleStage[stage],
      leadStatus: mapping.hubspotLeadStatus[stage],
    },
    salesforce: { leadStatus: mapping.salesforceLeadStatus[stage] },
  };
}
