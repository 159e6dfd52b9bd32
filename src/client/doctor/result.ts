/** One `sc doctor` check's outcome, and how the results are printed (text lines or one JSON document). */

export type CheckStatus = 'OK' | 'FAIL' | 'SKIP';

export interface CheckResult {
  /** Short, stable name: dns, dns-server, proxy, pac, proxy-sauce, server, tls, credentials, tunnel, url. */
  name: string;
  status: CheckStatus;
  /** What was checked and what was found. */
  detail: string;
  /** FAIL only: why it failed, in the terms of the network. */
  cause?: string;
  /** FAIL only: what to change (a flag, the server, the network). */
  fix?: string;
}

export const ok = (name: string, detail: string): CheckResult => ({ name, status: 'OK', detail });
export const skip = (name: string, detail: string): CheckResult => ({ name, status: 'SKIP', detail });
export const fail = (name: string, detail: string, cause: string, fix: string): CheckResult => ({
  name,
  status: 'FAIL',
  detail,
  cause,
  fix,
});

/** Replaces every secret (access key, proxy passwords...) by ****: the last guard before anything is printed. */
export function redactText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join('****');
  return out;
}

/** Width of the name column; longer names (url ...) push the detail right. */
const NAME_WIDTH = 12;

/** One check as text: status, name, detail; under a failure its cause and fix. */
export function formatResult(r: CheckResult): string {
  const lines = [`${r.status.padEnd(4)}  ${r.name.padEnd(NAME_WIDTH)}  ${r.detail}`];
  if (r.cause) lines.push(`      cause: ${r.cause}`);
  if (r.fix) lines.push(`      fix:   ${r.fix}`);
  return lines.join('\n') + '\n';
}

/** The last line of the text report. */
export function formatSummary(results: readonly CheckResult[]): string {
  const n = (s: CheckStatus): number => results.filter((r) => r.status === s).length;
  return `\n${n('OK')} passed, ${n('FAIL')} failed, ${n('SKIP')} skipped\n`;
}

/** The text report: one line per check (status, name, detail), cause and fix under each failure, a summary. */
export function formatText(results: readonly CheckResult[]): string {
  return results.map(formatResult).join('') + formatSummary(results);
}

export function formatJson(results: readonly CheckResult[]): string {
  const passed = results.every((r) => r.status !== 'FAIL');
  return JSON.stringify({ ok: passed, checks: results }, null, 2) + '\n';
}
