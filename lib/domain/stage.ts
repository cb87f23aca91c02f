import type { ContactFacts } from './facts.ts';

/** The funnel stages, in order; `disqualified` stands beside them. */
export const STAGES = ['lead', 'qualified', 'prospect', 'sales_ready', 'disqualified'] as const;
export type Stage = (typeof STAGES)[number];

/** A machine-readable reason with one human sentence, so a salesperson can see why. */
export interface StageReason {
  code: string;
  message: string;
}

/** The derived answer for one contact: where it stands in the funnel, and why. */
export interface StageVerdict {
  stage: Stage;
  reasons: StageReason[];
}

/**
 * Derives the stage from the contact's accumulated facts. A pure function, so the same
 * facts always give the same stage whatever order the events came in.
 */
export function deriveStage(facts: ContactFacts): StageVerdict {
  if (facts.counts.form_submitted === undefined || facts.counts.form_submitted === 0) {
    return { stage: 'lead', reasons: [{ code: 'known_contact', message: 'Known contact.' }] };
  }
  return {
    stage: 'lead',
    reasons: [
      {
        code: 'form_submitted',
        message: 'Left their data through a form; no two-way communication yet.',
      },
    ],
  };
}
