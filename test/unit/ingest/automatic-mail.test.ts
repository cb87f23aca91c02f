import { describe, expect, it } from 'vitest';
import { isAutomaticMail } from '../../../lib/ingest/email/automatic-mail.ts';

const headers = (values: Record<string, string>) => (name: string) =>
  Object.entries(values).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];

describe('isAutomaticMail', () => {
  it.each([
    ['an RFC 3834 auto-reply', { 'Auto-Submitted': 'auto-replied' }],
    ['an auto-generated mail', { 'auto-submitted': 'auto-generated; owner-email="x@y.de"' }],
    ['an X-Autoreply header', { 'X-Autoreply': 'yes' }],
    ['an X-Autorespond header', { 'X-Autorespond': 'Abwesenheitsnotiz' }],
    ['Precedence: auto_reply', { Precedence: 'auto_reply' }],
    ['Precedence: bulk', { Precedence: 'Bulk' }],
    ['a delivery report', { 'Content-Type': 'multipart/report; report-type=delivery-status' }],
  ])('recognizes %s', (_name, values) => {
    expect(isAutomaticMail(headers(values))).toBe(true);
  });

  it.each([
    ['a plain reply', { 'Content-Type': 'text/plain; charset=utf-8' }],
    ['Auto-Submitted: no', { 'Auto-Submitted': 'no' }],
    ['Precedence: first-class', { Precedence: 'first-class' }],
    ['no headers at all', {}],
  ])('lets %s through as a person', (_name, values) => {
    expect(isAutomaticMail(headers(values))).toBe(false);
  });
});
