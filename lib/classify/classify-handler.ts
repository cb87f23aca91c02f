import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { eventEnvelopeSchema } from '../domain/events.ts';
import { sqsBatchHandler, UnreadableMessageError } from '../queue/batch.ts';
import { isErased } from '../store/contact-store.ts';
import { applyEvent, type ClassifyDeps } from './apply-event.ts';
import { countContact, erasedState } from './count-contact.ts';
import { refreshContact } from './refresh-contact.ts';
import { resolveReply } from './resolve-reply.ts';

/** The SQS handler for the ingest queue: one event per message, partial batch failures. */
export function createClassifyHandler(
  deps: ClassifyDeps,
): (event: SQSEvent) => Promise<SQSBatchResponse> {
  return sqsBatchHandler(
    async (record) => {
      let body: unknown;
      try {
        body = JSON.parse(record.body);
      } catch (error) {
        throw new UnreadableMessageError('message body is not JSON', { cause: error });
      }
      const envelope = eventEnvelopeSchema.safeParse(body);
      if (!envelope.success) {
        throw new UnreadableMessageError('message is not a readable event envelope (v1)', {
          cause: envelope.error,
        });
      }
      const data = envelope.data;
      if ('purge' in data) {
        // Only an erased contact is purged: a purge can never delete a live contact's history.
        const stored = await deps.contacts.getForUpdate(data.purge.contactId);
        if (isErased(stored)) {
          const deleted = await deps.contacts.purge(data.purge.contactId);
          // Repairs an erasure that died before it took the contact out of the counters.
          await countContact(
            data.purge.contactId,
            erasedState(stored.version, stored.sequence),
            [],
            deps,
          );
          deps.logger.info('erased contact purged again', {
            contactId: data.purge.contactId,
            deleted,
          });
        }
        return;
      }
      if ('refresh' in data) {
        const outcome = await refreshContact(data.refresh.contactId, deps);
        deps.logger.info('contact refreshed', { contactId: data.refresh.contactId, outcome });
        return;
      }
      const event = 'event' in data ? data.event : await resolveReply(data.reply, deps, deps.now());
      if (event === undefined) {
        deps.logger.info('reply dropped: the contact it was matched to is erased', {
          messageId: record.messageId,
        });
        return;
      }
      const outcome = await applyEvent(event, deps);
      deps.logger.info('event applied', {
        eventId: event.id,
        kind: event.kind,
        ...(event.kind === 'email_replied' ? { matchMethod: event.matchMethod } : {}),
        outcome,
      });
    },
    { deadLetters: deps.deadLetters, logger: deps.logger },
  );
}
