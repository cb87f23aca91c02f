import type { ContactFacts, Signal } from './facts.ts';
import {
  ACTIVITY_SIGNALS,
  evaluateQualification,
  type QualificationConfig,
  type QualificationVerdict,
} from './qualification.ts';

/** The funnel stages, in order; `disqualified` stands beside them. */
export const STAGES = ['lead', 'qualified', 'prospect', 'sales_ready', 'disqualified'] as const;
export type Stage = (typeof STAGES)[number];

/** The forward path of the funnel, in order; `disqualified` is a side exit, not on it. */
export const FUNNEL_PATH = ['lead', 'qualified', 'prospect', 'sales_ready'] as const;
export type PathStage = (typeof FUNNEL_PATH)[number];

/** A stage's place on the forward path; `disqualified` ranks below `lead` (-1). */
export function stageRank(stage: Stage): number {
  return FUNNEL_PATH.indexOf(stage as PathStage);
}

/** A machine-readable reason with one human sentence, so a salesperson can see why. */
export interface StageReason {
  code: string;
  message: string;
}

/** Conditions beside the stage: they never change it, but a CRM must know them. */
export interface StageFlags {
  /** False after a hard bounce, complaint, unsubscribe or withdrawn consent (until restored). */
  contactable: boolean;
  /** No activity of the contact's own for `staleAfterDays`. */
  stale: boolean;
  /** More outbound touches in the cadence window than the ceiling allows. */
  cadenceExceeded: boolean;
}

/** The derived answer for one contact: where it stands in the funnel, and why. */
export interface StageVerdict {
  stage: Stage;
  /** The most decisive reason first. */
  reasons: StageReason[];
  /** The data that would decide qualification, still unknown (e.g. `industry`). */
  missing: string[];
  qualification: QualificationVerdict['status'];
  flags: StageFlags;
}

export type StageDirection = 'initial' | 'forward' | 'backward' | 'unchanged';

/** Whether a change moves the contact up the funnel or back (disqualification is backward). */
export function stageDirection(from: Stage | null, to: Stage): StageDirection {
  if (from === null) return 'initial';
  if (from === to) return 'unchanged';
  return stageRank(to) > stageRank(from) ? 'forward' : 'backward';
}

const count = (facts: ContactFacts, signal: Signal) => facts.counts[signal] ?? 0;
const maxOf = (times: (string | undefined)[]) =>
  times.reduce<string>((max, t) => (t !== undefined && t > max ? t : max), '');

const ANSWER_WORDS: [Signal, string, string][] = [
  ['email_replied', 'replied to an email', 'replied to emails'],
  ['call_answered', 'answered a call', 'answered calls'],
  ['meeting_held', 'took a meeting', 'took meetings'],
  ['mail_answered', 'answered a mailing', 'answered mailings'],
];

function answerReason(facts: ContactFacts): StageReason | undefined {
  const parts = ANSWER_WORDS.filter(([signal]) => count(facts, signal) > 0).map(
    ([signal, one, many]) =>
      count(facts, signal) === 1 ? one : `${many} (${count(facts, signal)})`,
  );
  if (parts.length === 0) return undefined;
  return {
    code: 'two_way_communication',
    message: `Answered: ${parts.join(', ')}. Two-way communication makes a prospect.`,
  };
}

function originReason(facts: ContactFacts): StageReason {
  if (count(facts, 'form_submitted') > 0) {
    return {
      code: 'left_data',
      message: 'Left their data through a form; communication is one-way so far.',
    };
  }
  if (count(facts, 'contact_imported') > 0) {
    return {
      code: 'imported',
      message: 'Imported as an existing lead; communication is one-way so far.',
    };
  }
  return {
    code: 'known_contact',
    message: 'Known from email or sales activity only; communication is one-way so far.',
  };
}

function engagementReason(facts: ContactFacts): StageReason | undefined {
  const engaged =
    count(facts, 'email_opened') + count(facts, 'email_clicked') + count(facts, 'site_visited');
  if (engaged === 0) return undefined;
  return {
    code: 'engagement_only',
    message:
      'Opened or clicked emails or visited the site: engagement, not an answer, so no prospect yet.',
  };
}

