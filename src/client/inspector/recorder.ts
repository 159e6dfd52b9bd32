/**
 * The live request inspector's memory (`sc run --inspector`, docs/inspector.md): one record per request that sc
 * handles for the tunnel, written by hooks in the egress pipeline and read by the local API (routes.ts).
 *
 *   pipeline.begin() ──> Inspector.begin() ──> Record (ring: at most --inspector-max-requests, oldest out first)
 *   Exchange: sent head, body bytes, response head, body bytes, first byte, dial route ──> Record
 *   Transaction.finish() ──> Record.finish(): status, error code, bytes, duration ──> live feed (SSE)
 *
 * Memory is bounded twice: by the number of records and by a byte budget (--inspector-max-memory) that counts
 * captured headers and bodies; each body keeps at most its first MAX_BODY bytes. Header values are masked as they
 * are recorded (mask.ts), so no credential is ever held here in clear.
 */
import type { ResponseHead } from '../../protocol/http1-exchange.js';
import { maskHeader, scrub } from './mask.js';

export type Header = { name: string; value: string };

/** How the request reached sc: a request stream, a spliced browser connection, --debug-address, or CONNECT. */
export type RecordKind = 'stream' | 'splice' | 'debug' | 'connect';

export interface InspectorConfig {
  maxRequests: number;
  /** Byte budget of every record together (headers and captured bodies). */
  maxBytes: number;
  /** Most bytes kept of each body. */
  maxBody: number;
  /** sc's secret option values (--auth passwords, --header values...), scrubbed wherever they appear. */
  secrets: readonly string[];
}

export const MAX_BODY = 64 * 1024;

/** Fixed cost charged per record, on top of its headers and bodies. */
const RECORD_COST = 512;

/** A body as captured: its first bytes (as on the wire), the total seen, and whether the rest was dropped. */
export class BodyCapture {
  readonly chunks: Buffer[] = [];
  kept = 0;
  total = 0;
  truncated = false;
  /** The captured bytes carry chunked framing (the relay copies bodies as they are). */
  chunked = false;

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

export type Change = { type: 'add' | 'update'; record: InspectorRecord } | { type: 'evict'; id: number };

export class InspectorRecord {
  readonly startedAt = Date.now();
  private readonly t0 = process.hrtime.bigint();
  status = 0;
  statusText = '';
  /** X-Sluice-Error code of a failed request ('canceled' when the client went away). */
  error: string | undefined;
  /** Where the pipeline sent it: "direct", "proxy http://host:port", "denied". */
  route = '';
  /** sc's own rules that changed the request: "--auth", "--header". */
  rules: string[] = [];
  httpVersion = 'HTTP/1.1';
  responseVersion = 'HTTP/1.1';
  /** Path and query as sent to the target. */
  requestHeaders: Header[] = [];
  responseHeaders: Header[] = [];
  readonly requestBody = new BodyCapture();
  readonly responseBody = new BodyCapture();
  bytesUp = 0;
  bytesDown = 0;
  /** Milliseconds from start: connection ready (-1 when reused or none), first response byte, end. */
  connectMs = -1;
  ttfbMs = -1;
  totalMs = -1;
  done = false;
  /** Credentials masked in this record's headers, scrubbed from its bodies when shown. */
  readonly seen: string[] = [];
  cost = RECORD_COST;
  /** False once evicted: the hooks stop writing into it. */
  live = true;

  constructor(
    private readonly owner: Inspector,
    readonly id: number,
    readonly kind: RecordKind,
    readonly method: string,
    readonly url: string,
  ) {}

  private ms(): number {
    return Number(process.hrtime.bigint() - this.t0) / 1e6;
  }

  /**
   * The request head as written to the target (after sc's header rules and --auth, whose Authorization is
   * masked like any other); `authInjected` and `headerRules` name the rules that applied.
   */
  sent(head: string, authInjected: boolean, headerRules: boolean): void {
    if (!this.live) return;
    const lines = head.split('\r\n');
    const first = lines[0] ?? '';
    this.httpVersion = first.slice(first.lastIndexOf(' ') + 1) || 'HTTP/1.1';
    const headers: Header[] = [];
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const c = line.indexOf(':');
      if (c <= 0) continue;
      const name = line.slice(0, c);
      headers.push(this.header(name, line.slice(c + 1).trim()));
    }
    this.requestHeaders = headers;
    if (authInjected) this.rules.push('--auth');
    if (headerRules) this.rules.push('--header');
    this.requestBody.chunked = /\r\ntransfer-encoding:\s*chunked/i.test(head);
  }

  /** The response's status line and fields as the target sent them; `chunked`: its body bytes keep the framing. */
  response(res: ResponseHead, chunked: boolean): void {
    if (!this.live) return;
    this.status = res.status;
    this.statusText = res.reason;
    this.responseVersion = res.http10 ? 'HTTP/1.0' : 'HTTP/1.1';
    this.responseHeaders = res.head.fields.map(([n, v]) => this.header(n, v));
    this.responseBody.chunked = chunked;
  }

