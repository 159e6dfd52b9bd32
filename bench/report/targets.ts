/** The targets, each computed as a median of per-round ratios from one run's results. */
import type { AnchorName } from '../anchors/anchor.js';
import { medianRatio } from '../harness/stats.js';
import type { BulkSeries, Results, SmallSeries } from './results.js';

export interface Target {
  what: string;
  goal: string;
  value: number | undefined;
  unit: string;
  met: boolean | undefined;
}

const rounds = (s: SmallSeries | undefined, k: 'rps' | 'p99Ms'): (number | undefined)[] =>
  s?.rounds.map((r) => r?.[k]) ?? [];

export function smallRatio(
  small: Partial<Record<AnchorName, SmallSeries>>,
  them: AnchorName,
  k: 'rps' | 'p99Ms' = 'rps',
): number | undefined {
  const v = medianRatio(rounds(small.sluice, k), rounds(small[them], k));
  return Number.isFinite(v) ? v : undefined;
}

export function bulkRatio(
  bulk: Partial<Record<AnchorName, BulkSeries>>,
  them: AnchorName,
  dir: 'down' | 'up',
): number | undefined {
  const v = medianRatio(bulk.sluice?.[dir] ?? [], bulk[them]?.[dir] ?? []);
  return Number.isFinite(v) ? v : undefined;
}

function t(
  what: string,
  goal: string,
  value: number | undefined,
  unit: string,
  ok: (v: number) => boolean,
): Target {
  return { what, goal, value, unit, met: value === undefined ? undefined : ok(value) };
}

export function targets(r: Results): Target[] {
  const kib = r.streams?.kibPerStream;
  return [
    t('small req/s vs ssh -R', '>= 3x', smallRatio(r.small, 'ssh'), 'x', (v) => v >= 3),
    t('small req/s vs squid', '>= 0.6x', smallRatio(r.small, 'squid'), 'x', (v) => v >= 0.6),
    t('small p99 vs ssh -R', '<= 0.2x', smallRatio(r.small, 'ssh', 'p99Ms'), 'x', (v) => v <= 0.2),
    t(
      '… same, inside CONNECT (https path)',
      '>= 3x',
      r.connect && smallRatio(r.connect, 'ssh'),
      'x',
      (v) => v >= 3,
    ),
    t(
      '… same vs squid CONNECT',
      '>= 0.6x',
      r.connect && smallRatio(r.connect, 'squid'),
      'x',
      (v) => v >= 0.6,
    ),
    t(
      '… p99 inside CONNECT vs ssh -R',
      '<= 0.2x',
      r.connect && smallRatio(r.connect, 'ssh', 'p99Ms'),
      'x',
      (v) => v <= 0.2,
    ),
    t('bulk download vs ssh -R', '>= 1.5x', bulkRatio(r.bulk, 'ssh', 'down'), 'x', (v) => v >= 1.5),
    t('bulk upload vs ssh -R', '>= 1.5x', bulkRatio(r.bulk, 'ssh', 'up'), 'x', (v) => v >= 1.5),
    t(`RSS per stream, sc`, '<= 20 KiB', kib?.sc, ' KiB', (v) => v <= 20),
    t(`RSS per stream, sc-server`, '<= 30 KiB', kib?.['sc-server'], ' KiB', (v) => v <= 30),
    t('time to ready (median)', '<= 1000 ms', r.ready?.medianMs, ' ms', (v) => v <= 1000),
    t(
      '20 ms RTT bulk download vs plain TCP',
      '>= 0.8x',
      r.rtt && bulkRatio(r.rtt.bulk, 'direct', 'down'),
      'x',
      (v) => v >= 0.8,
    ),
    t(
      '20 ms RTT bulk upload vs plain TCP',
      '>= 0.8x',
      r.rtt && bulkRatio(r.rtt.bulk, 'direct', 'up'),
      'x',
      (v) => v >= 0.8,
    ),
  ];
}
