import { STAGES } from '../domain/stage.ts';
import { type CommandContext, type CommandGroup, oneOf, stringValue } from './command.ts';
import { CliError, UsageError } from './errors.ts';
import { type Column, formatFields, formatJson, printList } from './output.ts';
import { noteMore, PAGE_OPTIONS, readPages } from './pages.ts';

interface Reason {
  code: string;
  message: string;
}
interface Flags {
  contactable: boolean;
  stale: boolean;
  cadenceExceeded: boolean;
}

/** A contact as `GET /v1/contacts/{id}` shows it (the fields the CLI prints). */
interface Contact {
  id: string;
  email: string;
  stage: string;
  stageChangedAt: string;
  reasons: Reason[];
  missing: string[];
  qualification: string;
  flags: Flags;
  profile: Record<string, unknown>;
  crm: {
    hubspot: { lifecycleStage: string; leadStatus: string };
    salesforce: { leadStatus: string };
  };
  facts: { firstSeenAt: string; lastSeenAt: string };
}

interface ContactSummary {
  id: string;
  email: string;
  stage: string;
  stageChangedAt: string;
  flags: Flags;
  qualification: string;
  name?: string;
  firstName?: string;
  lastName?: string;
  company?: string;
}

interface TimelineEntry {
  eventId: string;
  kind: string;
  source: string;
  occurredAt: string;
  appliedAt: string;
}

const CONTACT_ID = /^ct_[0-9a-f]{24}$/;

/** What is notable about a contact's flags, for a table cell. */
function flagNotes(flags: Flags): string[] {
  const notes: string[] = [];
  if (!flags.contactable) notes.push('not contactable');
  if (flags.stale) notes.push('stale');
  if (flags.cadenceExceeded) notes.push('cadence exceeded');
  return notes;
}

function displayName(contact: ContactSummary): string | undefined {
  return (
    contact.name ?? ([contact.firstName, contact.lastName].filter(Boolean).join(' ') || undefined)
  );
}

const summaryColumns: Column<ContactSummary>[] = [
  { header: 'id', value: (c) => c.id },
  { header: 'email', value: (c) => c.email, maxWidth: 40 },
  { header: 'name', value: displayName, maxWidth: 30 },
  { header: 'company', value: (c) => c.company, maxWidth: 30 },
  { header: 'stage', value: (c) => c.stage },
  { header: 'since', value: (c) => c.stageChangedAt },
  { header: 'flags', value: (c) => flagNotes(c.flags) },
];

const timelineColumns: Column<TimelineEntry>[] = [
  { header: 'occurred', value: (e) => e.occurredAt },
  { header: 'kind', value: (e) => e.kind },
  { header: 'source', value: (e) => e.source },
  { header: 'event id', value: (e) => e.eventId, maxWidth: 50 },
];

function contactDetails(contact: Contact): string {
  const profile = Object.entries(contact.profile).map(
    ([field, value]) => [`  ${field}`, value] as const,
  );
  return formatFields([
    ['id', contact.id],
    ['email', contact.email],
    ['stage', `${contact.stage} since ${contact.stageChangedAt}`],
    ['qualification', contact.qualification],
    ['reasons', contact.reasons.map((reason) => reason.message)],
    ['missing', contact.missing],
    ['flags', flagNotes(contact.flags).length > 0 ? flagNotes(contact.flags) : 'none'],
    ['hubspot', `${contact.crm.hubspot.lifecycleStage} / ${contact.crm.hubspot.leadStatus}`],
    ['salesforce', contact.crm.salesforce.leadStatus],
    ['first seen', contact.facts.firstSeenAt],
    ['last seen', contact.facts.lastSeenAt],
    ['profile', profile.length === 0 ? 'empty' : ''],
    ...profile,
  ]);
}

const contactPath = (id: string) => `/v1/contacts/${encodeURIComponent(id)}`;

