// `npx tsx scripts/validate-deploy.ts`: the Kubernetes manifests under deploy/ checked
// against the Kubernetes API's JSON schemas, and against this service.
//
// The schemas: the `kubernetes-models` npm package, whose validators are compiled (ajv)
// from the Kubernetes OpenAPI definitions — kubeconform is not in Debian and there is no
// network here but the npm registry. Like kubeconform without -strict, they check types,
// required fields, enums and formats, not unknown field names. Every file is checked on its
// own (kustomize only adds labels and the image tag), and, where `kubectl` is installed,
// the output of `kubectl kustomize` for each kustomization as well.
//
// Then what a schema cannot know: the probes' paths, the *_FILE secrets mounted and named
// after real settings, the scrape annotation on the metrics port, selectors that select the
// pods, and the ConfigMap accepted by the service's own configuration parser.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { ConfigError, parseConfig } from '../src/config.js';
import { SECRET_SETTINGS } from '../src/load-config.js';

type Manifest = Record<string, unknown> & { apiVersion?: string; kind?: string; metadata?: { name?: string } };

interface Model {
  validate(): void;
}
const MODELS: Record<string, new (data: never) => Model> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

const KUSTOMIZATION_KEYS = new Set(['apiVersion', 'kind', 'labels', 'resources', 'images']);

export const deployDir = fileURLToPath(new URL('../deploy/', import.meta.url));

function parseYaml(text: string, source: string): Manifest[] {
  const manifests: Manifest[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) throw new Error(`${source}: ${document.errors[0]!.message}`);
    const value = document.toJS() as Manifest | null;
    if (value !== null) manifests.push(value);
  }
  return manifests;
}

/** The schema check of one object; the problems found, each naming the object. */
export function schemaProblems(manifest: Manifest, source: string): string[] {
  const key = `${manifest.apiVersion}/${manifest.kind}`;
  const label = `${source}: ${manifest.kind ?? '?'} ${manifest.metadata?.name ?? '?'}`;
  const Model = MODELS[key];
  if (!Model) return [`${label}: no schema for ${key} (add it to MODELS in scripts/validate-deploy.ts)`];
  try {
    new Model(manifest as never).validate();
    return [];
  } catch (error) {
    return [`${label}: ${(error as Error).message}`];
  }
}

/** The kustomizations under deploy/ and the manifests each lists, read from the files. */
export function readKustomizations(dir = deployDir): Array<{ name: string; manifests: Array<{ source: string; manifest: Manifest }>; problems: string[] }> {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name, 'kustomization.yaml');
    if (!entry.isDirectory() || !existsSync(file)) continue;
    const problems: string[] = [];
    const [kustomization] = parseYaml(readFileSync(file, 'utf8'), file) as Array<Record<string, unknown>>;
    for (const key of Object.keys(kustomization ?? {})) {
      if (!KUSTOMIZATION_KEYS.has(key)) problems.push(`${entry.name}/kustomization.yaml: "${key}" is not checked by this script; extend it first`);
    }
    const manifests = [];
    for (const resource of (kustomization?.resources as string[] | undefined) ?? []) {
      const source = `${entry.name}/${resource}`;
      const resourcePath = path.join(dir, entry.name, resource);
      if (!existsSync(resourcePath)) {
        problems.push(`${source}: listed in kustomization.yaml but missing`);
        continue;
      }
      for (const manifest of parseYaml(readFileSync(resourcePath, 'utf8'), source)) manifests.push({ source, manifest });
    }
    found.push({ name: entry.name, manifests, problems });
  }
  return found;
}

// The shapes the checks below read (the schema check has already vouched for the types).
interface Container {
  name: string;
  ports?: Array<{ name?: string; containerPort: number }>;
  env?: Array<{ name: string; value?: string }>;
  command?: string[];
  readinessProbe?: { httpGet?: { path?: string; port?: number | string } };
  livenessProbe?: { httpGet?: { path?: string; port?: number | string } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: { containers: Container[]; volumes?: Array<{ name: string; secret?: { secretName?: string } }> };
}

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels?.[key] === value);

/** *_FILE settings must be secrets the service reads from files, under a mounted Secret volume. */
function secretFileProblems(label: string, template: PodTemplate, container: Container): string[] {
  const problems: string[] = [];
  const secretVolumes = new Set((template.spec.volumes ?? []).filter((volume) => volume.secret).map((volume) => volume.name));
  const secretMounts = (container.volumeMounts ?? []).filter((mount) => secretVolumes.has(mount.name)).map((mount) => mount.mountPath);
  for (const variable of container.env ?? []) {
    if (!variable.name.endsWith('_FILE') || variable.name === 'ENTITLEMENTS_FILE' || variable.name === 'APPS_FILE') continue;
    const setting = variable.name.slice(0, -'_FILE'.length);
    if (!SECRET_SETTINGS.includes(setting)) problems.push(`${label}: ${variable.name} is not a secret setting the service reads from a file`);
    if (!secretMounts.some((mount) => variable.value?.startsWith(`${mount}/`))) {
      problems.push(`${label}: ${variable.name}=${variable.value} is not under a mounted Secret volume`);
    }
  }
  return problems;
}

