/**
 * docs/benchmarks.md is generated from bench results (bench/report.ts): the latest result of
 * each bench, with its command, machine, load and commit, and the tables it printed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderReport } from '../bench/report.ts';

const result = (at: string, ratio: string) => ({
  bench: 'media',
  at,
  command: 'BENCH_ROUNDS=1 npm run bench:media',
  machine: {
    cpu: 'Test CPU',
    cores: 2,
    memoryGiB: 24,
    loadAverage: { start: [1.5, 1, 0.5], end: [2, 1.2, 0.6] },
    node: 'v24.0.0',
  },
  commit: 'abc123',
  tables: [{ headers: ['path', 'vs bare sharp'], rows: [['(b) makeVariants', ratio]] }],
});

describe('bench report', () => {
  it('when two results of a bench exist, then the latest is rendered with its command, machine, load and table', () => {
    const md = renderReport(
      [result('2026-12-04T10:00:00.000Z', '1.10'), result('2026-12-04T12:00:00.000Z', '1.25')],
      ['old-format.json'],
    );
    assert.match(md, /^# Benchmarks/);
    assert.match(md, /`BENCH_ROUNDS=1 npm run bench:media`/);
    assert.match(md, /2 × Test CPU, 24 GiB, Node v24\.0\.0; load average 1\.5 \/ 1 \/ 0\.5 at the start/);
    assert.match(md, /2026-12-04 12:00 UTC, commit `abc123`/);
    assert.match(md, /\| \(b\) makeVariants \| 1\.25 \|/);
    assert.doesNotMatch(md, /1\.10/);
    assert.match(md, /_No result yet: run the bench/, 'a bench without a result says so');
    assert.match(md, /older format, not rendered: `old-format\.json`/);
  });
});
