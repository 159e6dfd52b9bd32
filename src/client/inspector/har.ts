/**
 * Records as the local API shows them: the detail view (JSON) and HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/).
 * Bodies are rendered here, not when captured: chunked framing removed, gzip/deflate/br decoded when the capture is
 * whole, text scrubbed of the record's secrets, anything else base64.
 */
import zlib from 'node:zlib';
import { VERSION } from '../../version.js';
import { scrub } from './mask.js';
import type { BodyCapture, Header, InspectorRecord, RecordSummary } from './recorder.js';

export interface RenderedBody {
  /** Bytes seen on the wire (after framing), captured or not. */
  size: number;
  mimeType: string;
  text?: string;
  encoding?: 'base64';
  /** Only the first bytes were kept. */
  truncated: boolean;
}

const TEXTUAL =
  /^(text\/|application\/(json|[\w.+-]*\+json|xml|[\w.+-]*\+xml|javascript|x-www-form-urlencoded))/i;

/** Removes chunked framing from what was captured (a truncated capture yields the data it holds). */
export function dechunk(buf: Buffer): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  while (i < buf.length) {
    const eol = buf.indexOf('\r\n', i, 'latin1');
    if (eol < 0) break;
    const size = parseInt(buf.toString('latin1', i, eol).split(';')[0]!.trim(), 16);
    if (!Number.isFinite(size) || size <= 0) break;
    out.push(buf.subarray(eol + 2, Math.min(eol + 2 + size, buf.length)));
    i = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

function headerValue(headers: readonly Header[], name: string): string {
  return headers.find((h) => h.name.toLowerCase() === name)?.value ?? '';
}

function decode(buf: Buffer, coding: string): Buffer | null {
  const opts = { maxOutputLength: 16 * 1024 * 1024 };
  try {
    switch (coding.trim().toLowerCase()) {
      case 'gzip':
      case 'x-gzip':
        return zlib.gunzipSync(buf, opts);
      case 'deflate':
        return zlib.inflateSync(buf, opts);
      case 'br':
        return zlib.brotliDecompressSync(buf, opts);
      default:
        return null;
    }
  } catch {
    return null;
  }
}

export function renderBody(
  b: BodyCapture,
  headers: readonly Header[],
  secrets: readonly string[],
): RenderedBody {
  const mimeType = headerValue(headers, 'content-type');
  let data = b.bytes();
  if (b.chunked) data = dechunk(data);
  const coding = headerValue(headers, 'content-encoding');
  let encodedBase64 = false;
  if (coding && coding.toLowerCase() !== 'identity') {
    const decoded = b.truncated ? null : decode(data, coding);
    if (decoded) data = decoded;
    else encodedBase64 = true;
  }
  const out: RenderedBody = { size: b.total, mimeType, truncated: b.truncated };
  if (data.length === 0) return out;
  if (!encodedBase64 && (TEXTUAL.test(mimeType) || (!mimeType && isUtf8(data)))) {
    out.text = scrub(data.toString('utf8'), secrets);
  } else {
    out.text = data.toString('base64');
    out.encoding = 'base64';
  }
  return out;
}

function isUtf8(buf: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buf);
    return !buf.includes(0);
  } catch {
    return false;
  }
}

export interface RecordDetail extends RecordSummary {
  httpVersion: string;
  statusText: string;
  requestHeaders: Header[];
  responseHeaders: Header[];
  requestBody: RenderedBody;
  responseBody: RenderedBody;
}

export function detail(r: InspectorRecord): RecordDetail {
  const secrets = r.secrets();
  return {
    ...r.summary(),
    url: scrub(r.url, secrets),
    httpVersion: r.httpVersion,
    statusText: r.statusText,
    requestHeaders: r.requestHeaders,
    responseHeaders: r.responseHeaders,
    requestBody: renderBody(r.requestBody, r.requestHeaders, secrets),
    responseBody: renderBody(r.responseBody, r.responseHeaders, secrets),
  };
}

// ---- HAR 1.2 ----------------------------------------------------------------------------------------------

type HarNV = { name: string; value: string };

