/**
 * W3C WebDriver error answers: `{"value": {"error", "message", "stacktrace"}}` with the status the spec gives each
 * error code, so every client (Selenium, WebdriverIO, Nightwatch) raises its own typed error.
 */
import type { ServerResponse } from 'node:http';

const STATUS = {
  'invalid argument': 400,
  'invalid session id': 404,
  'unknown command': 404,
  'unknown method': 405,
  'session not created': 500,
  timeout: 500,
  'unknown error': 500,
} as const;

export type W3cErrorCode = keyof typeof STATUS;

export class WebDriverError extends Error {
  constructor(
    readonly error: W3cErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function sendW3cError(res: ServerResponse, error: W3cErrorCode, message: string): void {
  sendW3cJson(res, STATUS[error], { value: { error, message, stacktrace: '' } });
}

export function sendW3cJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-cache',
  });
  res.end(text);
}
