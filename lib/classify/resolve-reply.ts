import type { LeadEvent, ReplyMatchMethod, UnresolvedReply } from '../domain/events.ts';
import { type ContactStore, isErased } from '../store/contact-store.ts';
import { contactIdFor } from '../store/keys.ts';
import type { MessageIndexStore } from '../store/message-index-store.ts';

const CONTACT_ID = /^ct_[0-9a-f]{24}$/;

export interface ReplyResolverDeps {
  contacts: ContactStore;
  messages: MessageIndexStore;
}

async function emailOfContact(
  contacts: ContactStore,
  contactId: string,
): Promise<string | undefined> {
  return (await contacts.get(contactId))?.email;
}

async function firstMatch(
  reply: UnresolvedReply,
  deps: ReplyResolverDeps,
): Promise<{ email: string; method: ReplyMatchMethod }> {
  if (reply.replyToken !== undefined && CONTACT_ID.test(reply.replyToken)) {
    const email = await emailOfContact(deps.contacts, reply.replyToken);
    if (email !== undefined) return { email, method: 'reply_token' };
  }
  if (reply.inReplyTo !== undefined) {
    const contactId = await deps.messages.get(reply.inReplyTo);
    const email =
      contactId === undefined ? undefined : await emailOfContact(deps.contacts, contactId);
    if (email !== undefined) return { email, method: 'in_reply_to' };
  }
  for (const reference of [...reply.references].reverse()) {
    const contactId = await deps.messages.get(reference);
    const email =
      contactId === undefined ? undefined : await emailOfContact(deps.contacts, contactId);
    if (email !== undefined) return { email, method: 'references' };
  }
  return { email: reply.from, method: 'sender' };
}

/**
 * Finds the contact a reply belongs to, strongest evidence first: the reply token in the
 * recipient address (our contact id), the mail it answers (`In-Reply-To`), the thread
 * (`References`, newest first), and last the sender's address. The method is kept. The
 * first match is recorded, so a redelivered reply counts for the same contact even when the
 * index has changed in between; undefined when that contact has been erased since.
 */
export async function resolveReply(
  reply: UnresolvedReply,
  deps: ReplyResolverDeps,
  now: Date = new Date(),
): Promise<LeadEvent | undefined> {
  const event = (email: string, matchMethod: ReplyMatchMethod): LeadEvent => ({
    kind: 'email_replied',
    id: reply.id,
    occurredAt: reply.occurredAt,
    source: reply.source,
    email,
    matchMethod,
    ...(reply.excerpt === undefined ? {} : { excerpt: reply.excerpt }),
  });
  const prior = await deps.messages.replyMatch(reply.id);
  if (prior !== undefined) {
    const stored = await deps.contacts.getForUpdate(prior.contactId);
    if (isErased(stored)) return undefined;
    if (stored !== undefined) return event(stored.email, prior.method);
    // Matched by sender on an earlier try that died before its commit: the contact is still to be made.
    if (prior.contactId === contactIdFor(reply.from)) return event(reply.from, prior.method);
    return undefined;
  }
  const found = await firstMatch(reply, deps);
  const claimed = await deps.messages.claimReply(
    reply.id,
    { contactId: contactIdFor(found.email), method: found.method },
    now,
  );
  if (claimed.contactId === contactIdFor(found.email)) return event(found.email, claimed.method);
  // Another worker matched the same reply first: its match holds.
  const email = await emailOfContact(deps.contacts, claimed.contactId);
  return email === undefined ? undefined : event(email, claimed.method);
}
