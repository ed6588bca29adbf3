/**
 * Every Kubernetes manifest in deploy/ and examples/ against the Kubernetes OpenAPI schema, offline:
 * kubernetes-models ships a compiled validator for each API type (types, required fields, enums,
 * quantities, int-or-string), so nothing is downloaded. Plus what the schema cannot know: the
 * RuntimeClass's handler and memory overhead, the pods' runtimeClassName, and that the containerd
 * snippets in deploy/containerd are exactly what `nodewasm install` writes.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { HANDLER, managedBlock, runtimeTable } from '../../src/cli/install.js';
import { NODE_RUNTIME_MEMORY_FLOOR_BYTES } from '../../src/container/memory-floor.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function yamlFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...yamlFiles(full));
    else if (/\.ya?ml$/.test(entry.name)) found.push(full);
  }
  return found.sort();
}

interface Manifest {
  file: string;
  index: number;
  object: Record<string, unknown> & { apiVersion?: string; kind?: string; metadata?: { name?: string } };
}

function manifests(): Manifest[] {
  const found: Manifest[] = [];
  for (const file of [...yamlFiles(path.join(root, 'deploy')), ...yamlFiles(path.join(root, 'examples'))]) {
    const documents = parseAllDocuments(fs.readFileSync(file, 'utf8'), { strict: true, uniqueKeys: true, prettyErrors: true });
    const list = Array.isArray(documents) ? documents : [documents];
    list.forEach((document, index) => {
      const problems = [...document.errors, ...document.warnings].map((problem) => problem.message);
      if (problems.length > 0) throw new Error(`${path.relative(root, file)} document ${index}: ${problems.join('; ')}`);
      const object = document.toJS() as Manifest['object'] | null;
      if (object !== null) found.push({ file: path.relative(root, file), index, object });
    });
  }
  return found;
}

interface Validatable {
  validate(): void;
}

const require = createRequire(import.meta.url);

/** The kubernetes-models class of an apiVersion/kind, e.g. apps/v1 Deployment (its CommonJS build). */
async function modelOf(apiVersion: string, kind: string): Promise<new (data: unknown) => Validatable> {
  const module = require(`kubernetes-models/${apiVersion}/${kind}`) as Record<string, unknown>;
  const model = module[kind];
  if (typeof model !== 'function') throw new Error(`kubernetes-models has no ${apiVersion} ${kind}`);
  return model as new (data: unknown) => Validatable;
}

/**
 * Fields the schema does not know. The OpenAPI schema lets unknown fields through (the API server
 * prunes them, kubectl warns), so a typo such as `runtimeClasName` would pass it and silently run
 * pods with the default runtime. kubernetes-models' type declarations list every field of every
 * type: walk the manifest along them, as `kubectl --validate=strict` does.
 */
interface DeclaredType {
  /** Field name -> its TypeScript type text. */
  fields: Map<string, string>;
  /** Type name -> the .d.ts file that declares it. */
  imports: Map<string, string>;
}

const declaredTypes = new Map<string, DeclaredType | undefined>();

function declaredType(dtsFile: string): DeclaredType | undefined {
  if (declaredTypes.has(dtsFile)) return declaredTypes.get(dtsFile);
  const text = fs.readFileSync(dtsFile, 'utf8');
  const imports = new Map<string, string>();
  for (const match of text.matchAll(/^import \{ ([^}]+) \} from "([^"]+)";$/gm)) {
    const specifier = match[2]!;
    const target = specifier.startsWith('.') ? path.resolve(path.dirname(dtsFile), `${specifier}.d.ts`) : require.resolve(specifier).replace(/\.js$/, '.d.ts');
    for (const name of match[1]!.split(',').map((part) => part.trim())) imports.set(name, target);
  }
  const body = /^export interface \w+(?: extends [^{]+)? \{\n([\s\S]*?)^\}/m.exec(text);
  const result = body === null ? undefined : { fields: new Map<string, string>(), imports };
  if (result !== undefined) {
    for (const match of body![1]!.matchAll(/^ {4}"([^"]+)"\??: (.*?);?$/gm)) result.fields.set(match[1]!, match[2]!);
  }
  declaredTypes.set(dtsFile, result);
  return result;
}

function unknownFields(value: unknown, type: DeclaredType, at: string, found: string[]): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
  for (const [key, child] of Object.entries(value)) {
    const typeText = type.fields.get(key);
    if (typeText === undefined) {
      found.push(`${at}.${key}`);
      continue;
    }
    const element = /^Array<(\w+)>$/.exec(typeText)?.[1];
    const name = element ?? (/^\w+$/.test(typeText) ? typeText : undefined);
    const file = name !== undefined ? type.imports.get(name) : undefined;
    const childType = file !== undefined ? declaredType(file) : undefined;
    if (childType === undefined) continue; // a scalar, a string union, a map, a quantity, an int-or-string
    if (element !== undefined && Array.isArray(child)) child.forEach((item, i) => unknownFields(item, childType, `${at}.${key}[${i}]`, found));
    else unknownFields(child, childType, `${at}.${key}`, found);
  }
}

