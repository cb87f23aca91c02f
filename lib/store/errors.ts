/** Another writer committed the contact first; the caller re-reads and tries again. */
export class VersionConflictError extends Error {
  override readonly name = 'VersionConflictError';
  readonly contactId: string;
  constructor(contactId: string, options?: ErrorOptions) {
    super(`contact ${contactId} was changed by another writer`, options);
    this.contactId = contactId;
  }
}

/**
 * The subscription changed (or was deleted) since it was read: a health write of the deliver
 * worker, another edit, a rotation. The caller re-reads and applies its change again.
 */
export class SubscriptionChangedError extends Error {
  override readonly name = 'SubscriptionChangedError';
  readonly subscriptionId: string;
  constructor(subscriptionId: string, options?: ErrorOptions) {
    super(`subscription ${subscriptionId} was changed by another writer`, options);
    this.subscriptionId = subscriptionId;
  }
}

/** DynamoDB refused a conditional write: the condition, not the request, failed. */
export function isConditionalCheckFailed(error: unknown): boolean {
  return (error as { name?: string } | null)?.name === 'ConditionalCheckFailedException';
}
