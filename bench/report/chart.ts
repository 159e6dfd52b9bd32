/**
 * A hand-written SVG: one panel per headline figure (small req/s, bulk down, bulk up, and the same with 20 ms
 * RTT when measured), a bar per anchor, Sluice in a colour of its own, so the comparison reads at a glance.
 */
import { ANCHORS, type AnchorName } from '../anchors/anchor.js';
import type { Results } from './results.js';

const NAME: Record<AnchorName, string> = {
  direct: 'direct',
  squid: 'squid',
  ssh: 'ssh -R',
  localtunnel: 'localtunnel',
  tlspipe: 'Node TLS pipe',
  sluice: 'Sluice',
  'sluice-b': 'Sluice (B build)',
  'cluster-1': 'Sluice cluster, 1 node',
  'cluster-2': 'Sluice cluster, hop 2 -> 1',
  'cluster-3': 'Sluice cluster of 3, hop 3 -> 1',
};

interface Panel {
  title: string;
  unit: string;
  bars: { name: AnchorName; value: number }[];
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function panels(r: Results): Panel[] {
  const pick = (get: (a: AnchorName) => number | undefined): Panel['bars'] =>
    ANCHORS.map((name) => ({ name, value: get(name) ?? Number.NaN })).filter((b) => Number.isFinite(b.value));
  const out: Panel[] = [
    {
      title: 'Small requests, 1 KiB, 64 in flight',
      unit: 'req/s',
      bars: pick((a) => r.small[a]?.median?.rps),
    },
    {
      title: 'Small requests inside CONNECT (https path), 64 connections',
      unit: 'req/s',
      bars: pick((a) => r.connect?.[a]?.median?.rps),
    },
    { title: 'Bulk download', unit: 'MB/s', bars: pick((a) => r.bulk[a]?.median?.down) },
    { title: 'Bulk upload', unit: 'MB/s', bars: pick((a) => r.bulk[a]?.median?.up) },
  ];
  if (r.rtt) {
    out.push(
      {
        title: `${r.rtt.rttMs} ms RTT: small requests`,
        unit: 'req/s',
        bars: pick((a) => r.rtt!.small[a]?.median?.rps),
      },
      {
        title: `${r.rtt.rttMs} ms RTT: bulk download`,
        unit: 'MB/s',
        bars: pick((a) => r.rtt!.bulk[a]?.median?.down),
      },
      {
        title: `${r.rtt.rttMs} ms RTT: bulk upload`,
        unit: 'MB/s',
        bars: pick((a) => r.rtt!.bulk[a]?.median?.up),
      },
    );
  }
  return out.filter((p) => p.bars.length > 0);
}

export function renderChart(r: Results): string {
  const W = 760;
  const labelW = 110;
  const barMax = W - labelW - 140;
  const rowH = 20;
  const parts: string[] = [];
  let y = 34;
  for (const p of panels(r)) {
    // `direct` is often far ahead; scaling to it would squash the bars that matter, so it is clipped (and marked).
    const others = p.bars.filter((b) => b.name !== 'direct').map((b) => b.value);
    const max = others.length > 0 ? Math.max(...others) * 1.25 : Math.max(...p.bars.map((b) => b.value));
    parts.push(`<text x="10" y="${y}" class="h">${esc(p.title)} (${p.unit}, higher is better)</text>`);
    y += 8;
    for (const b of p.bars) {
      const clipped = b.value > max;
      const w = Math.max(1, (Math.min(b.value, max) / max) * barMax);
      const cls = b.name === 'sluice' ? 'us' : 'them';
      parts.push(
        `<text x="${labelW - 6}" y="${y + 14}" class="l">${NAME[b.name]}</text>`,
        `<rect x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" class="${cls}"/>`,
        `<text x="${(labelW + w + 6).toFixed(1)}" y="${y + 14}" class="v">${Math.round(b.value).toLocaleString('en-US')}${clipped ? ' (bar cut)' : ''}</text>`,
      );
      if (clipped) {
        const x = labelW + w - 14;
        parts.push(
          `<path d="M${x} ${y + 19} l6 -18 M${x + 5} ${y + 19} l6 -18" stroke="white" stroke-width="2"/>`,
        );
      }
      y += rowH;
    }
    y += 26;
  }
  const H = y;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    '<style>.h{font-weight:bold;font-size:13px}.l{text-anchor:end}.v{fill:#333}.us{fill:#1f77b4}.them{fill:#b8b8b8}</style>',
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="10" y="16" fill="#555">Sluice vs anchors, medians of ${r.meta.rounds} alternating round(s), ${esc(r.meta.date.slice(0, 10))}, commit ${esc(r.meta.commit)}</text>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
