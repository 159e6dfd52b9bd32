/**
 * docs/deploy.md's recipes, run where they can be: the bare-process recipe as a shell script against real sc and
 * sc-server inside a loopback-only network namespace (its fixed ports stay private there); the kustomize overlay
 * rendered and validated; the CI and compose YAML parsed and checked for what they rely on. The container
 * background step runs in images.test.ts, next to the images it needs.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { CLIENT_MAIN, cleanup, ROOT, SERVER_MAIN, tempDir } from '../../kit/index.js';
import { findKubectl, validateObject, type Obj } from './k8s.js';
import { recipe, run } from './podman.js';

after(cleanup);

test('docs/deploy.md "Without containers" runs as written and ends with "SC ready"', async () => {
  const dir = await tempDir('sluice-recipe-');
  // `sc` and `sc-server` on the PATH, as the packages put them (docs/install.md).
  const bin = join(dir, 'bin');
  await mkdir(bin);
  for (const [name, main] of [
    ['sc', CLIENT_MAIN],
    ['sc-server', SERVER_MAIN],
  ] as const) {
    await writeFile(join(bin, name), `#!/bin/sh\nexec "${process.execPath}" "${main}" "$@"\n`);
    await chmod(join(bin, name), 0o755);
  }
  const key = randomBytes(18).toString('base64url');
  const env: NodeJS.ProcessEnv = {
    PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`,
    HOME: dir,
    DATA_DIR: join(dir, 'data'),
    BUILD_ID: '42',
    SC_ADMIN_USERNAME: 'alice',
    SC_ADMIN_ACCESS_KEY: key,
    SAUCE_USERNAME: 'alice',
    SAUCE_ACCESS_KEY: key,
  };
  // A loopback-only namespace: the recipe's fixed ports (8443, 8444, 8080, 8032) exist only in there. The
  // background jobs are stopped after the recipe (sc first, so it can delete its tunnel); their output goes to files for the failure message.
  const script = `set -e\nip link set lo up\nexec >"${dir}/out" 2>"${dir}/err"\n${recipe('bare-processes')}\nkill %2\nwait %2 || true\nkill %1\nwait\n`;
  const r = await run('unshare', ['-n', 'bash', '-c', script], 120_000, env);
  const out = await readFile(join(dir, 'out'), 'utf8').catch(() => '');
  const err = await readFile(join(dir, 'err'), 'utf8').catch(() => '');
  assert.equal(
    r.code,
    0,
    `recipe exited ${r.code}\n--- stdout ---\n${out}\n--- stderr ---\n${err}${r.stderr}`,
  );
  assert.match(out, /^SC ready$/m);
  assert.match(out, /you may start your tests/);
  assert.match(out, /tunnel deleted/, 'the background sc drained and deleted its tunnel when stopped');
  assert.doesNotMatch(out + err, new RegExp(key));
});

test('docs/deploy.md kustomize overlay renders valid objects: a pool of 4 with the CA mounted', async () => {
  const dir = await tempDir('sluice-overlay-');
  const overlay = join(dir, 'overlays', 'ci');
  await mkdir(overlay, { recursive: true });
  // The recipe sits in a checkout's sibling directory; here the base is wherever this checkout is.
  const text = recipe('kustomize-overlay').replace(
    '../../deploy/kubernetes/client',
    relative(overlay, resolve(ROOT, 'deploy/kubernetes/client')),
  );
  await writeFile(join(overlay, 'kustomization.yaml'), text);
  await writeFile(join(overlay, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  const r = await run(findKubectl(), ['kustomize', overlay]);
  assert.equal(r.code, 0, r.stderr);
  const objs = parseAllDocuments(r.stdout).map((d) => d.toJSON() as Obj);
  for (const o of objs) await validateObject(o);
  const dep = objs.find((o) => o['kind'] === 'Deployment')!;
  assert.equal(dep['metadata']['namespace'], 'tunnels');
  assert.equal(dep['spec']['replicas'], 4);
  const c = dep['spec']['template']['spec']['containers'][0];
  assert.equal(c['image'], 'registry.example.internal/sluice-sc:0.1.0');
  const cms = objs.filter((o) => o['kind'] === 'ConfigMap');
  const config = cms.find((o) => String(o['metadata']['name']).startsWith('sc-config-'))!;
  assert.equal(config['data']['SAUCE_TUNNEL_NAME'], 'k8s-pool');
  assert.equal(config['data']['SAUCE_REGION'], 'us-west', 'the merge keeps what the overlay leaves alone');
  assert.equal(config['data']['SAUCE_CACERT_FILE'], '/etc/sluice/ca/ca.pem');
  const ca = cms.find((o) => String(o['metadata']['name']).startsWith('sc-ca-'))!;
  assert.ok(ca['data']['ca.pem']);
  // The Deployment refers to the generated (hash-suffixed) names.
  assert.ok(c['envFrom'].some((e: Obj) => e['configMapRef']?.['name'] === config['metadata']['name']));
  const vol = dep['spec']['template']['spec']['volumes'].find((v: Obj) => v['name'] === 'ca');
  assert.equal(vol['configMap']['name'], ca['metadata']['name']);
  const mount = c['volumeMounts'].find((m: Obj) => m['name'] === 'ca');
  assert.equal(`${mount['mountPath']}/ca.pem`, config['data']['SAUCE_CACERT_FILE']);
});

test('docs/deploy.md CI and compose recipes: valid YAML that relies only on what the images provide', async () => {
  const gh = parseYaml(recipe('github-actions')) as Obj;
  const steps = gh['jobs']['e2e']['steps'] as Obj[];
  const start = steps.find((s) => s['name'] === 'Start the tunnel')!;
  assert.match(start['run'], /--network host/);
  assert.match(start['run'], /localhost:8032\/readiness/);
  assert.equal(steps.find((s) => s['name'] === 'Stop the tunnel')!['if'], 'always()');
  assert.ok(gh['jobs']['e2e']['env']['SAUCE_TUNNEL_NAME']);

  const gl = parseYaml(recipe('gitlab-ci')) as Obj;
  assert.ok((gl['e2e']['script'] as string[]).some((l) => /^sc run .*& echo \$! > sc\.pid$/.test(l)));
  assert.ok((gl['e2e']['after_script'] as string[]).some((l) => l.includes('kill -TERM')));

  const compose = parseYaml(recipe('compose')) as Obj;
  const svc = compose['services'];
  assert.equal(svc['sc']['depends_on']['sc-server']['condition'], 'service_healthy');
  assert.equal(svc['tests']['depends_on']['sc']['condition'], 'service_healthy');
  // service_healthy works without a healthcheck block only because both images declare HEALTHCHECK.
  for (const kind of ['client', 'server'])
    assert.match(
      await readFile(resolve(ROOT, `deploy/container/Containerfile.${kind}`), 'utf8'),
      /^HEALTHCHECK /m,
    );
  assert.equal(svc['sc']['environment']['SAUCE_REST_URL'], `https://sc-server:8443/rest/v1`);
  assert.equal(svc['sc-server']['environment']['SC_PUBLIC_HOST'], 'sc-server');
});
