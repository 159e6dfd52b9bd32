/**
 * `sc doctor`: runs the checks in the order `sc run` takes the same steps (docs/doctor.md) and returns one result
 * per check. A step that cannot run because an earlier one failed is reported SKIP with the reason.
 *
 *   dns -> dns-server -> proxy | pac -> proxy-sauce -> server (TCP) -> tls -> credentials -> tunnel -> url...
 */
import type { DoctorOptions } from '../../options/parse.js';
import { VERSION } from '../../version.js';
import type { PacEvaluator } from '../egress/pac.js';
import { parseProxyUrl } from '../egress/upstream.js';
import { trustContext } from '../run.js';
import { RestClient } from '../supervisor/rest-client.js';
import { urlChecker } from './check-url.js';
import {
  checkConnect,
  checkCredentials,
  checkDns,
  checkDnsServers,
  checkPac,
  checkTls,
  checkTunnelName,
  openServer,
  serverAddress,
} from './network.js';
import { fail, skip, type CheckResult } from './result.js';

/** Runs every check; `report` is called with each result as soon as it is known (for live output). */
export async function runDoctor(
  opts: DoctorOptions,
  cwd: string,
  report: (r: CheckResult) => void = () => undefined,
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const add = (r: CheckResult): CheckResult => {
    results.push(r);
    report(r);
    return r;
  };
  const s = serverAddress(opts.restUrl);
  let secureContext;
  try {
    secureContext = await trustContext(opts.cacertFile);
  } catch (err) {
    add(
      fail(
        'tls',
        'cannot load --cacert-file',
        (err as Error).message,
        'name PEM files (or data:base64,... values) that this user can read',
      ),
    );
    return results;
  }

  add(await checkDns(opts, s));
  for (const r of await checkDnsServers(opts, s)) add(r);

  // --proxy and --pac carry the tests' traffic to targets: CONNECT is tried to the first --check-url (else the server).
  const first = opts.checkUrl[0] ? new URL(opts.checkUrl[0]) : undefined;
  const probeHost = first ? first.hostname.replace(/^\[|\]$/g, '') : s.host;
  const probePort = first ? Number(first.port || (first.protocol === 'https:' ? 443 : 80)) : s.port;
  let pac: PacEvaluator | undefined;
  if (opts.proxy)
    add(
      await checkConnect(
        'proxy',
        '--proxy',
        parseProxyUrl(opts.proxy),
        probeHost,
        probePort,
        opts,
        secureContext,
      ),
    );
  else if (opts.pac) {
    const r = await checkPac(opts, s, cwd);
    add(r.result);
    pac = r.pac;
  } else add(skip('proxy', '--proxy and --pac not set: sc dials targets directly'));

  const proxySauce = opts.proxySauce ? parseProxyUrl(opts.proxySauce) : undefined;
  if (!proxySauce) add(skip('proxy-sauce', '--proxy-sauce not set: sc connects to the server directly'));

  try {
    const conn = await openServer(opts, s, proxySauce, secureContext);
    if (proxySauce) add({ ...conn.result, name: 'proxy-sauce' });
    else add(conn.result);
    const tlsOk = conn.socket
      ? add(await checkTls(opts, s, conn.socket, secureContext)).status === 'OK'
      : (add(skip('tls', 'the server was not reached')), false);

    let tunnels: Record<string, unknown>[] | undefined;
    if (tlsOk) {
      const rest = new RestClient(
        opts.restUrl,
        opts.username,
        opts.accessKey,
        secureContext,
        `sluice-sc-doctor/${VERSION}`,
        undefined,
        proxySauce,
      );
      try {
        const c = await checkCredentials(opts, rest);
        add(c.result);
        tunnels = c.tunnels;
      } finally {
        rest.close();
      }
    } else add(skip('credentials', 'no verified TLS connection to the server'));
    if (tunnels) add(checkTunnelName(opts, tunnels));
    else add(skip('tunnel', `"${opts.tunnelName}" is a valid name; the running tunnels could not be read`));

    if (opts.checkUrl.length) {
      const urls = urlChecker(opts, secureContext, pac);
      try {
        for (const raw of opts.checkUrl) add(await urls.check(raw));
      } finally {
        urls.close();
      }
    }
  } finally {
    pac?.close();
  }
  return results;
}