function strictCheck(apiVersion: string, kind: string, object: unknown): string[] {
  const type = declaredType(require.resolve(`kubernetes-models/${apiVersion}/${kind}`).replace(/\.js$/, '.d.ts'));
  if (type === undefined) throw new Error(`no type declaration for ${apiVersion} ${kind}`);
  const found: string[] = [];
  unknownFields(object, type, kind, found);
  return found;
}

/** A Kubernetes quantity in bytes: 32Mi, 1Gi, 500M, 1024. */
function bytesOf(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
  if (match === null) throw new Error(`not a memory quantity: ${quantity}`);
  const factor: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Number(match[1]) * (match[2] !== undefined ? factor[match[2]]! : 1);
}

const all = manifests();

describe('deploy/ and examples/ manifests', () => {
  it('are all found and parse as YAML', () => {
    const files = new Set(all.map((m) => m.file));
    for (const expected of [
      'deploy/runtimeclass.yaml',
      'deploy/installer/daemonset.yaml',
      'examples/http-service/deployment.yaml',
      'examples/http-service/service.yaml',
      'examples/http-service/hpa.yaml',
    ]) {
      expect(files).toContain(expected);
    }
  });

  it.each(all.map((m) => [`${m.file}#${m.index} ${m.object.kind ?? '?'} ${m.object.metadata?.name ?? '?'}`, m] as const))('%s is valid against the Kubernetes schema', async (_name, manifest) => {
    const { apiVersion, kind } = manifest.object;
    expect(typeof apiVersion).toBe('string');
    expect(typeof kind).toBe('string');
    const Model = await modelOf(apiVersion!, kind!);
    expect(() => new Model(manifest.object).validate()).not.toThrow();
    expect(strictCheck(apiVersion!, kind!, manifest.object), 'fields the Kubernetes API does not have').toEqual([]);
  });

  it('has a validator that does reject a broken manifest', async () => {
    const Deployment = await modelOf('apps/v1', 'Deployment');
    const broken = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { template: { spec: { containers: [{ name: 'x', ports: [{ containerPort: 'eighty' }] }] } } } };
    expect(() => new Deployment(broken).validate()).toThrow(/selector|containerPort/);
    const RuntimeClass = await modelOf('node.k8s.io/v1', 'RuntimeClass');
    expect(() => new RuntimeClass({ apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'x' } }).validate()).toThrow(/handler/);
    const typo = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x', labelz: {} }, spec: { selector: {}, template: { spec: { runtimeClasName: 'nodewasm', containers: [{ name: 'x', livenessProbe: { httpGett: {} } }] } } } };
    expect(strictCheck('apps/v1', 'Deployment', typo)).toEqual(['Deployment.metadata.labelz', 'Deployment.spec.template.spec.runtimeClasName', 'Deployment.spec.template.spec.containers[0].livenessProbe.httpGett']);
  });

  it('the RuntimeClass names the nodewasm handler and reserves at least the Node runtime memory floor per pod', () => {
    const runtimeClass = all.find((m) => m.object.kind === 'RuntimeClass')!.object as { handler: string; overhead: { podFixed: { memory: string } } };
    expect(runtimeClass.handler).toBe(HANDLER);
    expect(bytesOf(runtimeClass.overhead.podFixed.memory)).toBeGreaterThanOrEqual(NODE_RUNTIME_MEMORY_FLOOR_BYTES);
  });

  it('the example pods run through the RuntimeClass and their memory limits clear the floor', () => {
    const deployments = all.filter((m) => m.object.kind === 'Deployment' && m.file.startsWith('examples/'));
    expect(deployments.length).toBeGreaterThan(0);
    for (const { object } of deployments) {
      const pod = (object as { spec: { template: { spec: { runtimeClassName?: string; containers: Array<{ resources?: { limits?: { memory?: string } } }> } } } }).spec.template.spec;
      expect(pod.runtimeClassName).toBe(HANDLER);
      for (const container of pod.containers) {
        expect(bytesOf(container.resources?.limits?.memory ?? '0')).toBeGreaterThan(NODE_RUNTIME_MEMORY_FLOOR_BYTES);
      }
    }
  });

  it('the containerd snippets are exactly the blocks `nodewasm install` writes', () => {
    const v2 = fs.readFileSync(path.join(root, 'deploy', 'containerd', 'config-v2.toml'), 'utf8');
    const v3 = fs.readFileSync(path.join(root, 'deploy', 'containerd', 'config-v3.toml'), 'utf8');
    expect(v2.endsWith(managedBlock(2))).toBe(true);
    expect(v3.endsWith(managedBlock(3))).toBe(true);
    expect(runtimeTable(2)).toContain('[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nodewasm]');
    expect(runtimeTable(3)).toContain("[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.nodewasm]");
  });
});
