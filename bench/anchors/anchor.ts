/**
 * What every anchor hands the workloads: how a client reaches the origin through it. The same load tools
 * (wrk, curl) then run against every anchor, so only the path differs.
 */
export type AnchorName =
  | 'direct'
  | 'squid'
  | 'ssh'
  | 'localtunnel'
  | 'tlspipe'
  | 'sluice'
  | 'sluice-b'
  | 'cluster-1'
  | 'cluster-2'
  | 'cluster-3';
/** `tlspipe` is not a product but the floor: two bare Node TLS relays (anchors/tls-pipe.ts). */
export const ANCHORS: readonly AnchorName[] = ['direct', 'squid', 'ssh', 'localtunnel', 'tlspipe', 'sluice'];
/** Sluice as a cluster on PostgreSQL (anchors/cluster.ts): only when named, `--anchors sluice,cluster-1,...`. */
export const CLUSTER_ANCHORS: readonly AnchorName[] = ['cluster-1', 'cluster-2', 'cluster-3'];

export interface Endpoint {
  name: AnchorName;
  /** A forward proxy to send absolute-form requests to; absent when the client connects to `url` itself. */
  proxy?: { host: string; port: number; authorization?: string };
  /** Base URL of the origin as the client names it (e.g. http://127.0.0.1:1234). */
  url: string;
  /** Host header to send instead of the URL's (localtunnel routes by it). */
  hostHeader?: string;
  /** Processes that make up this path, by role, for RSS and CPU readings. */
  pids: Record<string, number>;
  stop(): Promise<void>;
}

/**
 * Where things run. On loopback everything is in the root namespace; for the RTT workload the origin and the
 * tunnel clients sit in `clientNs`, tunnel servers and the load generator in `serverNs`, joined by a veth link.
 */
export interface Placement {
  clientNs?: string;
  serverNs?: string;
  /** Address of the server side as the client side dials it. */
  serverAddr: string;
  /** Address of the origin as a client in the server side reaches it directly (plain TCP over the link). */
  originAddrFromServer: string;
  origin: { http: number; echo: number };
}

export const LOOPBACK = '127.0.0.1';
