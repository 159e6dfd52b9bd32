/** The shape of bench/results/latest.json: raw per-round figures plus the medians the docs are rendered from. */
import type { AnchorName } from '../anchors/anchor.js';
import type { SmallResult } from '../harness/wrk.js';
import type { ProfileSummary } from './cpu-profile.js';
import type { FailoverResult } from '../workloads/failover.js';

export interface SmallSeries {
  rounds: (SmallResult | undefined)[];
  median?: { rps: number; p50Ms: number; p99Ms: number; errors: number; cpuUsPerReq?: number };
}

export interface BulkSeries {
  down: (number | undefined)[];
  up: (number | undefined)[];
  median?: { down: number; up: number };
  /** CPU seconds of the anchor's own processes per GB moved, per round. */
  cpu?: { down: (number | undefined)[]; up: (number | undefined)[] };
  cpuMedian?: { down: number; up: number };
}

export interface Results {
  meta: {
    date: string;
    commit: string;
    machine: string;
    node: string;
    quick: boolean;
    rounds: number;
    durationS: number;
    loadavgBefore: number[];
  };
  config: {
    smallSeconds: number;
    connections: number;
    bulkBytes: number;
    streams: number;
    readyRuns: number;
  };
  small: Partial<Record<AnchorName, SmallSeries>>;
  /** The same small requests from a Node generator, inside CONNECT tunnels through the proxies (as for https). */
  connect?: Partial<Record<AnchorName, SmallSeries>>;
  bulk: Partial<Record<AnchorName, BulkSeries>>;
  streams?: {
    count: number;
    opened: number;
    failed: number;
    echoed: number;
    rssBeforeKiB: Record<string, number>;
    rssAfterKiB: Record<string, number>;
    kibPerStream: Record<string, number>;
  };
  /** apiMedianMs: until sc logged that its local API listens (process start-up and config). */
  ready?: { runsMs: number[]; medianMs: number; apiMedianMs?: number; failures: number };
  rtt?: {
    rttMs: number;
    /** How the delay was added (absent in results from before the delay line: netem). */
    method?: 'netem' | 'delayline';
    bulkBytes: number;
    small: Partial<Record<AnchorName, SmallSeries>>;
    bulk: Partial<Record<AnchorName, BulkSeries>>;
  };
  failover?: FailoverResult | { note: string };
  /**
   * The web console's first view in Chromium (page load to the list's first page rendered, with `tunnels` records),
   * the list API alone, and switching to all rows on one page.
   */
  console?: {
    tunnels: number;
    runsMs: number[];
    medianMs: number;
    apiMedianMs: number;
    allRowsMedianMs: number;
  };
  /** CPU profiles of sc and sc-server by workload (small, bulk), when run with --profile. */
  profile?: Record<string, Record<string, ProfileSummary>>;
  /** Things that went wrong or were skipped, said in the report rather than hidden. */
  notes: string[];
}
