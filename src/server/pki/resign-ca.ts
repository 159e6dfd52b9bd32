/**
 * TLS resigning's certificate authority (docs/decisions/0016-tls-resigning.md): a CA of its own, apart from the
 * server's CA (which `sc` trusts for the REST API and the tunnel edge), kept in the data dir as resign-ca.pem and
 * resign-ca-key.pem (0600). It signs one leaf certificate per host that a browser's CONNECT is resigned for. Every
 * leaf carries the same key, the resigning key of gateway/resign-key.ts, so that the gateway's browsers, which
 * accept that key's SPKI, accept every resigned host; other browsers trust resign-ca.pem.
 *
 * Leaves are issued on first use and kept in a bounded LRU (a promise per host, so concurrent CONNECTs to one
 * host sign once); a leaf that expires within a day is issued again.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { loadOrCreateResignKey } from '../gateway/resign-key.js';
import { createCa, fingerprintOf, issueCertificate, readPair, writePair, type KeyPairPem } from './ca.js';

export const RESIGN_CA_FILE = 'resign-ca.pem';
export const RESIGN_CA_KEY_FILE = 'resign-ca-key.pem';

const DAY = 24 * 3600 * 1000;

/** Loads the resigning CA from `dataDir`, creating it when missing. */
export async function loadOrCreateResignCa(
  dataDir: string,
): Promise<{ ca: KeyPairPem; path: string; fingerprint: string; created: boolean }> {
  const path = join(dataDir, RESIGN_CA_FILE);
  const keyPath = join(dataDir, RESIGN_CA_KEY_FILE);
  let ca = await readPair(path, keyPath);
  let created = false;
  if (!ca) {
    ca = await createCa('Sluice TLS resigning CA');
    await writePair(ca, path, keyPath);
    created = true;
  }
  return { ca, path, fingerprint: fingerprintOf(ca.certPem), created };
}

export interface ResignerOptions {
  /** Most leaves kept (default 1000). */
  maxLeaves?: number;
  /** Validity of a leaf in days (default 30). */
  leafDays?: number;
}

interface Leaf {
  context: Promise<tls.SecureContext>;
  expires: number;
}

/** Issues and caches the leaf certificates of resigned hosts. */
export class Resigner {
  private readonly leaves = new Map<string, Leaf>();
  private readonly max: number;
  private readonly days: number;
  /** Leaves signed so far (for tests and metrics: a cached host signs once). */
  issued = 0;

  constructor(
    readonly ca: KeyPairPem,
    private readonly leafKeyPem: string,
    /** Where the CA certificate is, for operators (server.json, logs). */
    readonly caPath: string,
    opts: ResignerOptions = {},
  ) {
    this.max = Math.max(1, opts.maxLeaves ?? 1000);
    this.days = opts.leafDays ?? 30;
  }

  get size(): number {
    return this.leaves.size;
  }

  /** The TLS context presenting a leaf for `host` (a DNS name or an IP address; lower-cased, no brackets). */
  contextFor(rawHost: string): Promise<tls.SecureContext> {
    const host = rawHost.replace(/^\[|\]$/g, '').toLowerCase();
    const now = Date.now();
    const hit = this.leaves.get(host);
    if (hit && hit.expires - now > DAY) {
      // Most recently used last: Map keeps insertion order, so the first key is the least recently used.
      this.leaves.delete(host);
      this.leaves.set(host, hit);
      return hit.context;
    }
    const context = this.issue(host);
    const leaf: Leaf = { context, expires: now + this.days * DAY };
    this.leaves.delete(host);
    this.leaves.set(host, leaf);
    // A failed issue is not cached.
    context.catch(() => {
      if (this.leaves.get(host) === leaf) this.leaves.delete(host);
    });
    while (this.leaves.size > this.max) {
      const oldest = this.leaves.keys().next().value as string;
      this.leaves.delete(oldest);
    }
    return context;
  }

  private async issue(host: string): Promise<tls.SecureContext> {
    if (!host || (!isIP(host) && !/^[a-z0-9_.-]+$/.test(host))) throw new Error(`cannot resign "${host}"`);
    const leaf = await issueCertificate(this.ca, [host], this.days, this.leafKeyPem);
    this.issued++;
    return tls.createSecureContext({
      cert: leaf.certPem + this.ca.certPem,
      key: this.leafKeyPem,
      minVersion: 'TLSv1.2',
    });
  }
}

/** The server's Resigner: the resigning CA and the resigning key from the data dir (both created when missing). */
export async function createResigner(dataDir: string, opts: ResignerOptions = {}): Promise<Resigner> {
  const { ca, path } = await loadOrCreateResignCa(dataDir);
  const key = await loadOrCreateResignKey(dataDir);
  return new Resigner(ca, await readFile(key.path, 'utf8'), path, opts);
}