function deploymentProblems(source: string, deployment: Manifest, all: Array<{ source: string; manifest: Manifest }>): string[] {
  const problems: string[] = [];
  const label = `${source}: Deployment ${deployment.metadata?.name}`;
  const spec = deployment.spec as { selector: { matchLabels?: Record<string, string> }; template: PodTemplate };
  const labels = spec.template.metadata?.labels;
  if (!matches(spec.selector.matchLabels, labels)) problems.push(`${label}: the selector does not select its own pods`);
  const container = spec.template.spec.containers[0]!;
  const ports = container.ports ?? [];
  const portOf = (port: number | string | undefined) => (typeof port === 'string' ? ports.find((each) => each.name === port)?.containerPort : port);
  if (container.readinessProbe?.httpGet?.path !== '/readyz') problems.push(`${label}: the readiness probe must be GET /readyz`);
  if (container.livenessProbe?.httpGet?.path !== '/healthz') problems.push(`${label}: the liveness probe must be GET /healthz`);

  const configMap = all.find((each) => each.manifest.kind === 'ConfigMap')?.manifest.data as Record<string, string> | undefined;
  if (!configMap) return [...problems, `${label}: no ConfigMap with its settings`];
  const httpPort = Number(configMap.PORT ?? 3000);
  for (const probe of [container.readinessProbe, container.livenessProbe]) {
    if (portOf(probe?.httpGet?.port) !== httpPort) problems.push(`${label}: a probe does not target PORT (${httpPort})`);
  }
  const annotations = spec.template.metadata?.annotations ?? {};
  const metricsPort = Number(configMap.METRICS_PORT);
  if (annotations['prometheus.io/scrape'] !== 'true') problems.push(`${label}: the pods are not annotated for scraping`);
  if (Number(annotations['prometheus.io/port']) !== metricsPort || !ports.some((port) => port.containerPort === metricsPort)) {
    problems.push(`${label}: prometheus.io/port must be METRICS_PORT (${configMap.METRICS_PORT}) and a container port`);
  }
  if (!container.resources?.requests?.cpu || !container.resources.requests.memory || !container.resources.limits?.memory) {
    problems.push(`${label}: CPU and memory requests and a memory limit are required`);
  }
  problems.push(...secretFileProblems(label, spec.template, container));

  // The service itself accepts the settings: the ConfigMap with placeholders for the secrets.
  try {
    parseConfig({ ...configMap, DATABASE_URL: 'postgres://user:secret@db:5432/ase', API_KEYS: 'a-placeholder-key-0123456789' });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(`${label}: the service refuses the ConfigMap: ${error.message}`);
  }

  for (const { source: otherSource, manifest: other } of all) {
    const name = `${otherSource}: ${other.kind} ${other.metadata?.name}`;
    if (other.kind === 'Service') {
      const service = other.spec as { selector?: Record<string, string>; ports: Array<{ targetPort?: number | string }> };
      if (!matches(service.selector, labels)) problems.push(`${name}: the selector does not select the Deployment's pods`);
      for (const port of service.ports) if (portOf(port.targetPort) !== httpPort) problems.push(`${name}: targetPort is not PORT (${httpPort})`);
    }
    if (other.kind === 'PodDisruptionBudget') {
      const selector = (other.spec as { selector?: { matchLabels?: Record<string, string> } }).selector?.matchLabels;
      if (!matches(selector, labels)) problems.push(`${name}: the selector does not select the Deployment's pods`);
    }
  }
  return problems;
}

function jobProblems(source: string, job: Manifest): string[] {
  const label = `${source}: Job ${job.metadata?.name}`;
  const template = (job.spec as { template: PodTemplate }).template;
  const container = template.spec.containers[0]!;
  const problems = secretFileProblems(label, template, container);
  if (!container.command?.includes('migrate')) problems.push(`${label}: the command must run the CLI's migrate`);
  if (!container.env?.some((variable) => variable.name === 'DATABASE_URL_FILE' || variable.name === 'DATABASE_URL')) {
    problems.push(`${label}: without DATABASE_URL the CLI would migrate an embedded database in the pod`);
  }
  return problems;
}

/** Every problem found in deploy/: schema, then the service's own rules. Empty: valid. */
export function validateDeploy(dir = deployDir, options: { kubectl?: boolean } = {}): string[] {
  const problems: string[] = [];
  for (const kustomization of readKustomizations(dir)) {
    problems.push(...kustomization.problems);
    for (const { source, manifest } of kustomization.manifests) {
      problems.push(...schemaProblems(manifest, source));
      if (manifest.kind === 'Deployment') problems.push(...deploymentProblems(source, manifest, kustomization.manifests));
      if (manifest.kind === 'Job') problems.push(...jobProblems(source, manifest));
    }
    if (options.kubectl) {
      const rendered = execFileSync('kubectl', ['kustomize', path.join(dir, kustomization.name)], { encoding: 'utf8' });
      const source = `kubectl kustomize ${kustomization.name}`;
      for (const manifest of parseYaml(rendered, source)) problems.push(...schemaProblems(manifest, source));
    }
  }
  return problems;
}

export function kubectlAvailable(): boolean {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const kubectl = kubectlAvailable();
  const problems = validateDeploy(deployDir, { kubectl });
  for (const problem of problems) process.stderr.write(`${problem}\n`);
  if (problems.length > 0) process.exit(1);
  const count = readKustomizations().reduce((sum, each) => sum + each.manifests.length, 0);
  process.stdout.write(
    `deploy/: ${count} manifests valid against the Kubernetes schemas and the service's settings${kubectl ? ' (and as kubectl kustomize renders them)' : ' (kubectl not installed: the rendered kustomizations were not checked)'}\n`,
  );
}