  private header(name: string, value: string): Header {
    const h = { name, value: maskHeader(name, value, this.owner.cfg.secrets, this.seen) };
    this.charge(name.length + h.value.length + 32);
    return h;
  }

  /** The dial's outcome: how the target was reached. */
  connected(route: string, fresh: boolean): void {
    this.route = route;
    if (fresh && this.connectMs < 0) this.connectMs = this.ms();
  }

  firstByte(): void {
    if (this.ttfbMs < 0) this.ttfbMs = this.ms();
  }

  requestData(chunk: Buffer): void {
    this.capture(this.requestBody, chunk);
  }

  responseData(chunk: Buffer): void {
    this.capture(this.responseBody, chunk);
  }

  private capture(b: BodyCapture, chunk: Buffer): void {
    b.total += chunk.length;
    if (!this.live || b.truncated) return;
    const room = this.owner.cfg.maxBody - b.kept;
    const n = Math.min(room, chunk.length);
    if (n > 0 && this.charge(n)) {
      // A copy: the chunk's memory belongs to the socket's read buffer.
      b.chunks.push(Buffer.from(chunk.subarray(0, n)));
      b.kept += n;
      if (n < chunk.length) b.truncated = true;
    } else b.truncated = true;
  }

  private charge(n: number): boolean {
    return this.live && this.owner.charge(this, n);
  }

  finish(status: number, error: string | undefined, up: number, down: number): void {
    if (this.done) return;
    this.done = true;
    this.status = status;
    this.error = error;
    this.bytesUp = up;
    this.bytesDown = down;
    this.totalMs = this.ms();
    if (this.ttfbMs > this.totalMs) this.ttfbMs = this.totalMs;
    if (this.live) this.owner.changed({ type: 'update', record: this });
  }

  /** Secrets to scrub from this record's bodies and URL when shown. */
  secrets(): string[] {
    return [...this.owner.cfg.secrets, ...this.seen];
  }

  /** The list view: no headers or bodies. */
  summary(): RecordSummary {
    return {
      id: this.id,
      kind: this.kind,
      startedDateTime: new Date(this.startedAt).toISOString(),
      method: this.method,
      url: scrub(this.url, this.owner.cfg.secrets),
      status: this.status,
      error: this.error ?? null,
      route: this.route,
      rules: this.rules,
      timings: { connect: this.connectMs, ttfb: this.ttfbMs, total: this.totalMs },
      bytesUp: this.bytesUp,
      bytesDown: this.bytesDown,
      done: this.done,
    };
  }
}

export interface RecordSummary {
  id: number;
  kind: RecordKind;
  startedDateTime: string;
  method: string;
  url: string;
  status: number;
  error: string | null;
  route: string;
  rules: string[];
  /** Milliseconds from the start; -1 when it did not happen (yet). */
  timings: { connect: number; ttfb: number; total: number };
  bytesUp: number;
  bytesDown: number;
  done: boolean;
}

export class Inspector {
  private readonly records = new Map<number, InspectorRecord>();
  private nextId = 1;
  private bytes = 0;
  private readonly listeners = new Set<(c: Change) => void>();

  constructor(readonly cfg: InspectorConfig) {}

  begin(kind: RecordKind, method: string, url: string): InspectorRecord {
    const r = new InspectorRecord(this, this.nextId++, kind, method, url);
    this.records.set(r.id, r);
    this.bytes += r.cost + url.length;
    r.cost += url.length;
    while (this.records.size > this.cfg.maxRequests) this.evictOldest();
    this.changed({ type: 'add', record: r });
    return r;
  }

  /** @internal Takes `n` bytes of the budget for `r`, evicting older records; false when even that is not enough. */
  charge(r: InspectorRecord, n: number): boolean {
    this.bytes += n;
    r.cost += n;
    while (this.bytes > this.cfg.maxBytes) {
      const oldest = this.records.values().next().value;
      if (!oldest || oldest === r) {
        this.bytes -= n;
        r.cost -= n;
        return false;
      }
      this.evict(oldest);
    }
    return true;
  }

  private evictOldest(): void {
    const oldest = this.records.values().next().value;
    if (oldest) this.evict(oldest);
  }

  private evict(r: InspectorRecord): void {
    this.records.delete(r.id);
    this.bytes -= r.cost;
    r.live = false;
    this.changed({ type: 'evict', id: r.id });
  }

  /** @internal */
  changed(c: Change): void {
    for (const l of this.listeners) l(c);
  }

  /** Oldest first. */
  list(): InspectorRecord[] {
    return [...this.records.values()];
  }

  get(id: number): InspectorRecord | undefined {
    return this.records.get(id);
  }

  /** Bytes the records hold now (as charged). */
  usedBytes(): number {
    return this.bytes;
  }

  clear(): void {
    for (const r of [...this.records.values()]) this.evict(r);
  }

  subscribe(fn: (c: Change) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
