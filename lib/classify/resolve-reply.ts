import type { LeadEvent, ReplyMatchMethod, UnresolvedReply } from '../domain/events.ts';
import type { ContactStore } from '../store/contact-store.ts';
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

/**
 * Finds the contact a reply belongs to, strongest evidence first: the reply token in the
 * recipient address (our contact id), the mail it answers (`In-Reply-To`), the thread
 * (`References`, newest first), and last the sender's address. The method is kept.
 */
export async function resolveReply(
  reply: UnresolvedReply,
  deps: ReplyResolverDeps,
): Promise<LeadEvent> {
  const matched = (email: string, matchMethod: ReplyMatchMethod): LeadEvent => ({
    kind: 'email_replied',
    id: reply.id,
    occurredAt: reply.occurredAt,
    source: reply.source,
    email,
    matchMethod,
    ...(reply.excerpt === undefined ? {} : { excerpt: reply.excerpt }),
  });

  if (reply.replyToken !== undefined && CONTACT_ID.test(reply.replyToken)) {
    const email = await emailOfContact(deps.contacts, reply.replyToken);
    if (email !== undefined) return matched(email, 'reply_token');
  }
  if (reply.inReplyTo !== undefined) {
    const contactId = await deps.messages.get(reply.inReplyTo);
    const email =
      contactId === undefined ? undefined : await emailOfContact(deps.contacts, contactId);
    if (email !== undefined) return matched(email, 'in_reply_to');
  }
  for (const reference of [...reply.references].reverse()) {
    const contactId = await deps.messages.get(reference);
    const email =
      contactId === undefined ? undefined : await emailOfContact(deps.contacts, contactId);
    if (email !== undefined) return matched(email, 'references');
  }
  return matched(reply.from, 'sender');
}
