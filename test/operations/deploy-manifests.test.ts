import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deployDir, kubectlAvailable, validateDeploy } from '../../scripts/validate-deploy.js';

// deploy/: the Kubernetes manifests, checked against the Kubernetes schemas and the
// service's own rules by scripts/validate-deploy.ts (which CI runs too).

const copies: string[] = [];
afterEach(() => {
  for (const dir of copies.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A copy of deploy/ with one file edited. */
function editedCopy(file: string, edit: (text: string) => string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ase-deploy-'));
  copies.push(dir);
  cpSync(deployDir, dir, { recursive: true });
  const target = path.join(dir, file);
  const before = readFileSync(target, 'utf8');
  const after = edit(before);
  expect(after, 'the edit changed nothing').not.toBe(before);
  writeFileSync(target, after);
  return dir;
}

describe('the Kubernetes manifests', () => {
  it('are valid against the Kubernetes schemas and the service settings', () => {
    expect(validateDeploy()).toEqual([]);
  });

  it.skipIf(!kubectlAvailable())('are valid as kubectl kustomize renders them (skipped where kubectl is not installed)', () => {
    expect(validateDeploy(deployDir, { kubectl: true })).toEqual([]);
  });

  it('refuse a field of the wrong type, as the Kubernetes schema does', () => {
    const dir = editedCopy('base/deployment.yaml', (text) => text.replace('containerPort: 3000', 'containerPort: "three thousand"'));
    expect(validateDeploy(dir).join('\n')).toMatch(/Deployment app-store-entitlements: .*containerPort must be integer/);
  });

  it('refuse a missing required field', () => {
    const dir = editedCopy('base/deployment.yaml', (text) => text.replace('- name: server\n          image:', '- image:'));
    expect(validateDeploy(dir).join('\n')).toMatch(/Deployment app-store-entitlements: .*containers\/0 must have required property name/);
  });

  it('refuse a kind it has no schema for', () => {
    const dir = editedCopy('base/poddisruptionbudget.yaml', (text) => text.replace('kind: PodDisruptionBudget', 'kind: PodDisruptionBudgett'));
    expect(validateDeploy(dir).join('\n')).toContain('no schema for policy/v1/PodDisruptionBudgett');
  });

  it('refuse a readiness probe that is not /readyz', () => {
    const dir = editedCopy('base/deployment.yaml', (text) => text.replace('path: /readyz', 'path: /healthz'));
    expect(validateDeploy(dir)).toContain('base/deployment.yaml: Deployment app-store-entitlements: the readiness probe must be GET /readyz');
  });

  it('refuse a secret file outside the mounted Secret', () => {
    const dir = editedCopy('base/deployment.yaml', (text) => text.replace('value: /run/secrets/app-store-entitlements/api-keys', 'value: /etc/api-keys'));
    expect(validateDeploy(dir)).toContain(
      'base/deployment.yaml: Deployment app-store-entitlements: API_KEYS_FILE=/etc/api-keys is not under a mounted Secret volume',
    );
  });

  it('refuse a scrape annotation that is not the metrics port', () => {
    const dir = editedCopy('base/deployment.yaml', (text) => text.replace('prometheus.io/port: "9464"', 'prometheus.io/port: "3000"'));
    expect(validateDeploy(dir).join('\n')).toContain('prometheus.io/port must be METRICS_PORT (9464)');
  });

  it('refuse settings the service refuses', () => {
    const dir = editedCopy('base/configmap.yaml', (text) => text.replace('WORKERS: "1"', 'WORKERS: "many"'));
    expect(validateDeploy(dir).join('\n')).toContain('the service refuses the ConfigMap: WORKERS must be a whole number');
  });

  it('refuse a Service that selects no pod', () => {
    const dir = editedCopy('base/service.yaml', (text) => text.replace('app.kubernetes.io/component: server', 'app.kubernetes.io/component: web'));
    expect(validateDeploy(dir)).toContain("base/service.yaml: Service app-store-entitlements: the selector does not select the Deployment's pods");
  });

  it('refuse a migration Job without the database', () => {
    const dir = editedCopy('migrate/job.yaml', (text) => text.replace('name: DATABASE_URL_FILE', 'name: DATABASE_URL_FILES'));
    expect(validateDeploy(dir).join('\n')).toContain('without DATABASE_URL the CLI would migrate an embedded database in the pod');
  });
});
