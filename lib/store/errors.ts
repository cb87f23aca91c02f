/** Another writer committed the contact first; the caller re-reads and tries again. */
export class VersionConflictError extends Error {
  override readonly name = 'VersionConflictError';
  readonly contactId: string;
  constructor(contactId: string, options?: ErrorOptions) {
    super(`contact ${contactId} was changed by another writer`, options);
    this.contactId = contactId;
  }
}

/** DynamoDB refused a conditional write: the condition, not the request, failed. */
export function isConditionalCheckFailed(error: unknown): boolean {
  return (error as { name?: string } | null)?.name === 'ConditionalCheckFailedException';
}
