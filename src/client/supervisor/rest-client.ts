/**
 * The client's calls to the server's REST API (Sauce Labs' tunnel shapes). TLS is always verified: system roots
 * plus --cacert-file.
 */
import https from 'node:https';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import tls, { type SecureContext } from 'node:tls';
import { connectVia, type UpstreamProxy } from '../egress/upstream.js';
import type { HttpLogEntry } from '../../observability/http-log.js';
import { ExitCode, type ExitCodeValue } from '../exit-codes.js';

export interface CreatedTunnel {
  id: string;
  tunnel_identifier: string;
  host: string;
  edge_address: string;
  /** A cluster's nodes, each reachable alone (docs/cluster.md); absent on a single server or behind one address. */
  nodes?: { id: string; edge_address: string }[];
  connection_token: string;
  messages?: { fatal?: string[]; info?: string[]; warning?: string[] };
}

/** A failure with the exit code it leads to, and whether trying again can help. */
export class ControlError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
    readonly retryable: boolean,
    readonly status = 0,
  ) {
    super(message);
  }
}

const TLS_TRUST_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
]);

export class RestClient {
  readonly agent: https.Agent;
  private readonly base: URL;
  private readonly auth: string;

  constructor(
    restUrl: string,
    private readonly username: string,
    accessKey: string,
    secureContext: SecureContext,
    readonly userAgent: string,
    /** --log-http control: called once per REST call (headers without the Authorization value). */
    private readonly onCall?: (e: HttpLogEntry) => void,
    /** --proxy-sauce: every call goes through this proxy (CONNECT, then TLS end to end). */
    proxy?: UpstreamProxy,
  ) {
    this.base = new URL(restUrl.endsWith('/') ? restUrl : restUrl + '/');
    this.auth = 'Basic ' + Buffer.from(`${username}:${accessKey}`).toString('base64');
    this.agent = proxy
      ? new ProxiedAgent(proxy, secureContext)
      : new https.Agent({ keepAlive: true, secureContext, minVersion: 'TLSv1.2' });
  }

