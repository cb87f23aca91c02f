import EmailReplyParser from 'email-reply-parser';

/** How much of a reply is kept: an excerpt for the timeline, never the whole mail. */
export const MAX_EXCERPT_CHARS = 280;
/**
 * How much of a reply is looked at. email-reply-parser is quadratic on some inputs (anyone can
 * mail the inbound address), and only an excerpt of the top is kept anyway.
 */
export const MAX_PARSED_CHARS = 8_000;

/**
 * An Outlook-style header block that starts the quoted mail, in German or English:
 * `Von:`/`From:` followed within three lines by `Gesendet:`/`Sent:`/`Datum:`/`Date:`.
 * email-reply-parser finds it only after a separator line; Outlook often sends none.
 */
const HEADER_BLOCK = /^\s*(?:Von|From)\s*:.*\n(?:.*\n){0,2}?\s*(?:Gesendet|Sent|Datum|Date)\s*:/im;

/**
 * Strips quoted history and signatures from a plain-text reply. email-reply-parser handles
 * "On ... wrote:", German "Am ... schrieb ...:", "-----Ursprüngliche Nachricht-----" and
 * `>` quoting; the header-block rule above catches the Outlook form it misses.
 */
export function stripQuotedText(text: string): string {
  const normalized = text.slice(0, MAX_PARSED_CHARS).replace(/\r\n?/g, '\n');
  let reply = new EmailReplyParser().parseReply(normalized);
  const block = HEADER_BLOCK.exec(reply);
  if (block !== null) reply = reply.slice(0, block.index);
  return reply.trim();
}

/** A short excerpt of the stripped reply, cut at a word boundary, for storage. */
export function replyExcerpt(strippedText: string): string {
  const collapsed = strippedText.replace(/\s+/g, ' ').trim();
  if (collapsed.length <= MAX_EXCERPT_CHARS) return collapsed;
  const cut = collapsed.slice(0, MAX_EXCERPT_CHARS);
  const lastSpace = cut.lastIndexOf(' ');
  return `${(lastSpace > MAX_EXCERPT_CHARS / 2 ? cut.slice(0, lastSpace) : cut).trimEnd()}…`;
}
