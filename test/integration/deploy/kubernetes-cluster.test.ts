/**
 * The PostgreSQL deployment of sc-server (deploy/kubernetes/server-postgres, rendered by the real `kubectl
 * kustomize`, every object schema-checked; and the chart's postgres branch): several replicas, the store URL from
 * a Secret under the env names the server's registry reads, the shared secret and CA mounted into the data dir,
 * rolling updates that never drop below the wanted count, a PodDisruptionBudget over the pods, and probes that
 * give a pod its store start retry before liveness may restart it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { SERVER_FLAGS, serverEnvName } from '../../../src/options/server-flags.js';
import { ROOT } from '../../kit/index.js';
import { kustomize, validateObject, type Obj } from './k8s.js';

const byKind = (objs: Obj[], kind: string): Obj => {
  const o = objs.find((x) => x['kind'] === kind);
  assert.ok(o, `a ${kind} in the rendered base`);
  return o;
};

const flagDefault = (name: string): number => {
  const f = SERVER_FLAGS.find((x) => x.name === name);
  assert.ok(f, `sc-server has --${name}`);
  return Number(f.default);
};

test('kustomize base server-postgres: three replicas on a shared store, rolling, a PDB, no data volume', async () => {
  const objs = await kustomize(resolve(ROOT, 'deploy/kubernetes/server-postgres'));
  for (const o of objs) await validateObject(o);
  assert.deepEqual(objs.map((o) => o['kind']).sort(), [
    'ConfigMap',
    'Deployment',
    'PodDisruptionBudget',
    'Service',
  ]);
  const dep = byKind(objs, 'Deployment');
  assert.equal(dep['spec']['replicas'], 3);
  assert.deepEqual(dep['spec']['strategy'], {
    type: 'RollingUpdate',
    rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
  });
  const pod = dep['spec']['template']['spec'];
  const c = pod['containers'][0];
  const env = new Map<string, Obj>(c['env'].map((e: Obj) => [e['name'], e]));
  // The env names are the registry's (a typo would be silently ignored by the server).
  assert.deepEqual(env.get(serverEnvName('store'))?.['valueFrom'], {
    secretKeyRef: { name: 'sc-server-store', key: 'url' },
  });
  // The node link: listens on every interface, advertised at the pod's own address, the port exposed.
  const nodePort = /:(\d+)$/.exec(String(env.get(serverEnvName('node-address'))?.['value']))?.[1];
  assert.ok(nodePort, 'node-address set');
  assert.equal(env.get(serverEnvName('node-advertise-address'))?.['value'], `$(POD_IP):${nodePort}`);
  assert.deepEqual(env.get('POD_IP')?.['valueFrom'], { fieldRef: { fieldPath: 'status.podIP' } });
  assert.ok(
    c['ports'].some((p: Obj) => p['name'] === 'node' && String(p['containerPort']) === nodePort),
    'the node port is a container port',
  );
  const poolSize = env.get(serverEnvName('store-pool-size'))?.['value'];
  assert.ok(Number(poolSize) >= 1, 'pool size set');
  const passwordFile = String(env.get(serverEnvName('store-password-file'))?.['value']);
  const dataDir = String(env.get('SC_DATA_DIR')?.['value']);

  const mounts: Obj[] = c['volumeMounts'];
  const volume = (name: string): Obj => {
    const v = pod['volumes'].find((x: Obj) => x['name'] === name);
    assert.ok(v, `volume ${name}`);
    return v;
  };
  // The data dir is per pod; what nodes share is mounted into it from one Secret.
  const data = mounts.find((m) => m['mountPath'] === dataDir);
  assert.ok(data);
  assert.deepEqual(volume(data['name']), { name: data['name'], emptyDir: {} });
  for (const file of ['server-secret', 'ca.pem', 'ca-key.pem']) {
    const m = mounts.find((x) => x['mountPath'] === `${dataDir}/${file}`);
    assert.ok(m, `${file} mounted into the data dir`);
    assert.equal(m['subPath'], file);
    assert.equal(m['readOnly'], true);
    assert.equal(volume(m['name'])['secret']['secretName'], 'sc-server-shared');
  }
  // The password file is where the env says, from the store Secret.
  const pw = mounts.find((m) => passwordFile.startsWith(`${String(m['mountPath'])}/`));
  assert.ok(pw, `a mount holds ${passwordFile}`);
  const pwVol = volume(pw['name'])['secret'];
  assert.equal(pwVol['secretName'], 'sc-server-store');
  assert.deepEqual(pwVol['items'], [
    { key: 'password', path: passwordFile.slice(String(pw['mountPath']).length + 1) },
  ]);
  assert.equal(pwVol['defaultMode'] & 0o007, 0, 'not world-readable');

  // Readiness is the server's /readyz (503 while the store is down); the startup probe outlasts the store retry.
  assert.deepEqual(c['readinessProbe']['httpGet'], { path: '/readyz', port: 'rest', scheme: 'HTTPS' });
  const sp = c['startupProbe'];
  assert.deepEqual(sp['httpGet'], { path: '/healthz', port: 'rest', scheme: 'HTTPS' });
  assert.ok(
    sp['periodSeconds'] * sp['failureThreshold'] > flagDefault('store-start-retry') / 1000,
    'the startup probe waits longer than --store-start-retry',
  );
  // The PDB covers exactly these pods and leaves most of them up.
  const pdb = byKind(objs, 'PodDisruptionBudget');
  const labels = dep['spec']['template']['metadata']['labels'] as Record<string, string>;
  for (const [k, v] of Object.entries(pdb['spec']['selector']['matchLabels'] as Record<string, string>))
    assert.equal(labels[k], v, `PDB selector ${k}`);
  assert.ok(pdb['spec']['maxUnavailable'] < dep['spec']['replicas']);
  assert.deepEqual(byKind(objs, 'Service')['spec']['selector'], labels);
});

test('helm chart sc-server: postgres is the switch for replicas, the PDB and the per-pod data dir', () => {
  const dir = resolve(ROOT, 'deploy/helm/sc-server');
  const dep = readFileSync(resolve(dir, 'templates/deployment.yaml'), 'utf8');
  const pvc = readFileSync(resolve(dir, 'templates/persistentvolumeclaim.yaml'), 'utf8');
  const pdb = readFileSync(resolve(dir, 'templates/poddisruptionbudget.yaml'), 'utf8');
  const values = parseYaml(readFileSync(resolve(dir, 'values.yaml'), 'utf8')) as Obj;
  assert.equal(values['store']['type'], 'embedded', 'the zero-setup default stays');
  assert.match(
    dep,
    /\{\{- if not \(has \.Values\.store\.type \(list "embedded" "postgres"\)\) \}\}\n\{\{- fail /,
  );
  assert.match(dep, /\{\{- \$pg := eq \.Values\.store\.type "postgres" \}\}/);
  assert.match(dep, /- name: SLUICE_SERVER_STORE\n\s+valueFrom:\n\s+secretKeyRef:/);
  assert.match(dep, /- name: SLUICE_SERVER_NODE_ADVERTISE_ADDRESS\n\s+value: "\$\(POD_IP\):9443"/);
  assert.match(pvc, /^\{\{- if and \(eq \.Values\.store\.type "embedded"\)/, 'no PVC on postgres');
  assert.match(pdb, /^\{\{- if gt \(int \.Values\.replicaCount\) 1 \}\}\n/);
  assert.match(pdb, /^kind: PodDisruptionBudget$/m);
  assert.match(dep, /\{\{- if \$pg \}\}\n\s+type: RollingUpdate\n\s+rollingUpdate:\n\s+maxUnavailable: 0/);
});