/** A contact id as given, or the id of the contact with this email (looked up). */
async function resolveContactId(context: CommandContext, idOrEmail: string): Promise<string> {
  if (!idOrEmail.includes('@')) return idOrEmail;
  const page = await context
    .api()
    .request<{ items: ContactSummary[] }>('GET', '/v1/contacts', { query: { email: idOrEmail } });
  const found = page.items[0];
  if (found === undefined) throw new CliError(`No contact with the email ${idOrEmail}.`);
  return found.id;
}

/** A contact id argument, checked before it is sent so a typo gets a clear message. */
function contactIdArgument(context: CommandContext): string {
  const id = context.positionals[0] ?? '';
  if (!CONTACT_ID.test(id)) {
    throw new UsageError(`Not a contact id: "${id}" (expected ct_ and 24 hex digits).`);
  }
  return id;
}

/** `leadstage contacts ...`: read and erase contacts. */
export const contactsGroup: CommandGroup = {
  name: 'contacts',
  summary: 'Read contacts (stage, reasons, timeline) and erase them.',
  commands: [
    {
      name: 'get',
      summary: 'Show a contact: stage and why, missing data, flags, profile.',
      args: 'ID|EMAIL',
      positionals: { min: 1, max: 1 },
      examples: [
        'leadstage contacts get ct_97f63aac346999c85faa4657',
        'leadstage contacts get anna.schmidt@example.com',
      ],
      async run(context) {
        const id = await resolveContactId(context, context.positionals[0] ?? '');
        const contact = await context.api().request<Contact>('GET', contactPath(id));
        context.out.stdout(context.json ? formatJson(contact) : contactDetails(contact));
        return 0;
      },
    },
    {
      name: 'list',
      summary: 'List the contacts in a stage, newest first.',
      positionals: { min: 0, max: 0 },
      options: {
        stage: {
          type: 'string',
          placeholder: 'STAGE',
          description: `The stage: ${STAGES.join(', ')} (required)`,
        },
        ...PAGE_OPTIONS,
      },
      examples: [
        'leadstage contacts list --stage sales_ready',
        'leadstage contacts list --stage lead --all --json',
      ],
      async run(context) {
        const stageText = stringValue(context.values, 'stage');
        if (stageText === undefined) throw new UsageError('--stage is required.');
        const stage = oneOf(stageText, STAGES, '--stage');
        const page = await readPages<ContactSummary>(context, '/v1/contacts', { stage });
        printList(context, page, summaryColumns, `No contacts in ${stage}.\n`);
        noteMore(context, page);
        return 0;
      },
    },
    {
      name: 'timeline',
      summary: "A contact's events, newest first.",
      args: 'ID',
      positionals: { min: 1, max: 1 },
      options: PAGE_OPTIONS,
      async run(context) {
        const id = contactIdArgument(context);
        const page = await readPages<TimelineEntry>(context, `${contactPath(id)}/timeline`);
        printList(context, page, timelineColumns, 'No events.\n');
        noteMore(context, page);
        return 0;
      },
    },
    {
      name: 'erase',
      summary: 'Erase a contact and its history for good (GDPR Art. 17); needs --yes.',
      args: 'ID',
      positionals: { min: 1, max: 1 },
      options: {
        yes: { type: 'boolean', short: 'y', description: 'Confirm: erasing cannot be undone' },
      },
      description:
        'Deletes the contact, its timeline, stage history and deliveries, keeps a marker without ' +
        'personal data and sends contact.erased to every subscriber.',
      async run(context) {
        const id = contactIdArgument(context);
        if (context.values.yes !== true) {
          throw new UsageError(`Erasing ${id} cannot be undone: add --yes to confirm.`);
        }
        await context.api().request('DELETE', contactPath(id));
        if (context.json) context.out.stdout(formatJson({ id, erased: true }));
        else context.out.stdout(`Erased ${id}.\n`);
        return 0;
      },
    },
  ],
};