function salesReadiness(
  facts: ContactFacts,
  config: QualificationConfig,
): { ready: boolean; reason: StageReason } {
  const present: Record<string, boolean> = {
    quote_requested: count(facts, 'quote_requested') > 0,
    budget_confirmed: count(facts, 'budget_confirmed') > 0,
    decision_maker_identified: facts.decisionMaker?.value === true,
  };
  const words: Record<string, string> = {
    quote_requested: 'a quote was requested',
    budget_confirmed: 'the budget is confirmed',
    decision_maker_identified: 'the decision maker is reached',
  };
  const visits = count(facts, 'site_visited');
  const enoughVisits = visits >= config.salesReady.minSiteVisits;
  const met = config.salesReady.anyOf.find((set) => set.every((signal) => present[signal]));
  if (met !== undefined && enoughVisits) {
    const sentence = met.map((signal) => words[signal]).join(' and ');
    return { ready: true, reason: { code: 'sales_ready', message: `Sales-ready: ${sentence}.` } };
  }
  // When a signal set is complete, only the visits are missing: say just that.
  const open =
    met !== undefined
      ? []
      : config.salesReady.anyOf
          .map((set) =>
            set
              .filter((signal) => !present[signal])
              .map((signal) => words[signal]?.replace(/ (is|was) /, ' not ') ?? signal)
              .join(' and '),
          )
          .filter((text) => text !== '');
  const visitText = enoughVisits
    ? []
    : [`${visits} of ${config.salesReady.minSiteVisits} site visits`];
  return {
    ready: false,
    reason: {
      code: 'not_sales_ready',
      message: `Not sales-ready yet: ${[open.join(', or '), ...visitText].filter(Boolean).join('; ')}.`,
    },
  };
}

function contactability(facts: ContactFacts): { contactable: boolean; reasons: StageReason[] } {
  const restoredByConsent = maxOf([facts.consent?.at, facts.last.resubscribed]);
  const provenDeliverable = maxOf([facts.last.email_delivered, facts.last.email_replied]);
  const blockers: [string | undefined, string, string, string][] = [
    [facts.last.email_bounced_hard, provenDeliverable, 'hard_bounced', 'The address bounced hard'],
    [
      facts.last.email_complained,
      restoredByConsent,
      'complained',
      'The contact marked a mail as spam',
    ],
    [facts.last.unsubscribed, restoredByConsent, 'unsubscribed', 'The contact unsubscribed'],
    [
      facts.last.consent_withdrawn,
      restoredByConsent,
      'consent_withdrawn',
      'The contact withdrew consent',
    ],
  ];
  const reasons = blockers
    .filter(([blockedAt, restoredAt]) => blockedAt !== undefined && blockedAt >= restoredAt)
    .map(([, , code, sentence]) => ({
      code: `not_contactable_${code}`,
      message: `${sentence}; do not contact.`,
    }));
  return { contactable: reasons.length === 0, reasons };
}

/**
 * When the contact last did something of its own (a form, a reply, an open, a click, an
 * answered call, a meeting, a visit, a quote, a budget, consent), or was first seen: the
 * time `stale` counts from. Empty when nothing is known.
 */
export function lastActivityOf(facts: ContactFacts): string {
  return maxOf([...ACTIVITY_SIGNALS.map((signal) => facts.last[signal]), facts.firstSeenAt]);
}

const DAY_MS = 86_400_000;
/** The last instant a four-digit-year ISO string can say: 9999-12-31T23:59:59.999Z. */
const LAST_ISO_INSTANT = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * When time alone will next move one of the contact's flags, given the flags derived now:
 * `stale` is set just after its last own activity plus `staleAfterDays`; `cadenceExceeded` is
 * lifted just after the touch that keeps the count over the ceiling leaves the window.
 * Undefined when time cannot move any (stale already, and within the ceiling). The ageing
 * pass refreshes the contact then (decision 50).
 */
export function nextFlagChangeAt(
  facts: ContactFacts,
  config: QualificationConfig,
  flags: StageFlags,
): string | undefined {
  const due: number[] = [];
  const lastActivity = lastActivityOf(facts);
  if (!flags.stale && lastActivity !== '') {
    due.push(Date.parse(lastActivity) + config.staleAfterDays * DAY_MS + 1);
  }
  if (flags.cadenceExceeded) {
    // Newest first: once the (maxTouches + 1)-th newest has left the window, at most
    // maxTouches are left in it.
    const newestFirst = [...facts.outboundTouches].sort().reverse();
    const leaving = newestFirst[config.cadence.maxTouches];
    if (leaving !== undefined) {
      const [at = leaving] = leaving.split('|');
      due.push(Date.parse(at) + config.cadence.windowDays * DAY_MS + 1);
    }
  }
  // Past year 9999 an ISO string turns `+010000-...` and no longer sorts as a time: such a
  // change is as good as never (a placeholder date far in the future), so none is due.
  const first = Math.min(...due);
  return due.length === 0 || first > LAST_ISO_INSTANT ? undefined : new Date(first).toISOString();
}