function cookies(headers: readonly Header[], name: 'cookie' | 'set-cookie'): HarNV[] {
  const out: HarNV[] = [];
  for (const h of headers) {
    if (h.name.toLowerCase() !== name) continue;
    const pairs = name === 'cookie' ? h.value.split(';') : [h.value.split(';')[0]!];
    for (const p of pairs) {
      const i = p.indexOf('=');
      if (i > 0) out.push({ name: p.slice(0, i).trim(), value: p.slice(i + 1).trim() });
    }
  }
  return out;
}

function headersSize(first: string, headers: readonly Header[]): number {
  if (headers.length === 0) return -1;
  return headers.reduce((n, h) => n + h.name.length + h.value.length + 4, first.length + 4);
}

/** The URL of an entry: CONNECT records name host:port only, shown as an https URL of that authority. */
function harUrl(r: InspectorRecord): string {
  return r.kind === 'connect' ? `https://${r.url}/` : r.url;
}

function query(url: string): HarNV[] {
  try {
    return [...new URL(url).searchParams].map(([name, value]) => ({ name, value }));
  } catch {
    return [];
  }
}

function entry(r: InspectorRecord): Record<string, unknown> {
  const secrets = r.secrets();
  const url = scrub(harUrl(r), secrets);
  const req = renderBody(r.requestBody, r.requestHeaders, secrets);
  const res = renderBody(r.responseBody, r.responseHeaders, secrets);
  const total = Math.max(0, r.totalMs);
  const connect = r.connectMs >= 0 ? r.connectMs : -1;
  const ttfb = r.ttfbMs >= 0 ? r.ttfbMs : total;
  const wait = Math.max(0, ttfb - Math.max(0, connect));
  const receive = Math.max(0, total - ttfb);
  let path = url;
  try {
    const u = new URL(url);
    path = u.pathname + u.search;
  } catch {
    // keep the URL
  }
  const request: Record<string, unknown> = {
    method: r.method,
    url,
    httpVersion: r.httpVersion,
    cookies: cookies(r.requestHeaders, 'cookie'),
    headers: r.requestHeaders,
    queryString: r.kind === 'connect' ? [] : query(url),
    headersSize: headersSize(`${r.method} ${path} ${r.httpVersion}`, r.requestHeaders),
    bodySize: r.kind === 'connect' ? r.bytesUp : r.requestBody.total,
  };
  if (req.text !== undefined) {
    request['postData'] = {
      mimeType: req.mimeType,
      text: req.text,
      ...(req.encoding ? { _encoding: req.encoding } : {}),
      ...(req.truncated ? { _truncated: true } : {}),
    };
  }
  const content: Record<string, unknown> = { size: res.size, mimeType: res.mimeType };
  if (res.text !== undefined) content['text'] = res.text;
  if (res.encoding) content['encoding'] = res.encoding;
  if (res.truncated) content['_truncated'] = true;
  const statusLine = `${r.responseVersion} ${r.status} ${r.statusText}`;
  return {
    startedDateTime: new Date(r.startedAt).toISOString(),
    time: total,
    request,
    response: {
      status: r.status,
      statusText: r.statusText,
      httpVersion: r.responseVersion,
      cookies: cookies(r.responseHeaders, 'set-cookie'),
      headers: r.responseHeaders,
      content,
      redirectURL: headerValue(r.responseHeaders, 'location'),
      headersSize: headersSize(statusLine, r.responseHeaders),
      bodySize: r.kind === 'connect' ? r.bytesDown : r.responseBody.total,
    },
    cache: {},
    timings: { blocked: -1, dns: -1, connect, send: 0, wait, receive, ssl: -1 },
    _id: r.id,
    _kind: r.kind,
    _route: r.route,
    _rules: r.rules,
    _error: r.error ?? null,
    _bytesUp: r.bytesUp,
    _bytesDown: r.bytesDown,
    _done: r.done,
  };
}

/** A HAR 1.2 log of the given records (oldest first). */
export function har(records: readonly InspectorRecord[]): Record<string, unknown> {
  return {
    log: {
      version: '1.2',
      creator: { name: 'sc inspector', version: VERSION },
      entries: records.map(entry),
    },
  };
}
