import { describe, expect, it } from 'vitest';
import { formatCell, formatFields, formatTable } from '../../../lib/cli/output.ts';
import { renderBar } from '../../../lib/cli/progress.ts';

describe('table output', () => {
  const rows = [
    { id: 'sub_1', url: 'https://a.example.com/hook', enabled: true, stages: ['lead', 'prospect'] },
    { id: 'sub_22', url: 'https://b.example', enabled: false, stages: undefined },
  ];
  const columns = [
    { header: 'id', value: (row: (typeof rows)[number]) => row.id },
    { header: 'url', value: (row: (typeof rows)[number]) => row.url, maxWidth: 20 },
    { header: 'enabled', value: (row: (typeof rows)[number]) => row.enabled },
    { header: 'stages', value: (row: (typeof rows)[number]) => row.stages },
  ];

  it('pads columns to their widest cell, cuts long cells and trims line ends', () => {
    expect(formatTable(rows, columns)).toBe(
      [
        'ID      URL                   ENABLED  STAGES',
        'sub_1   https://a.example.c…  yes      lead, prospect',
        'sub_22  https://b.example     no       -',
        '',
      ].join('\n'),
    );
  });

  it('prints just the heading for no rows', () => {
    expect(formatTable([], columns)).toBe('ID  URL  ENABLED  STAGES\n');
  });

  it('formats cells: absent as -, objects as JSON, line breaks flattened', () => {
    expect(formatCell(null)).toBe('-');
    expect(formatCell('')).toBe('-');
    expect(formatCell([])).toBe('-');
    expect(formatCell(0)).toBe('0');
    expect(formatCell({ amount: 5 })).toBe('{"amount":5}');
    expect(formatCell('two\r\n  lines')).toBe('two lines');
  });

  it('shows terminal control characters from submitted data as U+FFFD, in tables and fields', () => {
    const name = 'Ev\u001b[2J\u001b]0;pwned\u0007il\u009b';
    expect(formatCell(name)).toBe('Ev\uFFFD[2J\uFFFD]0;pwned\uFFFDil\uFFFD');
    const controls = ['\u001b', '\u0007', '\u009b'];
    const fields = formatFields([['name', name]]);
    const table = formatTable([{ name }], [{ header: 'NAME', value: (row) => row.name }]);
    for (const control of controls) {
      expect(fields).not.toContain(control);
      expect(table).not.toContain(control);
    }
    expect(formatCell('Anna Schmidt – Müller GmbH')).toBe('Anna Schmidt – Müller GmbH');
  });

  it('aligns label-value pairs', () => {
    expect(
      formatFields([
        ['id', 'ct_1'],
        ['stage', 'lead'],
        ['missing', ['company', 'budget']],
      ]),
    ).toBe('id:      ct_1\nstage:   lead\nmissing: company, budget\n');
  });
});

describe('progress bar', () => {
  it('fills in proportion to the work done', () => {
    expect(renderBar(0, 200, 10, 'rows')).toBe('[----------]   0%  0/200 rows');
    expect(renderBar(100, 200, 10, 'rows')).toBe('[#####-----]  50%  100/200 rows');
    expect(renderBar(200, 200, 10, 'rows')).toBe('[##########] 100%  200/200 rows');
    expect(renderBar(0, 0, 4, 'rows')).toBe('[####] 100%  0/0 rows');
  });
});
