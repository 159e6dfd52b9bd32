/**
 * Generators of hostile REST bodies: the tunnels create body and the admin user, key, team and org bodies, with
 * the right keys given wrong types and values, unknown keys, deep nesting, non-JSON, wrong content types and
 * oversized bodies; and a raw HTTPS call that sends them as bytes.
 */
import https from 'node:https';
import fc from 'fast-check';
import type { TestServer } from '../kit/index.js';

export interface RestTarget {
  method: string;
  path: string;
  keys: string[];
}

export const TARGETS = (user: string, victim: string): RestTarget[] => [
  {
    method: 'POST',
    path: `/${user}/tunnels`,
    keys: [
      'tunnel_identifier',
      'tunnel_name',
      'tunnel_pool',
      'shared',
      'shared_tunnel',
      'metadata',
      'tunnel_domains',
      'direct_domains',
      'deny_domains',
      'tls_resign_domains',
      'tls_passthrough_domains',
    ],
  },
  { method: 'POST', path: '/admin/users', keys: ['username', 'role', 'org', 'teams', 'label', 'create_key'] },
  { method: 'PATCH', path: `/admin/users/${victim}`, keys: ['role', 'teams', 'disabled', 'org'] },
  { method: 'POST', path: `/admin/users/${victim}/keys`, keys: ['label'] },
  { method: 'POST', path: '/admin/teams', keys: ['name', 'org'] },
  { method: 'POST', path: '/admin/orgs', keys: ['name'] },
];

const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      'admin',
      'org_admin',
      'team_member',
      'service_account',
      'superuser',
      'default',
      'all',
      '../../etc',
      'a'.repeat(300),
      '\u0000',
      '\u202e',
      'é',
      -1,
      1e308,
      true,
      null,
      [],
      {},
      ['a', 1, null],
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
);

export interface RestInput {
  target: RestTarget;
  body: Buffer;
  contentType: string | null;
  label: string;
}

export function restInputArb(targets: RestTarget[]): fc.Arbitrary<RestInput> {
  return fc
    .tuple(fc.constantFrom(...targets), fc.nat())
    .chain(([target]) => {
      const objectBody = fc
        .tuple(
          fc.dictionary(fc.constantFrom(...target.keys), oddValue, { maxKeys: 5 }),
          fc.dictionary(fc.string({ maxLength: 10 }), oddValue, { maxKeys: 2 }),
        )
        .map(([known, unknown]) => Buffer.from(JSON.stringify({ ...unknown, ...known })));
      const rawBody = fc
        .oneof(
          fc.constantFrom(
            '',
            '{',
            '{"a":',
            'null',
            '[]',
            '"x"',
            '1',
            '{"__proto__":{"x":1}}',
            '{"a":1,"a":2}',
          ),
          fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
          fc.constant('['.repeat(5000) + ']'.repeat(5000)),
          fc.constant(JSON.stringify({ x: 'y'.repeat(2_000_000) })),
          fc.string({ unit: 'binary', maxLength: 200 }),
        )
        .map((s) => Buffer.from(s));
      return fc.record({
        target: fc.constant(target),
        body: fc.oneof({ weight: 4, arbitrary: objectBody }, { weight: 1, arbitrary: rawBody }),
        contentType: fc.oneof(
          { weight: 6, arbitrary: fc.constant('application/json') },
          {
            weight: 1,
            arbitrary: fc.constantFrom(
              null,
              'text/plain',
              'application/x-www-form-urlencoded',
              'application/json; charset=latin1',
            ),
          },
        ),
      });
    })
    .map((r) => {
      const label = `${r.target.method} ${r.target.path} (${r.contentType}) ${r.body.toString('utf8', 0, 200)}${
        r.body.length > 200 ? `... ${r.body.length} bytes` : ''
      }`;
      return { ...r, label, [fc.toStringMethod]: () => JSON.stringify(label) };
    });
}

/** One HTTPS request with the body as given; status and text (status 0 and the error when it failed). */
export function restRaw(
  server: Pick<TestServer, 'restUrl' | 'caPem'>,
  auth: { username: string; accessKey: string },
  input: RestInput,
  boundMs = 20_000,
): Promise<{ status: number; text: string; error?: string }> {
  const url = new URL(server.restUrl + input.target.path);
  const headers: Record<string, string> = {
    authorization: 'Basic ' + Buffer.from(`${auth.username}:${auth.accessKey}`).toString('base64'),
    'content-length': String(input.body.length),
  };
  if (input.contentType) headers['content-type'] = input.contentType;
  return new Promise((resolve) => {
    const req = https.request(
      url,
      { method: input.target.method, headers, ca: server.caPem, agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', (err) => resolve({ status: res.statusCode ?? 0, text, error: err.message }));
      },
    );
    req.setTimeout(boundMs, () => req.destroy(new Error(`no answer within ${boundMs} ms`)));
    req.on('error', (err) => resolve({ status: 0, text: '', error: err.message }));
    req.end(input.body);
  });
}
