/**
 * Helpers for the address and message-id headers every provider hands over in its own
 * shape: `"Anna Schmidt" <anna@example.com>`, `<id@host> <id2@host>`, plus-addresses.
 */

/** Extracts the bare address from `Name <addr>` or `addr`, lower-cased; undefined when there is none. */
export function bareAddress(value: string): string | undefined {
  const angle = /<([^<>\s]+@[^<>\s]+)>/.exec(value);
  const candidate = angle?.[1] ?? /[^\s<>"',;]+@[^\s<>"',;]+/.exec(value)?.[0];
  return candidate?.trim().toLowerCase();
}

/** Splits an address-list header (`a@x, "B" <b@y>`) into bare addresses. */
export function addressList(value: string | undefined): string[] {
  if (value === undefined || value.trim() === '') return [];
  const found = value.match(/"[^"]*"\s*<[^<>]+>|<[^<>]+>|[^\s,;<>"]+@[^\s,;<>"]+/g) ?? [];
  return found
    .map((part) => bareAddress(part))
    .filter((address): address is string => address !== undefined);
}

/**
 * The reply token of a plus-address such as `reply+ct_abc123@in.example.com`: the part
 * after the first `+` in the local part. Undefined when no address carries one.
 */
export function replyTokenFrom(addresses: readonly string[]): string | undefined {
  for (const address of addresses) {
    const match = /^[^@+]+\+([^@]+)@/.exec(address.trim().toLowerCase());
    if (match?.[1] !== undefined && match[1] !== '') return match[1];
  }
  return undefined;
}

/** Message ids from an `In-Reply-To` or `References` header, without angle brackets, in order. */
export function messageIds(value: string | undefined): string[] {
  if (value === undefined) return [];
  const bracketed = value.match(/<[^<>\s]+>/g);
  if (bracketed !== null) return bracketed.map((id) => id.slice(1, -1).toLowerCase());
  return value
    .split(/[\s,]+/)
    .filter((id) => id.includes('@'))
    .map((id) => id.toLowerCase());
}
