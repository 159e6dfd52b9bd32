/**
 * Another node's connection of a tunnel, as this node's registry sees it: one lease row in the store. A stream
 * for it becomes a node-link stream to that node (node-link.ts), which carries it onto the real connection.
 * The stream limit is the real connection's; the open-stream count is this node's share of it.
 */
import http2, { type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';
import type { ControlOp } from '../../protocol/tunnel-protocol.js';
import type { Connection } from '../registry/tunnel-connection.js';
import type { PeerLinks } from './node-link.js';

export class RemoteConnection implements Connection {
  readonly viaNode = true;
  readonly remote: string;
  openStreams = 0;
  usable = true;
  closed = false;
  onChange: () => void = () => undefined;
  private readonly closeListeners: (() => void)[] = [];

  constructor(
    readonly id: string,
    readonly tunnelId: string,
    readonly maxStreams: number,
    readonly nodeId: string,
    private readonly address: string,
    private readonly peers: PeerLinks,
  ) {
    this.remote = `node:${nodeId}`;
  }

  onClose(fn: () => void): void {
    this.closeListeners.push(fn);
  }

  request(headers: OutgoingHttpHeaders, endStream: boolean): ClientHttp2Stream {
    const stream = this.peers.request(this.nodeId, this.address, this.tunnelId, headers, endStream);
    this.openStreams++;
    stream.once('close', () => {
      this.openStreams--;
      // The other node had no usable connection of the tunnel (its client is moving, or it drains): route
      // elsewhere for a moment, as for a refused tunnel stream (tunnel-connection.ts).
      if (stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM && this.usable) {
        this.usable = false;
        setTimeout(() => {
          if (!this.closed) {
            this.usable = true;
            this.onChange();
          }
        }, 1000).unref();
      }
      this.onChange();
    });
    return stream;
  }

  /** Passes a control message (shutdown) to the node that holds the connection. */
  control(op: ControlOp, body: unknown, timeoutMs = 5000): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return this.peers.message(this.nodeId, this.address, this.tunnelId, 'control', { op, body }, timeoutMs);
  }

  /** Asks the node that holds the connection to drain the tunnel's connections there. */
  drain(): void {
    this.usable = false;
    if (!this.closed) void this.peers.message(this.nodeId, this.address, this.tunnelId, 'drain', {});
    this.onChange();
  }

  /** Takes it out of routing (its lease went, or its node is gone). */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.usable = false;
    for (const fn of this.closeListeners) fn();
    this.onChange();
  }
}
