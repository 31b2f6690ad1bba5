// Loads the compose stack the way `docker compose` sees it, for test/compose-*.test.ts:
// docker-compose.yml with YAML merge keys resolved and `${VAR}` interpolated from .env.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const rootPath = (...parts: string[]): string => join(ROOT, ...parts);
export const readText = (rel: string): string => readFileSync(rootPath(rel), 'utf8');

/** Parses a YAML file of the repo (merge keys on, as docker compose does). */
export function readYaml<T = unknown>(rel: string): T {
  return parse(readText(rel), { merge: true }) as T;
}

/** Fails with a message naming the file and who produces it, instead of an ENOENT stack. */
export function requireFile(rel: string, producedBy: string): string {
  if (!existsSync(rootPath(rel))) {
    throw new Error(`${rel} does not exist yet (${producedBy}); the compose stack mounts or reads it`);
  }
  return rel;
}

/** KEY=VALUE lines of .env (comments and blank lines skipped). */
export function readDotEnv(rel = '.env'): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readText(rel).split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const eq = t.indexOf('=');
    if (eq <= 0) throw new Error(`.env: not KEY=VALUE: ${line}`);
    env[t.slice(0, eq)] = t.slice(eq + 1);
  }
  return env;
}

/** `${VAR}` references in a text (`$${...}` is an escaped literal, as in compose). */
export function variableReferences(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(/(\$*)\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}/g)) {
    if ((m[1] ?? '').length % 2 === 1) continue; // `$${X}` -> literal
    names.add(m[2] ?? '');
  }
  return [...names];
}

/** Compose interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, $$ -> $. */
export function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (whole, name?: string, op?: string, arg?: string) => {
    if (whole === '$$') return '$';
    const v = env[name ?? ''];
    const unset = v === undefined || (op?.startsWith(':') && v === '');
    if (!unset) return v ?? '';
    if (op === ':-' || op === '-') return arg ?? '';
    throw new Error(`variable ${name} is not set${op?.endsWith('?') ? `: ${arg}` : ''}`);
  });
}

function interpolateDeep(node: unknown, env: Record<string, string>): unknown {
  if (typeof node === 'string') return interpolate(node, env);
  if (Array.isArray(node)) return node.map((n) => interpolateDeep(n, env));
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolateDeep(v, env)]));
  }
  return node;
}

export interface Healthcheck {
  test: string | string[];
  interval?: string;
  timeout?: string;
  retries?: number;
  start_period?: string;
}
export interface ComposeService {
  image?: string;
  build?: string | { context: string; target?: string; args?: Record<string, string> };
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, string | number | boolean | null>;
  volumes?: (string | { type: string; source?: string; target: string; read_only?: boolean })[];
  ports?: (string | number)[];
  healthcheck?: Healthcheck;
  depends_on?: Record<string, { condition: string }> | string[];
  profiles?: string[];
  restart?: string;
  working_dir?: string;
}
export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  [key: string]: unknown;
}

/** docker-compose.yml as compose sees it: anchors merged, `x-` blocks kept, variables from .env. */
export function loadCompose(): ComposeFile {
  return interpolateDeep(readYaml('docker-compose.yml'), readDotEnv()) as ComposeFile;
}

/** A service's environment as a string map. */
export function envOf(service: ComposeService): Record<string, string> {
  return Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/** Bind mounts (`./host:/container[:ro]`) of a service. */
export function bindMounts(service: ComposeService): { source: string; target: string; readOnly: boolean }[] {
  const out: { source: string; target: string; readOnly: boolean }[] = [];
  for (const v of service.volumes ?? []) {
    if (typeof v === 'string') {
      const [source = '', target = '', mode = ''] = v.split(':');
      if (source.startsWith('.') || source.startsWith('/')) out.push({ source, target, readOnly: mode.split(',').includes('ro') });
    } else if (v.type === 'bind' && v.source) {
      out.push({ source: v.source, target: v.target, readOnly: v.read_only === true });
    }
  }
  return out;
}

/** Published ports as { hostIp, hostPort, containerPort }. */
export function publishedPorts(service: ComposeService): { hostIp: string; hostPort: number; containerPort: number }[] {
  return (service.ports ?? []).map((p) => {
    const parts = String(p).split(':');
    if (parts.length !== 3) return { hostIp: '', hostPort: Number(parts[0]), containerPort: Number(parts.at(-1)) };
    return { hostIp: parts[0] ?? '', hostPort: Number(parts[1]), containerPort: Number((parts[2] ?? '').split('/')[0]) };
  });
}

/** `host:port` -> [host, port]. */
export function hostPort(target: string): [string, number] {
  const i = target.lastIndexOf(':');
  return [target.slice(0, i), Number(target.slice(i + 1))];
}
