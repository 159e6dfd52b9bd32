/**
 * Keeps --tunnel-connections links up for one tunnel and derives readiness from them: ready while at least one
 * link is registered and routable and we are not draining. Each link redials on its own with capped, jittered
 * backoff, so one dead connection never stalls the others.
 */
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Logger } from '../../observability/log.js';
import type { ShutdownMessage } from '../../protocol/tunnel-protocol.js';
import type { ClientMetrics } from '../api/metrics.js';
import { Backoff, sleep } from './backoff.js';
import { HandshakeError, TunnelLink, type LinkConfig } from './tunnel-link.js';

export interface SupervisorEvents {
  /** First time any link became routable. */
  firstReady(): void;
  /** The server ended the tunnel (replaced, deleted) or refused it for good. */
  ended(reason: string, message: string, clean: boolean): void;
  stream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void;
}

export class Supervisor {
  readonly links: TunnelLink[] = [];
  private readonly abort = new AbortController();
  private everReady = false;
  private byteTimer: NodeJS.Timeout | undefined;
  private readonly connecting = new Map<TunnelLink, () => void>();
  draining = false;

  constructor(
    cfgs: LinkConfig[],
    private readonly events: SupervisorEvents,
    private readonly log: Logger,
    private readonly metrics: ClientMetrics,
  ) {
    for (const cfg of cfgs) {
      this.links.push(
        new TunnelLink(
          cfg,
          {
            connected: (l) => this.connecting.get(l)?.(),
            ready: (l) => this.onReady(l),
            down: (l, reason) => this.onDown(l, reason),
            shutdown: (m: ShutdownMessage) => this.events.ended(m.reason, m.message, true),
            refused: () => undefined,
            stream: (s, h) => this.events.stream(s, h),
          },
          log,
        ),
      );
    }
  }

  start(): void {
    this.log.info('waiting for the tunnel server to be reachable');
    for (const link of this.links) void this.keep(link);
    this.byteTimer = setInterval(() => this.updateByteMetrics(), 2000);
    this.byteTimer.unref();
  }

  /** sauce_connect_tunnel_{received,sent}_bytes{conn}: running totals per link, across reconnects. */
  private updateByteMetrics(): void {
    for (const link of this.links) {
      const b = link.bytes();
      const conn = String(link.cfg.index);
      this.metrics.tunnelReceivedBytes.set({ conn }, b.read);
      this.metrics.tunnelSentBytes.set({ conn }, b.written);
    }
  }

  active(): number {
    return this.links.filter((l) => l.ready).length;
  }

  isReady(): boolean {
    return !this.draining && this.active() > 0;
  }

  private onReady(link: TunnelLink): void {
    this.metrics.tunnelConnections.set(this.active());
    this.log.info('established connection to tunnel server', {
      active: `${this.active()}/${this.links.length}`,
      index: link.cfg.index,
    });
    if (!this.everReady) {
      this.everReady = true;
      this.events.firstReady();
    }
  }

  private onDown(link: TunnelLink, reason: string): void {
    this.metrics.tunnelConnections.set(this.active());
    this.metrics.tunnelDialerClosedTotal.inc({ host: link.cfg.edgeAddress });
    if (!this.abort.signal.aborted) {
      this.log.info('lost connection to tunnel server', {
        index: link.cfg.index,
        reason,
        active: `${this.active()}/${this.links.length}`,
      });
    }
  }

  private async keep(link: TunnelLink): Promise<void> {
    const backoff = new Backoff(100, 10_000);
    const nodes = link.cfg.nodes ?? [];
    let turn = 0;
    while (!this.abort.signal.aborted && !this.draining) {
      if (nodes.length > 0) link.cfg.edgeAddress = nodes[(link.cfg.index + turn++) % nodes.length]!;
      const host = link.cfg.edgeAddress;
      const started = Date.now();
      const end = this.metrics.tunnelConnectDuration.startTimer({ address: host });
      this.connecting.set(link, () => end());
      try {
        this.metrics.tunnelDialerDialedTotal.inc({ host });
        await link.run();
        if (Date.now() - started > 10_000) backoff.reset();
      } catch (err) {
        this.metrics.tunnelDialerErrorsTotal.inc({ host });
        if (
          err instanceof HandshakeError &&
          (err.status === 401 || err.status === 404 || err.status === 410 || err.status === 426)
        ) {
          this.events.ended(
            err.code,
            `the server refused the tunnel connection: ${err.message}`,
            err.code === 'tunnel_terminated',
          );
          return;
        }
        this.metrics.tunnelErrorsTotal.inc({ type: 'connect' });
        // Another node may take us at once: wait only once every node has failed in a row.
        const delay = nodes.length > 1 && turn % nodes.length !== 0 ? 0 : backoff.next();
        this.log.error('connect failed', {
          address: host,
          index: link.cfg.index,
          backoff: `${delay}ms`,
          error: (err as NodeJS.ErrnoException).code ?? (err as Error).message,
        });
        await sleep(delay, this.abort.signal);
        continue;
      }
      if (!this.abort.signal.aborted && !this.draining) await sleep(backoff.next(), this.abort.signal);
    }
  }

  /** Sends GOAWAY on every link: the server routes nothing new here; streams in flight go on. */
  drain(): void {
    this.draining = true;
    for (const l of this.links) l.drain();
  }

  inFlight(): number {
    return this.links.reduce((n, l) => n + l.activeStreams, 0);
  }

  close(): void {
    clearInterval(this.byteTimer);
    this.updateByteMetrics();
    this.abort.abort();
    for (const l of this.links) l.close();
  }

  destroy(): void {
    clearInterval(this.byteTimer);
    this.abort.abort();
    for (const l of this.links) l.destroy();
  }
}
