/**
 * Automatic mail is not an answer: an out-of-office or other RFC 3834 auto-response, or a
 * delivery report (multipart/report), would otherwise count as the two-way signal, or make
 * a prospect of mailer-daemon@. Every adapter asks this before it reports a reply.
 *
 * @param header looks a header up by name (case-insensitive), in whatever shape the provider sends
 */
export function isAutomaticMail(header: (name: string) => string | undefined): boolean {
  const autoSubmitted = header('Auto-Submitted')?.trim().toLowerCase();
  if (autoSubmitted !== undefined && autoSubmitted !== '' && !/^no\b/.test(autoSubmitted)) {
    return true;
  }
  if (header('X-Autoreply') !== undefined || header('X-Autorespond') !== undefined) return true;
  const precedence = header('Precedence')?.trim().toLowerCase();
  if (precedence === 'auto_reply' || precedence === 'bulk' || precedence === 'junk') return true;
  return /^\s*multipart\/report\b/i.test(header('Content-Type') ?? '');
}
