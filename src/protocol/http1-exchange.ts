/**
 * The socket-free HTTP/1 exchange core of sc's egress (docs/decisions/0010-egress-pipeline.md): two parsers you
 * push Buffers into and that call back with what the bytes mean, in the manner of the `ws` package's Receiver.
 * No sockets, timers or I/O inside, so every split point and smuggling shape can be driven from a unit test.
 *
 *   RequestParser:  bytes from a browser  -> head, body..., end   (one message, then it holds the rest until next())
 *   ResponseParser: bytes from a target   -> interim*, head, body..., end   (expect(method) before each response)
 *
 * Bodies come out as slices of the pushed Buffers (never copied): as framed on the wire (`decode: false`, for a
 * relay that passes chunked bodies through) or as their payload (`decode: true`, for a peer without HTTP/1
 * framing such as an HTTP/2 stream). Framing two parties could read differently is an error (http1-framing.ts).
 */
import { METHODS } from 'node:http';
import {
  bodyOf,
  ChunkedScanner,
  CRLF2,
  FramingError,
  parseHead,
  values,
  type Body,
  type Head,
} from './http1-framing.js';
import { connectionTokens } from './tunnel-protocol.js';

export { FramingError };

const EMPTY = Buffer.alloc(0);
const NONE: Body = { kind: 'none' };
const CLOSE: Body = { kind: 'close' };
const KNOWN_METHODS = new Set(METHODS);

/** What went wrong, as the error table's code: the status a browser gets (protocol/errors.ts). */
export type ParseErrorCode = 'bad_request' | 'header_too_large';

