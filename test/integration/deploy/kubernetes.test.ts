/**
 * The Kubernetes bases (deploy/kubernetes) rendered by the real `kubectl kustomize`, every object validated
 * against the Kubernetes schemas (kubernetes-models), and what matters checked: the client's pool (replicas with
 * --tunnel-pool under one tunnel name), probes on /readyz and /healthz, a grace period longer than sc's drain; the
 * server's volume, probes and the Service for its three listeners. helm is not installable here: the second half
 * keeps the charts (deploy/helm) in step with the bases and their values documented.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ROOT } from '../../kit/index.js';
import { RUN_FLAGS } from '../../../src/options/index.js';
import { kustomize, validateObject } from './k8s.js';

import type { Obj } from './k8s.js';

const byKind = (objs: Obj[], kind: string): Obj => {
  const o = objs.find((x) => x['kind'] === kind);
  assert.ok(o, `a ${kind} in the rendered base`);
  return o;
};

function durationSeconds(flag: string): number {
  const f = RUN_FLAGS.find((x) => x.name === flag);
  assert.ok(f, `sc has --${flag}`);
  return Number(f.default) / 1000;
}

test('kustomize base of sc: a pool with one tunnel name, probes, a grace that outlasts the drain', async () => {
  const objs = await kustomize(resolve(ROOT, 'deploy/kubernetes/client'));
  for (const o of objs) await validateObject(o);
  assert.deepEqual(objs.map((o) => o['kind']).sort(), [
    'ConfigMap',
    'Deployment',
    'PodDisruptionBudget',
    'Service',
  ]);
  const dep = byKind(objs, 'Deployment');
  const pod = dep['spec']['template']['spec'];
  const c = pod['containers'][0];
  assert.ok(dep['spec']['replicas'] >= 2, 'a pool of at least two');
  assert.deepEqual(c['args'], ['run', '--tunnel-pool']);
  const cm = byKind(objs, 'ConfigMap');
  assert.ok(
    c['envFrom'].some((e: Obj) => e['configMapRef']?.['name'] === cm['metadata']['name']),
    'the config map is the one referenced',
  );
  assert.ok(cm['data']['SAUCE_TUNNEL_NAME'], 'the tunnel name is always set, so replicas share it');
  assert.ok(cm['data']['SAUCE_REGION']);
  assert.ok(c['envFrom'].some((e: Obj) => e['secretRef']?.['name'] === 'sc-credentials'));
  const apiEnv = c['env'].find((e: Obj) => e['name'] === 'SAUCE_API_ADDRESS');
  assert.equal(apiEnv['value'], ':8032');
  assert.deepEqual(c['ports'], [{ name: 'api', containerPort: 8032, protocol: 'TCP' }]);
  assert.deepEqual(c['readinessProbe']['httpGet'], { path: '/readyz', port: 'api' });
  assert.deepEqual(c['livenessProbe']['httpGet'], { path: '/healthz', port: 'api' });
  assert.ok(
    pod['terminationGracePeriodSeconds'] > durationSeconds('shutdown-timeout'),
    `grace ${pod['terminationGracePeriodSeconds']} s outlasts sc's drain (--shutdown-timeout)`,
  );
  assert.equal(pod['securityContext']['runAsNonRoot'], true);
  assert.equal(c['securityContext']['readOnlyRootFilesystem'], true);
  // The Service and the budget select exactly the pool's pods.
  const labels = dep['spec']['template']['metadata']['labels'];
  assert.deepEqual(byKind(objs, 'Service')['spec']['selector'], labels);
  assert.deepEqual(byKind(objs, 'PodDisruptionBudget')['spec']['selector']['matchLabels'], labels);
});

test('kustomize base of sc-server: one replica, data on a PVC, HTTPS probes, a Service for three listeners', async () => {
  const objs = await kustomize(resolve(ROOT, 'deploy/kubernetes/server'));
  for (const o of objs) await validateObject(o);
  assert.deepEqual(objs.map((o) => o['kind']).sort(), [
    'ConfigMap',
    'Deployment',
    'PersistentVolumeClaim',
    'Service',
  ]);
  const dep = byKind(objs, 'Deployment');
  assert.equal(dep['spec']['replicas'], 1);
  assert.equal(dep['spec']['strategy']['type'], 'Recreate');
  const pod = dep['spec']['template']['spec'];
  const c = pod['containers'][0];
  const env = Object.fromEntries(c['env'].map((e: Obj) => [e['name'], e['value']]));
  const dataMount = c['volumeMounts'].find((m: Obj) => m['mountPath'] === env['SC_DATA_DIR']);
  assert.ok(dataMount, 'the data dir is a mounted volume');
  const vol = pod['volumes'].find((v: Obj) => v['name'] === dataMount['name']);
  assert.equal(
    vol['persistentVolumeClaim']['claimName'],
    byKind(objs, 'PersistentVolumeClaim')['metadata']['name'],
  );
  assert.equal(pod['securityContext']['fsGroup'], 10001, 'the volume is writable by the image user');
  for (const [probe, path] of [
    ['readinessProbe', '/readyz'],
    ['livenessProbe', '/healthz'],
  ] as const)
    assert.deepEqual(c[probe]['httpGet'], { path, port: 'rest', scheme: 'HTTPS' });
  // Every listener has a container port on the address the env gives it, and a Service port.
  const ports = Object.fromEntries(c['ports'].map((p: Obj) => [p['name'], p['containerPort']]));
  assert.deepEqual(ports, {
    rest: Number(env['SC_REST_ADDRESS'].slice(1)),
    edge: Number(env['SC_EDGE_ADDRESS'].slice(1)),
    proxy: Number(env['SC_PROXY_ADDRESS'].slice(1)),
  });
  const svc = byKind(objs, 'Service');
  assert.deepEqual(svc['spec']['ports'].map((p: Obj) => p['targetPort']).sort(), ['edge', 'proxy', 'rest']);
  assert.deepEqual(svc['spec']['selector'], dep['spec']['template']['metadata']['labels']);
});

test('schema validation catches a broken object (the check can fail)', async () => {
  const objs = await kustomize(resolve(ROOT, 'deploy/kubernetes/client'));
  const dep = structuredClone(byKind(objs, 'Deployment'));
  dep['spec']['template']['spec']['containers'][0]['ports'][0]['containerPort'] = 'eight-thousand';
  await assert.rejects(validateObject(dep), /containerPort must be integer/);
  const pvc = {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'x' },
    spec: { accessModes: 1 },
  };
  await assert.rejects(validateObject(pvc), /accessModes must be array/);
});

// ---- Helm charts in step with the bases ----

/** Leaf paths of values.yaml; maps under `resources` and empty maps count as one leaf. */
function valuePaths(node: unknown, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const walk = (n: unknown, p: string): void => {
    if (
      n &&
      typeof n === 'object' &&
      !Array.isArray(n) &&
      Object.keys(n).length > 0 &&
      !p.endsWith('resources')
    ) {
      for (const [k, v] of Object.entries(n)) walk(v, p ? `${p}.${k}` : k);
    } else out.set(p, n);
  };
  walk(node, prefix);
  return out;
}

