/** What the composition root (src/client/run.ts) hands to the CLI layer and to the local API. */
import type { ExitCodeValue } from './exit-codes.js';

export interface TunnelInfo {
  tunnel_id: string;
  tunnel_name: string;
  /** host:port of the tunnel edge the connections go to. */
  tunnel_server: string;
  /** Host name of this tunnel on the server side. */
  tunnel_host: string;
}

/** Read-only view of the client's state for the local API and metrics. */
export interface ClientState {
  /** True while at least one tunnel connection is registered and routable, and not draining. */
  isReady(): boolean;
  /** True while the process is running (liveness). */
  isAlive(): boolean;
  /** Null until the tunnel exists on the server. */
  info(): TunnelInfo | null;
  /** Usable connections / wanted connections. */
  connections(): { active: number; wanted: number };
}

export interface ClientHandle {
  readonly state: ClientState;
  /** Resolves once the server confirmed the tunnel is routable (after "you may start your tests"). */
  readonly ready: Promise<void>;
  /** Resolves with the exit code when the client has fully stopped. */
  readonly done: Promise<ExitCodeValue>;
  /** Graceful stop: readiness 503, drain in-flight, delete the tunnel, resolve `done` with 0. */
  stop(reason: string): void;
  /** Immediate stop (second signal): close everything now. */
  abort(reason: string): void;
}
