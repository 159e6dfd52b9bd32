import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, parseDuration } from '../../../src/options/index.js';

test('parseDuration reads Go durations', () => {
  const cases: [string, number | null][] = [
    ['5s', 5000],
    ['1m30s', 90_000],
    ['1h0m0s', 3_600_000],
    ['500ms', 500],
    ['1.5h', 5_400_000],
    ['250us', 0.25],
    ['0', 0],
    ['0s', 0],
    ['-1s', -1000],
    ['', null],
    ['5', null],
    ['5 s', null],
    ['s', null],
    ['1d', null],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});

test('formatDuration prints like Go', () => {
  const cases: [number, string][] = [
    [0, '0s'],
    [500, '500ms'],
    [25_000, '25s'],
    [90_000, '1m30s'],
    [3_600_000, '1h0m0s'],
    [1500, '1.5s'],
  ];
  for (const [ms, text] of cases) {
    assert.equal(formatDuration(ms), text);
    assert.equal(parseDuration(text), ms);
  }
});