export class ParseError extends FramingError {
  constructor(
    readonly code: ParseErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** What both kinds of message head share. */
export interface MessageHead {
  head: Head;
  http10: boolean;
  /** How the body is delimited on the wire. */
  body: Body;
  /** The Connection header's tokens, lower case (the fields they name are hop-by-hop too). */
  connection: string[];
  /** Whether the sender keeps the connection open after this message. */
  keepAlive: boolean;
  /** Bytes of the head on the wire, the blank line included. */
  headBytes: number;
}

export interface RequestHead extends MessageHead {
  method: string;
  /** The request target as sent (absolute form from a proxy client). */
  target: string;
}

export interface ResponseHead extends MessageHead {
  status: number;
  /** The reason phrase, possibly empty. */
  reason: string;
}

export interface ParserEvents<H> {
  head(h: H): void;
  /** Body bytes, a slice of a pushed Buffer; only valid during the call unless kept (never reused by us). */
  body(chunk: Buffer): void;
  /** The message is complete. */
  end(): void;
  /** The bytes cannot be read safely; the parser accepts nothing more. */
  error(err: ParseError): void;
}

export interface ResponseEvents extends ParserEvents<ResponseHead> {
  /** A 1xx answer other than 101, with its bytes as received; the final answer follows. */
  interim(h: ResponseHead, raw: Buffer): void;
}

export interface ParserOptions {
  /** Largest head accepted, blank line excluded. */
  maxHeaderSize: number;
  /** Chunked bodies come out as their payload instead of as framed. */
  decode?: boolean;
}

/** Whether the sender keeps the connection open after this message (HTTP/1.0 must ask, 1.1 must refuse). */
export function keepsAlive(connection: readonly string[], http10: boolean): boolean {
  if (connection.length === 0) return !http10;
  return http10 ? connection.includes('keep-alive') : !connection.includes('close');
}

const enum St {
  Head,
  Body,
  Done,
  Failed,
}

abstract class MessageParser<H extends MessageHead> {
  protected buf: Buffer = EMPTY;
  protected st = St.Head;
  private framing: Body = { kind: 'none' };
  private left = 0;
  private chunks: ChunkedScanner | null = null;
  private complete = false;
  /** Body bytes consumed on the wire for the current message (chunk framing included). */
  bodyBytes = 0;

  constructor(
    protected readonly ev: ParserEvents<H>,
    protected readonly opts: ParserOptions,
  ) {}

  /** Bytes received but not yet part of a message: a partial head, or what follows a finished message. */
  get buffered(): number {
    return this.buf.length;
  }

  /** Between a head and its end. */
  get inBody(): boolean {
    return this.st === St.Body;
  }

  get done(): boolean {
    return this.st === St.Done;
  }

  get failed(): boolean {
    return this.st === St.Failed;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0 || this.st === St.Failed) return;
    if (this.st === St.Body && this.buf.length === 0) {
      this.feedBody(chunk);
      if ((this.st as St) === St.Head) this.run();
      return;
    }
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    this.run();
  }

  /** The message for a parsed head, or null when it failed or was an interim answer already handed on. */
  protected abstract onHead(head: Head, headBytes: number, raw: Buffer): H | null;

  protected fail(code: ParseErrorCode, message: string): void {
    this.st = St.Failed;
    this.buf = EMPTY;
    this.ev.error(new ParseError(code, message));
  }

  protected run(): void {
    while (this.buf.length > 0) {
      if (this.st === St.Body) {
        const b = this.buf;
        this.buf = EMPTY;
        this.feedBody(b);
        continue;
      }
      if (this.st !== St.Head) return;
      const buf = this.buf;
      const max = this.opts.maxHeaderSize;
      const end = buf.indexOf(CRLF2);
      if (end < 0 || end > max) {
        if (end > max || buf.length > max) this.fail('header_too_large', 'message head too large');
        return;
      }
      let head: Head;
      try {
        head = parseHead(buf.toString('latin1', 0, end));
      } catch (err) {
        return this.fail('bad_request', (err as Error).message);
      }
      this.buf = buf.subarray(end + 4);
      const h = this.onHead(head, end + 4, buf.subarray(0, end + 4));
      if (h) this.startBody(h);
      else if ((this.st as St) === St.Failed) return;
      // else an interim answer was handed on: the final one follows
    }
  }

  protected startBody(h: H): void {
    this.framing = h.body;
    this.bodyBytes = 0;
    this.left = h.body.kind === 'length' ? h.body.n : 0;
    this.chunks = h.body.kind === 'chunked' ? new ChunkedScanner() : null;
    this.complete = false;
    this.st = St.Body;
    this.ev.head(h);
    if (this.st !== St.Body) return; // the handler reset or failed us
    if (h.body.kind === 'none') this.finishMessage();
  }

  private finishMessage(): void {
    this.st = St.Done;
    this.ev.end();
  }

  /**
   * Body bytes in: handed on, and what follows the body kept in `buf` before `end` is called (whose handler may
   * ask for the next message at once).
   */
  private feedBody(b: Buffer): void {
    const n = this.consumeBody(b);
    if (this.st === St.Failed) return;
    this.buf = n < b.length ? b.subarray(n) : EMPTY;
    if (this.complete) {
      this.complete = false;
      this.finishMessage();
    }
  }

  /** Hands body bytes on; returns how many of `b` belonged to the body. */
  private consumeBody(b: Buffer): number {
    const f = this.framing;
    let n: number;
    if (f.kind === 'length') {
      n = Math.min(this.left, b.length);
      this.left -= n;
      this.bodyBytes += n;
      if (n > 0) this.ev.body(n === b.length ? b : b.subarray(0, n));
      if (this.left === 0) this.complete = true;
      return n;
    }
    if (f.kind === 'chunked') {
      const sc = this.chunks!;
      try {
        if (this.opts.decode) {
          const parts: [number, number][] = [];
          n = sc.scan(b, 0, (s, e) => parts.push([s, e]));
          this.bodyBytes += n;
          for (const [s, e] of parts) this.ev.body(b.subarray(s, e));
        } else {
          n = sc.scan(b, 0);
          this.bodyBytes += n;
          if (n > 0) this.ev.body(n === b.length ? b : b.subarray(0, n));
        }
      } catch (err) {
        this.fail('bad_request', (err as Error).message);
        return b.length;
      }
      if (sc.done) this.complete = true;
      return n;
    }
    if (f.kind === 'close') {
      this.bodyBytes += b.length;
      this.ev.body(b);
      return b.length;
    }
    return 0;
  }

  /**
   * The peer closed its side. A body delimited by the close ends here; inside any other message it is an error
   * (the peer stopped mid-message). Returns true when the close ended a message.
   */
  eof(): boolean {
    if (this.st === St.Body && this.framing.kind === 'close') {
      this.finishMessage();
      return true;
    }
    if (this.st === St.Body || (this.st === St.Head && this.buf.length > 0)) {
      this.fail('bad_request', 'the connection ended inside a message');
    }
    return false;
  }
}

/**
 * Requests from a browser's keep-alive connection, one at a time: after `end` the parser holds whatever follows
 * (pipelined requests) until `next()`.
 */
export class RequestParser extends MessageParser<RequestHead> {
  /** Ready for the next request: parses what is buffered. */
  next(): void {
    if (this.st !== St.Done) return;
    this.st = St.Head;
    this.run();
  }

