/**
 * Structured logging shared by `sc` and `sc-server`.
 *
 * Text lines follow SC5's layout so that people who grep SC5 logs find the same shape:
 *   2026/11/23 10:00:00.123456 [control] [INFO] Sluice tunnel is up, you may start your tests id=abc
 * JSON lines carry the same fields: {"time","level","module","msg",...fields}.
 */
import type { Writable } from 'node:stream';

export type LogLevel = 'error' | 'info' | 'debug';
export type LogFormat = 'text' | 'json';
export type LogFields = Record<string, unknown>;

export interface Logger {
  error(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  /** A logger for another module ("control", "tunnel", "proxy", "api", "edge", "rest"...). */
  child(module: string): Logger;
  readonly level: LogLevel;
}

export interface LogSink {
  write(line: string): void;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  module?: string;
  sink?: LogSink | Writable;
  /** Secret strings replaced by **** in every line: a last defence should a secret reach a message. */
  redact?: readonly string[];
}

const rank: Record<LogLevel, number> = { error: 0, info: 1, debug: 2 };

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

function textTime(d: Date): string {
  return (
    `${d.getFullYear()}/${pad(d.getMonth() + 1)}/${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}000`
  );
}

function textValue(v: unknown): string {
  if (v instanceof Error) return JSON.stringify(v.message);
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s !== undefined && /[\s"=]/.test(s) ? JSON.stringify(s) : String(s);
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? 'info';
  const format = opts.format ?? 'text';
  const sink = opts.sink ?? process.stderr;
  const secrets = (opts.redact ?? []).filter((s) => s.length > 0);
  const emit = (lvl: LogLevel | 'warn', module: string, msg: string, fields?: LogFields): void => {
    const effective: LogLevel = lvl === 'warn' ? 'info' : lvl;
    if (rank[effective] > rank[level]) return;
    const now = new Date();
    let line: string;
    if (format === 'json') {
      const rec: LogFields = { time: now.toISOString(), level: lvl, module, msg };
      for (const [k, v] of Object.entries(fields ?? {})) rec[k] = v instanceof Error ? v.message : v;
      line = JSON.stringify(rec);
    } else {
      const kv = Object.entries(fields ?? {})
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${textValue(v)}`)
        .join(' ');
      line = `${textTime(now)} [${module}] [${lvl.toUpperCase()}] ${msg}${kv ? ' ' + kv : ''}`;
    }
    for (const secret of secrets) if (line.includes(secret)) line = line.split(secret).join('****');
    sink.write(line + '\n');
  };
  const make = (module: string): Logger => ({
    level,
    error: (m, f) => emit('error', module, m, f),
    warn: (m, f) => emit('warn', module, m, f),
    info: (m, f) => emit('info', module, m, f),
    debug: (m, f) => emit('debug', module, m, f),
    child: (mod) => make(mod),
  });
  return make(opts.module ?? 'main');
}

/** A logger that drops everything; for tests and library use. */
export const nullLogger: Logger = createLogger({ sink: { write: () => undefined }, level: 'error' });
