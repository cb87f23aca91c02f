import type { FieldIssue } from '../problem.ts';

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1f2328}h1{font-size:1.4rem}li{margin:.25rem 0}</style>
</head><body>${body}</body></html>`;
}

/** Shown after a successful submission when the form has no thank-you URL. */
export function thankYouPage(): string {
  return page(
    'Thank you',
    '<h1>Thank you!</h1><p>We received your message and will be in touch.</p>',
  );
}

/** Shown when a browser's submission was refused and the form has no error URL. */
export function errorPage(detail: string, issues: FieldIssue[]): string {
  const items = issues
    .map(
      (issue) =>
        `<li><strong>${escapeHtml(issue.pointer.replace(/^#\/?/, '') || 'form')}</strong>: ${escapeHtml(issue.detail)}</li>`,
    )
    .join('');
  return page(
    'Please check the form',
    `<h1>Please check the form</h1><p>${escapeHtml(detail)}</p>${items ? `<ul>${items}</ul>` : ''}<p>Go back to the form to correct it; what you typed is still there in most browsers.</p>`,
  );
}