  protected onHead(head: Head, headBytes: number): RequestHead | null {
    const m = /^([A-Z]{1,20}) (\S+) HTTP\/1\.([01])$/.exec(head.line);
    if (!m || !KNOWN_METHODS.has(m[1]!)) {
      this.fail('bad_request', 'malformed request line');
      return null;
    }
    let body: Body;
    try {
      body = bodyOf(head, NONE);
    } catch (err) {
      this.fail('bad_request', (err as Error).message);
      return null;
    }
    const http10 = m[3] === '0';
    const connection = connectionTokens(values(head, 'connection'));
    return {
      head,
      method: m[1]!,
      target: m[2]!,
      http10,
      body,
      connection,
      keepAlive: keepsAlive(connection, http10),
      headBytes,
    };
  }
}

/**
 * Responses from a target, in the order their requests were sent: `expect(method)` names the request each next
 * response answers (HEAD and 204/304 answers have no body). Bytes after a complete response stay buffered: a
 * target that sends them is out of step, and its connection must not be reused.
 */
export class ResponseParser extends MessageParser<ResponseHead> {
  private method = 'GET';

  constructor(
    protected override readonly ev: ResponseEvents,
    opts: ParserOptions,
  ) {
    super(ev, opts);
  }

  /** The next response answers a `method` request. Bytes already buffered are parsed now. */
  expect(method: string): void {
    this.method = method;
    if (this.st === St.Done || this.st === St.Head) {
      this.st = St.Head;
      this.run();
    }
  }

  protected onHead(head: Head, headBytes: number, raw: Buffer): ResponseHead | null {
    const m = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(head.line);
    if (!m) {
      this.fail('bad_request', 'malformed status line');
      return null;
    }
    const status = Number(m[2]);
    const http10 = m[1] === '0';
    const connection = connectionTokens(values(head, 'connection'));
    if (status === 101 || status < 100) {
      this.fail('bad_request', `unexpected ${status} from the target`);
      return null;
    }
    let body: Body = NONE;
    if (status >= 200 && this.method !== 'HEAD' && status !== 204 && status !== 304) {
      try {
        body = bodyOf(head, CLOSE);
      } catch (err) {
        this.fail('bad_request', (err as Error).message);
        return null;
      }
    }
    const res: ResponseHead = {
      head,
      status,
      reason: m[3] ?? '',
      http10,
      body,
      connection,
      keepAlive: keepsAlive(connection, http10),
      headBytes,
    };
    if (status < 200) {
      // 100 Continue and the like: passed on, and the final answer follows in the same bytes or later ones.
      this.ev.interim(res, raw);
      return null;
    }
    return res;
  }
}
