/**
 * --pac: loads the script (file, file:// or http(s):// URL, data: URL, or - for stdin), compiles it in a worker
 * thread (pac-worker.ts) and evaluates FindProxyForURL there under a deadline. A script that does not compile fails
 * at start; a call that throws or passes the deadline fails that request (ESC_PAC_FAILED / ESC_PAC_TIMEOUT) and a
 * stuck worker is replaced by a fresh one.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as sea from 'node:sea';
import { Worker } from 'node:worker_threads';
import type { PacReply } from './pac-worker.js';
import { parseProxyUrl, type UpstreamProxy } from './upstream.js';

/** How long one FindProxyForURL call (or the first compile) may take. */
export const PAC_DEADLINE_MS = 5000;
/** How long the worker may take to start the WebAssembly sandbox, before the script is loaded. */
const VM_START_MS = 60_000;

/** One entry of a PAC result: connect directly, or through this proxy. */
export type PacRoute = { kind: 'direct' } | { kind: 'proxy'; proxy: UpstreamProxy };

export class PacError extends Error {
  constructor(
    readonly code: 'ESC_PAC_FAILED' | 'ESC_PAC_TIMEOUT',
    message: string,
  ) {
    super(message);
  }
}

/** Reads the --pac source. */
export async function loadPacScript(source: string, cwd: string, stdin = process.stdin): Promise<string> {
  if (source === '-') {
    const chunks: Buffer[] = [];
    for await (const c of stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  if (source.startsWith('data:')) {
    const comma = source.indexOf(',');
    const meta = source.slice(5, comma);
    const data = source.slice(comma + 1);
    return /;base64$|^base64$/i.test(meta)
      ? Buffer.from(data, 'base64').toString('utf8')
      : decodeURIComponent(data);
  }
  if (/^https?:\/\//i.test(source)) {
    const res = await fetch(source, { signal: AbortSignal.timeout(PAC_DEADLINE_MS * 2) });
    if (!res.ok) throw new Error(`GET ${source} answered ${res.status}`);
    return await res.text();
  }
  const path = source.startsWith('file://') ? fileURLToPath(source) : resolvePath(cwd, source);
  return await readFile(path, 'utf8');
}

/**
 * Parses a FindProxyForURL result: `DIRECT`, `PROXY h:p`, `HTTP h:p`, `HTTPS h:p`, `SOCKS h:p`, `SOCKS5 h:p`,
 * separated by `;`, tried in order. Unknown entries are skipped; none at all is an error.
 */
export function parsePacResult(result: string): PacRoute[] {
  const out: PacRoute[] = [];
  for (const part of result.split(';')) {
    const [word, addr] = part.trim().split(/\s+/, 2);
    if (!word) continue;
    const kind = word.toUpperCase();
    if (kind === 'DIRECT') {
      out.push({ kind: 'direct' });
      continue;
    }
    if (!addr || !/^[^\s/@]+:\d{1,5}$/.test(addr)) continue;
    const scheme =
      kind === 'PROXY' || kind === 'HTTP'
        ? 'http'
        : kind === 'HTTPS'
          ? 'https'
          : kind === 'SOCKS' || kind === 'SOCKS5'
            ? 'socks5'
            : undefined;
    if (!scheme) continue;
    try {
      out.push({ kind: 'proxy', proxy: parseProxyUrl(`${scheme}://${addr}`) });
    } catch {
      /* not an address: skip it */
    }
  }
  if (!out.length) throw new PacError('ESC_PAC_FAILED', `PAC returned no usable route: "${result}"`);
  return out;
}

/**
 * Where the worker's code comes from: pac-worker.js beside this module; in the bundled client (CommonJS, no
 * import.meta) pac-worker.cjs beside it; in the single executable (scripts/build-sea.ts) the bundled worker and
 * QuickJS's WebAssembly are SEA assets, so the worker runs from its source text and gets the WebAssembly bytes.
 */
function workerSource(): { code: URL | string; eval: boolean; wasm?: ArrayBuffer } {
  if (sea.isSea()) {
    seaWasm ??= sea.getAsset(SEA_WASM_ASSET);
    return { code: sea.getAsset(SEA_WORKER_ASSET, 'utf8'), eval: true, wasm: seaWasm };
  }
  if (import.meta.url) return { code: new URL('./pac-worker.js', import.meta.url), eval: false };
  return { code: join(dirname(__filename), 'pac-worker.cjs'), eval: false };
}
let seaWasm: ArrayBuffer | undefined;

/** The SEA asset names (scripts/build-sea.ts embeds the files under these keys). */
export const SEA_WORKER_ASSET = 'pac-worker.cjs';
export const SEA_WASM_ASSET = 'quickjs.wasm';

interface Pending {
  resolve(v: string): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** The PAC sandbox: one worker at a time, replaced when a call passes its deadline. */
export class PacEvaluator {
  private worker: Worker | null = null;
  private ready: Promise<void> | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  private constructor(
    private readonly script: string,
    private readonly deadlineMs: number,
  ) {}

  /** Compiles the script; rejects with the compiler's message when it does not compile (or loops at load). */
  static async start(script: string, deadlineMs = PAC_DEADLINE_MS): Promise<PacEvaluator> {
    const e = new PacEvaluator(script, deadlineMs);
    try {
      await e.spawn();
    } catch (err) {
      e.close();
      throw err;
    }
    return e;
  }

  private spawn(): Promise<void> {
    const source = workerSource();
    const worker = new Worker(source.code, {
      eval: source.eval,
      workerData: { script: this.script, wasm: source.wasm },
      resourceLimits: { maxOldGenerationSizeMb: 64 },
    });
    worker.unref();
    this.worker = worker;
    this.ready = new Promise<void>((resolve, reject) => {
      // Starting the WebAssembly sandbox may take a while on a busy machine: it gets VM_START_MS, and the
      // script's own load gets the deadline once the sandbox exists.
      const expire = (what: string, ms: number): NodeJS.Timeout =>
        setTimeout(() => {
          this.kill(worker);
          reject(new PacError('ESC_PAC_TIMEOUT', `${what} within ${ms} ms`));
        }, ms);
      let timer = expire('the PAC sandbox did not start', VM_START_MS);
      worker.on('message', (m: PacReply) => {
        if ('vm' in m) {
          clearTimeout(timer);
          timer = expire('the PAC script did not load', this.deadlineMs);
          return;
        }
        if ('ready' in m) {
          clearTimeout(timer);
          if (m.ready) resolve();
          else {
            this.kill(worker);
            reject(new PacError('ESC_PAC_FAILED', `the PAC script does not compile: ${m.error}`));
          }
          return;
        }
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        clearTimeout(p.timer);
        if ('error' in m) p.reject(new PacError('ESC_PAC_FAILED', `FindProxyForURL failed: ${m.error}`));
        else p.resolve(m.result);
      });
      worker.on('error', (err) => {
        clearTimeout(timer);
        reject(new PacError('ESC_PAC_FAILED', `the PAC worker failed: ${err.message}`));
        this.failAll(new PacError('ESC_PAC_FAILED', `the PAC worker failed: ${err.message}`));
        this.kill(worker);
      });
    });
    return this.ready;
  }

  private kill(worker: Worker): void {
    if (this.worker === worker) {
      this.worker = null;
      this.ready = null;
    }
    void worker.terminate();
  }

  private failAll(err: Error): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(err);
    }
  }

  /** FindProxyForURL(url, host) as returned by the script. */
  async find(url: string, host: string): Promise<string> {
    if (this.closed) throw new PacError('ESC_PAC_FAILED', 'the PAC evaluator is closed');
    if (!this.ready) this.spawn().catch(() => undefined);
    await this.ready;
    const worker = this.worker!;
    const id = this.nextId++;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        // The script is stuck (a loop): every call queued behind it fails too, and a new worker takes over.
        this.failAll(
          new PacError('ESC_PAC_TIMEOUT', `FindProxyForURL did not return within ${this.deadlineMs} ms`),
        );
        this.kill(worker);
      }, this.deadlineMs);
      this.pending.set(id, { resolve, reject, timer });
      worker.postMessage({ id, url, host });
    });
  }

  /** The routes for a request, in the order to try them. */
  async routes(url: string, host: string): Promise<PacRoute[]> {
    return parsePacResult(await this.find(url, host));
  }

  close(): void {
    this.closed = true;
    this.failAll(new PacError('ESC_PAC_FAILED', 'the PAC evaluator is closed'));
    if (this.worker) this.kill(this.worker);
  }
}
