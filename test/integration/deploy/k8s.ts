/** Helpers of the Kubernetes tests: the real kubectl, and schema validation with kubernetes-models. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { run } from './podman.js';

export type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export function findKubectl(): string {
  const candidates = [
    process.env['KUBECTL'],
    '/usr/bin/kubectl',
    ...(process.env['PATH'] ?? '').split(delimiter).map((d) => join(d, 'kubectl')),
  ];
  const found = candidates.find((c): c is string => !!c && existsSync(c));
  if (!found)
    throw new Error(
      'kubectl not found (looked at $KUBECTL, /usr/bin/kubectl and $PATH): these tests render the kustomize ' +
        "bases with `kubectl kustomize`. The machine image ships kubectl at /usr/bin/kubectl; Debian's own " +
        'package is too old. Install kubectl >= 1.27 or point KUBECTL at one.',
    );
  return found;
}

export async function kustomize(dir: string): Promise<Obj[]> {
  const r = await run(findKubectl(), ['kustomize', dir]);
  assert.equal(r.code, 0, `kubectl kustomize ${dir}: ${r.stderr}`);
  return parseAllDocuments(r.stdout).map((d) => d.toJSON() as Obj);
}

/** Validates one object with the kubernetes-models class of its apiVersion and kind; throws on a schema error. */
export async function validateObject(o: Obj): Promise<void> {
  const api = String(o['apiVersion']);
  const path = `kubernetes-models/${api}/${String(o['kind'])}`;
  const mod = (await import(path)) as Record<string, new (d: Obj) => { validate(): void }>;
  const Model = mod[String(o['kind'])];
  assert.ok(Model, `no schema for ${api} ${String(o['kind'])}`);
  new Model(o).validate();
}