  private call(method: string, path: string, body?: unknown, timeoutMs = 15_000): Promise<unknown> {
    const url = new URL(path, this.base);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const started = Date.now();
    const logged = (status: number, resHeaders?: Record<string, unknown>, error?: string): void =>
      this.onCall?.({ method, url: url.href, status, durationMs: Date.now() - started, resHeaders, error });
    return new Promise((resolve, reject) => {
      const req = https.request(url, {
        method,
        agent: this.agent,
        headers: {
          authorization: this.auth,
          accept: 'application/json',
          'user-agent': this.userAgent,
          ...(payload
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
            : {}),
        },
        timeout: timeoutMs,
      });
      req.on('timeout', () =>
        req.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' })),
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        const code = err.code ?? '';
        logged(0, undefined, code || err.message);
        if (TLS_TRUST_CODES.has(code)) {
          reject(
            new ControlError(
              `TLS verification of ${url.host} failed (${code}): trust the server's CA with --cacert-file or SAUCE_CACERT_FILE`,
              ExitCode.UNREACHABLE,
              false,
            ),
          );
        } else if (code === 'ESC_UPSTREAM_AUTH') {
          // Wrong or missing --proxy-sauce credentials: trying again cannot help.
          reject(new ControlError(`--proxy-sauce: ${err.message}`, ExitCode.UNREACHABLE, false));
        } else {
          reject(
            new ControlError(
              `cannot reach ${url.origin}${code.startsWith('ESC_UPSTREAM') ? ' through --proxy-sauce' : ''}: ${
                code.startsWith('ESC_UPSTREAM') ? err.message : code || err.message
              }`,
              ExitCode.UNREACHABLE,
              true,
            ),
          );
        }
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => reject(new ControlError(err.message, ExitCode.UNREACHABLE, true)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = null;
          try {
            json = text ? JSON.parse(text) : null;
          } catch {
            /* reported below */
          }
          const status = res.statusCode ?? 0;
          logged(status, res.headers);
          if (status >= 200 && status < 300) return resolve(json);
          const msg = (json as { error?: string } | null)?.error ?? text.slice(0, 200);
          if (status === 401) {
            return reject(
              new ControlError(
                `authentication failed: ${msg} (check username and access key)`,
                ExitCode.AUTH,
                false,
                status,
              ),
            );
          }
          if (status === 429 || status >= 500) {
            return reject(
              new ControlError(`server error ${status}: ${msg}`, ExitCode.UNREACHABLE, true, status),
            );
          }
          reject(
            new ControlError(
              `server refused ${method} ${url.pathname} (${status}): ${msg}`,
              ExitCode.REFUSED,
              false,
              status,
            ),
          );
        });
      });
      req.end(payload);
    });
  }

  private userPath(rest: string): string {
    return `${encodeURIComponent(this.username)}/${rest}`;
  }

  async createTunnel(body: Record<string, unknown>): Promise<CreatedTunnel> {
    const t = (await this.call('POST', this.userPath('tunnels'), body)) as CreatedTunnel;
    if (
      !t ||
      typeof t.id !== 'string' ||
      typeof t.edge_address !== 'string' ||
      typeof t.connection_token !== 'string'
    ) {
      throw new ControlError(
        'the server answered tunnel creation without id, edge_address or token',
        ExitCode.REFUSED,
        false,
      );
    }
    return t;
  }

  /** The edge addresses of a created tunnel's `nodes` that look like host:port; [] when there are none. */
  static nodeAddresses(t: CreatedTunnel): string[] {
    if (!Array.isArray(t.nodes)) return [];
    return t.nodes
      .map((n) => (n && typeof n === 'object' ? (n as { edge_address?: unknown }).edge_address : undefined))
      .filter((a): a is string => typeof a === 'string' && /^(\[[^\]]+\]|[^:\s]+):\d{1,5}$/.test(a));
  }

  /** This user's running tunnels (the REST shape of tunnel-json.ts), as `sc doctor` reads them. */
  async listTunnels(): Promise<Record<string, unknown>[]> {
    const r = await this.call('GET', this.userPath('tunnels?full=true'), undefined, 10_000);
    if (!Array.isArray(r))
      throw new ControlError('the server answered the tunnel list without a list', ExitCode.REFUSED, false);
    return r as Record<string, unknown>[];
  }

  /** Jobs (WebDriver gateway sessions) running on the tunnel, as the server counts them. */
  async numJobs(id: string): Promise<number> {
    const r = (await this.call('GET', this.userPath(`tunnels/${id}/num_jobs`), undefined, 5000)) as {
      jobs_running?: unknown;
    } | null;
    return typeof r?.jobs_running === 'number' ? r.jobs_running : 0;
  }

  async deleteTunnel(id: string, reason: string): Promise<void> {
    await this.call(
      'DELETE',
      this.userPath(`tunnels/${id}?reason=${encodeURIComponent(reason)}&wait=0`),
      undefined,
      5000,
    );
  }

  close(): void {
    this.agent.destroy();
  }
}

/** An https.Agent whose connections are CONNECT tunnels through the --proxy-sauce proxy, with TLS inside. */
class ProxiedAgent extends https.Agent {
  constructor(
    private readonly proxy: UpstreamProxy,
    private readonly context: SecureContext,
  ) {
    super({ keepAlive: true, secureContext: context, minVersion: 'TLSv1.2' });
  }

  override createConnection(
    options: https.RequestOptions,
    cb?: (err: Error | null, stream: Duplex) => void,
  ): undefined {
    const host = String(options.host ?? 'localhost').replace(/^\[|\]$/g, '');
    const port = Number(options.port ?? 443);
    connectVia(this.proxy, host, port, { timeoutMs: 15_000, secureContext: this.context }).then(
      (raw) => {
        const socket = tls.connect({
          socket: raw,
          servername: options.servername ?? (isIP(host) ? undefined : host),
          secureContext: this.context,
          minVersion: 'TLSv1.2',
        });
        cb?.(null, socket);
      },
      (err: Error) => cb?.(err, undefined as unknown as Duplex),
    );
    return undefined;
  }
}
