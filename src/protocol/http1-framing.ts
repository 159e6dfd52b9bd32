/**
 * HTTP/1.1 message framing (docs/decisions/0006-splice.md): head parsing, used by the proxy entry for a
 * connection's first request and by sc's exchange parsers (http1-exchange.ts) for every request and response, and
 * the chunked-body scanner. Only what a proxy needs to find where each message ends and to rewrite heads; bodies are never copied or decoded.
 * Anything ambiguous is refused (RFC 9112 section 6.3): Transfer-Encoding together with Content-Length,
 * differing Content-Length values, a transfer coding other than chunked, obs-fold, invalid names.
 */

export const CRLF2 = Buffer.from('\r\n\r\n');

export class FramingError extends Error {}

export interface Head {
  /** The first line, unchanged. */
  line: string;
  /** Header fields in order, names as sent. */
  fields: [string, string][];
  /** The same names in lower case, index for index. */
  lower: string[];
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function parseHead(text: string): Head {
  const lines = text.split('\r\n');
  const fields: [string, string][] = [];
  const lower: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    const colon = l.indexOf(':');
    if (colon <= 0) throw new FramingError('malformed header line');
    const name = l.slice(0, colon);
    if (!TOKEN.test(name)) throw new FramingError(`invalid header name "${name.slice(0, 40)}"`);
    const value = l.slice(colon + 1).trim();
    if (/[\0\r\n]/.test(value)) throw new FramingError('invalid header value');
    fields.push([name, value]);
    lower.push(name.toLowerCase());
  }
  return { line: lines[0]!, fields, lower };
}

export function values(head: Head, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < head.lower.length; i++) if (head.lower[i] === name) out.push(head.fields[i]![1]);
  return out;
}

/** How a message body is delimited. */
export type Body = { kind: 'none' } | { kind: 'length'; n: number } | { kind: 'chunked' } | { kind: 'close' };

/** The body framing from Transfer-Encoding / Content-Length, or `otherwise` when neither is present. */
export function bodyOf(head: Head, otherwise: Body): Body {
  const te = values(head, 'transfer-encoding');
  const cl = values(head, 'content-length');
  if (te.length > 0) {
    if (cl.length > 0) throw new FramingError('both Transfer-Encoding and Content-Length');
    const codings = te
      .join(',')
      .split(',')
      .map((c) => c.trim().toLowerCase())
      .filter(Boolean);
    if (codings.length !== 1 || codings[0] !== 'chunked')
      throw new FramingError(`unsupported Transfer-Encoding "${te.join(', ')}"`);
    return { kind: 'chunked' };
  }
  if (cl.length > 0) {
    const all = cl
      .join(',')
      .split(',')
      .map((v) => v.trim());
    if (!all.every((v) => /^\d{1,15}$/.test(v) && v === all[0]))
      throw new FramingError('invalid Content-Length');
    const n = Number(all[0]);
    return n === 0 ? { kind: 'none' } : { kind: 'length', n };
  }
  return otherwise;
}

const enum S {
  Size,
  Ext,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  Trailer,
  FinalLf,
  Done,
}

/**
 * Follows a chunked body through the bytes handed to `scan`, which returns how many of them belong to the body
 * (all of them until the last chunk and trailers end). With `onData`, it is also told where the chunk payloads
 * lie in `buf` (start inclusive, end exclusive), for a reader that decodes the body instead of passing it on.
 */
export class ChunkedScanner {
  private s = S.Size;
  private size = 0;
  private digits = 0;
  private left = 0;

  get done(): boolean {
    return this.s === S.Done;
  }

  scan(buf: Buffer, from: number, onData?: (start: number, end: number) => void): number {
    let i = from;
    while (i < buf.length && this.s !== S.Done) {
      if (this.s === S.Data) {
        const take = Math.min(this.left, buf.length - i);
        if (onData && take > 0) onData(i, i + take);
        i += take;
        this.left -= take;
        if (this.left === 0) this.s = S.DataCr;
        continue;
      }
      const c = buf[i++]!;
      switch (this.s) {
        case S.Size: {
          const d = hex(c);
          if (d >= 0) {
            if (++this.digits > 12) throw new FramingError('chunk size too large');
            this.size = this.size * 16 + d;
          } else if (this.digits > 0 && (c === 0x3b || c === 0x20 || c === 0x09)) this.s = S.Ext;
          else if (this.digits > 0 && c === 0x0d) this.s = S.SizeLf;
          else throw new FramingError('invalid chunk size');
          break;
        }
        case S.Ext:
          if (c === 0x0d) this.s = S.SizeLf;
          else if (c === 0x0a) throw new FramingError('bare LF in chunk extension');
          break;
        case S.SizeLf:
          if (c !== 0x0a) throw new FramingError('invalid chunk size line');
          if (this.size === 0) this.s = S.TrailerStart;
          else {
            this.left = this.size;
            this.s = S.Data;
          }
          this.size = 0;
          this.digits = 0;
          break;
        case S.DataCr:
          if (c !== 0x0d) throw new FramingError('chunk data longer than its size');
          this.s = S.DataLf;
          break;
        case S.DataLf:
          if (c !== 0x0a) throw new FramingError('invalid chunk end');
          this.s = S.Size;
          break;
        case S.TrailerStart:
          this.s = c === 0x0d ? S.FinalLf : S.Trailer;
          break;
        case S.Trailer:
          if (c === 0x0a) this.s = S.TrailerStart;
          break;
        case S.FinalLf:
          if (c !== 0x0a) throw new FramingError('invalid end of chunked body');
          this.s = S.Done;
          break;
      }
    }
    return i - from;
  }
}

function hex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}
