/**
 * Summarises a V8 .cpuprofile (from node --cpu-prof): self time per function, and per area (TLS, HTTP/2, HTTP/1
 * parser, streams, GC, the project's own code...), so docs/benchmarks.md can say where the data path spends CPU.
 */
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export interface ProfileSummary {
  totalMs: number;
  top: { name: string; selfPct: number }[];
  areas: { area: string; selfPct: number }[];
}

function area(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(idle)' || fn === '(program)') return fn;
  if (url.includes('/dist/src/')) return 'Sluice code';
  if (/node:internal\/(tls|crypto)|node:tls/.test(url) || fn.includes('TLSWrap')) return 'TLS';
  if (url.includes('http2')) return 'HTTP/2';
  if (/_http_|node:http\b|node:internal\/http/.test(url)) return 'HTTP/1';
  if (url.includes('streams') || url.includes('stream_base')) return 'streams';
  if (url.includes('node_modules')) return 'dependencies';
  if (url.startsWith('node:')) return 'other Node internals';
  if (url === '') return 'native / V8';
  return 'other';
}

export async function summariseProfile(path: string, topN = 12): Promise<ProfileSummary> {
  const prof = JSON.parse(await readFile(path, 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const hits = new Map<number, number>();
  for (const id of prof.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const byFn = new Map<string, number>();
  const byArea = new Map<string, number>();
  for (const n of prof.nodes) {
    const h = hits.get(n.id) ?? 0;
    if (h === 0) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const a = area(url, functionName);
    byArea.set(a, (byArea.get(a) ?? 0) + h);
    if (a === '(idle)' || a === '(program)') continue;
    const short = url.replace(/^.*\/dist\/src\//, 'src/').replace(/^file:\/\//, '');
    const name = `${functionName || '(anonymous)'} ${short ? `${short}:${lineNumber + 1}` : ''}`.trim();
    byFn.set(name, (byFn.get(name) ?? 0) + h);
  }
  const total = prof.samples.length || 1;
  const totalMs = prof.timeDeltas.reduce((a, b) => a + b, 0) / 1000;
  const pct = (h: number): number => Math.round((h / total) * 1000) / 10;
  return {
    totalMs,
    top: [...byFn.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, topN)
      .map(([name, h]) => ({ name, selfPct: pct(h) })),
    areas: [...byArea.entries()].sort((a, b) => b[1] - a[1]).map(([a, h]) => ({ area: a, selfPct: pct(h) })),
  };
}
