/**
 * The WebDriver BiDi WebSocket, relayed. The new-session reply names the gateway's URL instead of the upstream's
 * (`wss://<gateway>/wd/hub/session/<id>/se/bidi`); a client's upgrade there is replayed to the upstream's
 * `webSocketUrl` and, once both sides have switched protocols, the two sockets are piped as bytes.
 *
 *   client ── GET .../se/bidi, Upgrade: websocket ──> gateway ── GET <upstream ws url>, same key ──> upstream
 *   client <══════════════ frames, untouched ══════════════════════════════════════════════════> upstream
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';

const FORWARDED = [
  'upgrade',
  'connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
];

export function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  if (socket.writable)
    socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  else socket.destroy();
}

/** Relays the upgrade to `wsUrl`; `onActivity` runs on every chunk from the client (the idle clock). */
export function relayWebSocket(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  wsUrl: URL,
  timeoutMs: number,
  onActivity: () => void,
): void {
  const target = new URL(wsUrl.href);
  target.protocol = target.protocol === 'wss:' ? 'https:' : 'http:';
  const headers: Record<string, string> = {};
  for (const name of FORWARDED) {
    const v = req.headers[name];
    if (typeof v === 'string') headers[name] = v;
  }
  const up = (target.protocol === 'https:' ? https : http).request(target, { headers, timeout: timeoutMs });
  up.on('timeout', () => up.destroy(new Error('timeout')));
  up.on('error', () => refuseUpgrade(socket, 502, 'Bad Gateway'));
  up.on('response', (r) => {
    r.resume();
    refuseUpgrade(
      socket,
      r.statusCode === 404 ? 404 : 502,
      r.statusCode === 404 ? 'Not Found' : 'Bad Gateway',
    );
  });
  up.on('upgrade', (r, upSocket, upHead) => {
    up.setTimeout(0);
    let text = 'HTTP/1.1 101 Switching Protocols\r\n';
    for (let i = 0; i < r.rawHeaders.length; i += 2) text += `${r.rawHeaders[i]}: ${r.rawHeaders[i + 1]}\r\n`;
    socket.write(text + '\r\n');
    if (upHead.length) socket.write(upHead);
    if (head.length) upSocket.write(head);
    socket.on('data', onActivity);
    socket.pipe(upSocket).pipe(socket);
    const close = (): void => {
      socket.destroy();
      upSocket.destroy();
    };
    socket.once('close', close);
    upSocket.once('close', close);
    socket.on('error', close);
    upSocket.on('error', close);
  });
  up.end();
}