/**
 * Derives the stage from the contact's accumulated facts and the deployment's
 * qualification config. Pure: the same facts give the same verdict, whatever order their
 * events came in; `now` only decides the stale and cadence flags, never the stage.
 *
 * - A hard criterion failed: `disqualified` (whatever else happened).
 * - An answer (reply, answered call, meeting, answered mailing): `prospect`, unless the
 *   config requires qualification first; `sales_ready` when the sales-ready rule holds.
 * - All configured criteria met: `qualified`. Otherwise `lead`, with the missing data.
 */
export function deriveStage(
  facts: ContactFacts,
  config: QualificationConfig,
  now: Date,
): StageVerdict {
  const qualification = evaluateQualification(facts, config);
  const answered = answerReason(facts);
  const failed = qualification.criteria.filter((c) => c.result === 'failed');
  const unknown = qualification.criteria.filter((c) => c.result === 'unknown');
  const reasons: StageReason[] = [];
  let stage: Stage;

  if (qualification.status === 'failed') {
    stage = 'disqualified';
    reasons.push(...failed.filter((c) => c.hard).map(({ code, message }) => ({ code, message })));
    if (answered) reasons.push(answered);
  } else if (
    answered &&
    (qualification.status === 'met' || !config.prospectRequiresQualification)
  ) {
    const readiness = salesReadiness(facts, config);
    stage = readiness.ready ? 'sales_ready' : 'prospect';
    reasons.push(
      readiness.ready ? readiness.reason : answered,
      readiness.ready ? answered : readiness.reason,
    );
  } else if (qualification.status === 'met') {
    stage = 'qualified';
    const met = qualification.criteria
      .filter((c) => c.result === 'met')
      .map((c) => c.message.replace(/\.$/, ''));
    reasons.push({ code: 'qualification_met', message: `Qualified: ${met.join('; ')}.` });
    reasons.push(engagementReason(facts) ?? originReason(facts));
  } else {
    stage = 'lead';
    reasons.push(originReason(facts));
    if (answered) {
      reasons.push({
        code: 'prospect_awaits_qualification',
        message: 'Answered, but the configuration requires qualification before a prospect.',
      });
    }
    const engaged = engagementReason(facts);
    if (engaged && !answered) reasons.push(engaged);
  }

  if (stage !== 'disqualified') {
    if (qualification.status === 'unknown') {
      reasons.push({
        code: 'qualification_unknown',
        message: `Qualification undecided: ${unknown.map((c) => c.message.replace(/\.$/, '').toLowerCase()).join('; ')}.`,
      });
    } else if (qualification.status === 'unconfigured') {
      reasons.push({
        code: 'qualification_not_configured',
        message: 'No qualification criteria are configured, so no lead can be qualified yet.',
      });
    }
    reasons.push(...failed.filter((c) => !c.hard).map(({ code, message }) => ({ code, message })));
  }

  const { contactable, reasons: contactReasons } = contactability(facts);
  reasons.push(...contactReasons);

  const lastActivity = lastActivityOf(facts);
  const staleCutoff = new Date(now.getTime() - config.staleAfterDays * 86_400_000).toISOString();
  const stale = lastActivity !== '' && lastActivity < staleCutoff;
  if (stale) {
    reasons.push({
      code: 'stale',
      message: `No activity since ${lastActivity.slice(0, 10)} (over ${config.staleAfterDays} days).`,
    });
  }

  const windowStart = new Date(
    now.getTime() - config.cadence.windowDays * 86_400_000,
  ).toISOString();
  const touches = facts.outboundTouches.filter((touch) => touch >= windowStart).length;
  const cadenceExceeded = touches > config.cadence.maxTouches;
  if (cadenceExceeded) {
    reasons.push({
      code: 'cadence_exceeded',
      message: `${touches} outbound touches in ${config.cadence.windowDays} days exceed the ceiling of ${config.cadence.maxTouches}.`,
    });
  }

  return {
    stage,
    reasons,
    missing: qualification.missing,
    qualification: qualification.status,
    flags: { contactable, stale, cadenceExceeded },
  };
}