function scalars(node: unknown, out = new Set<string>()): Set<string> {
  if (node && typeof node === 'object') for (const v of Object.values(node)) scalars(v, out);
  else out.add(String(node));
  return out;
}

interface Chart {
  dir: string;
  values: Obj;
  paths: Map<string, unknown>;
  templates: Map<string, string>;
  readme: string;
}

function loadChart(name: string): Chart {
  const dir = resolve(ROOT, 'deploy/helm', name);
  const values = parseYaml(readFileSync(join(dir, 'values.yaml'), 'utf8')) as Obj;
  const templates = new Map<string, string>();
  for (const f of readdirSync(join(dir, 'templates')))
    templates.set(f, readFileSync(join(dir, 'templates', f), 'utf8'));
  const chart = parseYaml(readFileSync(join(dir, 'Chart.yaml'), 'utf8')) as Obj;
  assert.equal(chart['name'], name);
  assert.equal(chart['apiVersion'], 'v2');
  return {
    dir,
    values,
    paths: valuePaths(values),
    templates,
    readme: readFileSync(join(dir, 'README.md'), 'utf8'),
  };
}

for (const [chartName, base] of [
  ['sc', 'client'],
  ['sc-server', 'server'],
  ['sc-server', 'server-postgres'],
] as const) {
  test(`helm chart ${chartName}: every value documented and used, every template value defined`, () => {
    const chart = loadChart(chartName);
    const all = [...chart.templates.values()].join('\n');
    const documented = new Set([...chart.readme.matchAll(/^\| `([^`]+)` +\|/gm)].map((m) => m[1]!));
    for (const p of chart.paths.keys()) {
      assert.ok(documented.has(p), `values.yaml key ${p} is documented in ${chartName}/README.md`);
      assert.ok(all.includes(`.Values.${p}`), `values.yaml key ${p} is used by a template`);
    }
    for (const p of documented)
      assert.ok(chart.paths.has(p), `README documents ${p}, which values.yaml lacks`);
    for (const m of all.matchAll(/\.Values\.([A-Za-z0-9_.]+)/g)) {
      const ref = m[1]!;
      assert.ok(
        [...chart.paths.keys()].some((p) => p === ref || p.startsWith(`${ref}.`)),
        `template uses .Values.${ref}, which values.yaml does not define`,
      );
    }
  });

  test(`helm chart ${chartName}: every setting of the kustomize base is in its templates`, async () => {
    const chart = loadChart(chartName);
    const objs = await kustomize(resolve(ROOT, 'deploy/kubernetes', base));
    const valueScalars = scalars(chart.values);
    const allText = [...chart.templates.values()].join('\n');
    for (const o of objs) {
      const kind = String(o['kind']);
      const tpl = [...chart.templates.values()].find((t) => new RegExp(`^kind: ${kind}$`, 'm').test(t));
      assert.ok(tpl, `${chartName} has a template for the base's ${kind}`);
      assert.ok(tpl.includes(`apiVersion: ${String(o['apiVersion'])}`), `${kind}: same apiVersion`);
      const check = (node: unknown, path: string[]): void => {
        const key = path[path.length - 1] ?? '';
        // Names and labels are release-derived in the chart; selectors come from its helpers.
        if (path[0] === 'metadata' || path.includes('selector') || path.includes('labels')) return;
        if (key === 'resources' && path.includes('containers')) {
          // The chart renders values.resources as a block.
          assert.deepEqual(node, chart.values['resources'], `${kind} resources: the values' default`);
          assert.ok(tpl.includes('toYaml .Values.resources'));
          return;
        }
        if (node && typeof node === 'object') {
          for (const [k, v] of Object.entries(node)) check(v, [...path, k]);
          return;
        }
        const where = `${kind} ${path.join('.')}`;
        // A reference to another object of the base, "<base>-<suffix>[-<kustomize hash>]", is
        // "{{ .Release.Name }}-<suffix>" in the chart.
        const ref = /^(?:name|claimName)$/.test(key)
          ? /^(sc|sc-server)(-[a-z]+?)?(?:-[a-z0-9]{10})?$/.exec(String(node))
          : null;
        if (ref && ref[1] === chartName && !valueScalars.has(String(node))) {
          const want = `{{ .Release.Name }}${ref[2] ?? ''}`;
          assert.ok(allText.includes(want), `${where}: ${String(node)} is ${want} in the chart`);
          return;
        }
        if (!/^\d+$/.test(key))
          assert.ok(
            new RegExp(`\\b${key}:`).test(tpl) || (path[0] === 'data' && tpl.includes(key)),
            `${where}: key in the template`,
          );
        const value = String(node);
        if (key === 'image') {
          const [repo, tag] = value.split(':');
          assert.ok(
            valueScalars.has(repo!) && valueScalars.has(tag!),
            `${where}: image ${value} is the values' default`,
          );
          return;
        }
        assert.ok(
          tpl.includes(value) || valueScalars.has(value),
          `${where}: value ${value} is in the template or the default of a value`,
        );
      };
      check(o, []);
    }
  });
}

test('helm chart sc-server refuses more than one replica on the embedded store', () => {
  const chart = loadChart('sc-server');
  const dep = chart.templates.get('deployment.yaml') ?? '';
  assert.match(
    dep,
    /\{\{- if and \(eq \.Values\.store\.type "embedded"\) \(gt \(int \.Values\.replicaCount\) 1\) \}\}\n\{\{- fail /,
  );
  assert.equal(chart.values['replicaCount'], 1);
  // And the sc chart always sets the tunnel name (required), so pool replicas share it.
  const sc = loadChart('sc');
  assert.match(
    sc.templates.get('configmap.yaml') ?? '',
    /SAUCE_TUNNEL_NAME: \{\{ required "[^"]+" \.Values\.tunnel\.name/,
  );
  assert.match(sc.templates.get('deployment.yaml') ?? '', /"--tunnel-pool"/);
});
