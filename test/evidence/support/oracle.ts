import type { LeadEvent } from '../../../lib/domain/events.ts';
import { type ContactFacts, emptyFacts, mergeFacts } from '../../../lib/domain/facts.ts';
import type { QualificationConfig } from '../../../lib/domain/qualification.ts';
import { deriveStage, type StageVerdict } from '../../../lib/domain/stage.ts';

export interface OracleContact {
  email: string;
  facts: ContactFacts;
  verdict: StageVerdict;
}

/**
 * What the pure domain says a contact is, given the set of its distinct events: the facts
 * folded in any order (mergeFacts is order-independent), and the stage derived from them.
 * No store, queue or worker is involved, so it is the reference the pipeline must agree with.
 */
export function oracleFor(
  events: readonly LeadEvent[],
  config: QualificationConfig,
  now: Date,
): Map<string, OracleContact> {
  const byEmail = new Map<string, Map<string, LeadEvent>>();
  for (const event of events) {
    const distinct = byEmail.get(event.email) ?? new Map<string, LeadEvent>();
    distinct.set(event.id, event);
    byEmail.set(event.email, distinct);
  }
  const out = new Map<string, OracleContact>();
  for (const [email, distinct] of byEmail) {
    const facts = [...distinct.values()].reduce(mergeFacts, emptyFacts(email));
    out.set(email, { email, facts, verdict: deriveStage(facts, config, now) });
  }
  return out;
}
