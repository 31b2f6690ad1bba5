// docker-compose.yml is a valid Compose Specification file: Ajv against the vendored current
// compose-spec JSON schema, and the Debian docker-compose (v1) tool's own `config -q`.
import { spawnSync } from 'node:child_process';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { requireBinary } from './harness/process.ts';
import { ROOT, loadCompose, readText, rootPath } from './compose-spec/stack.ts';

const schema = JSON.parse(readText('test/compose-spec/compose-spec.json')) as Record<string, unknown>;

function validator() {
  // strict off: the schema uses `deprecated` (a 2019-09 annotation) under a draft-07 $schema URI
  // Ajv does not know by that spelling; validateSchema off for the same reason.
  const ajv = new Ajv({ strict: false, validateSchema: false, allErrors: true });
  return ajv.compile(schema);
}

describe('docker-compose.yml against the Compose Specification schema', () => {
  it('validates against the current compose-spec JSON schema (Ajv), variables interpolated from .env', () => {
    const validate = validator();
    const ok = validate(loadCompose());
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(ok).toBe(true);
  });

  it('the schema validator rejects what compose would reject (a misspelt key, a port of the wrong type)', () => {
    const validate = validator();
    const compose = loadCompose();
    const misspelt = structuredClone(compose);
    (misspelt.services.grafana as Record<string, unknown>).imagee = 'grafana/grafana:13.2.0';
    expect(validate(misspelt)).toBe(false);
    const badPorts = structuredClone(compose);
    (badPorts.services.grafana as Record<string, unknown>).ports = '127.0.0.1:3000:3000';
    expect(validate(badPorts)).toBe(false);
  });

  it('has no obsolete top-level `version:` key', () => {
    expect(Object.keys(loadCompose())).not.toContain('version');
    expect(readText('docker-compose.yml')).not.toMatch(/^version\s*:/m);
  });

  it('passes `docker-compose config -q` (Debian docker-compose 1.29, Compose Specification mode) with every profile', () => {
    const bin = requireBinary('docker-compose', 'apt-get install -y docker-compose');
    const r = spawnSync(bin, ['-f', rootPath('docker-compose.yml'), '--profile', 'load', '--profile', 'overhead', 'config', '-q'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr + r.stdout, 'docker-compose config -q output').toBe('');
    expect(r.status).toBe(0);
  });

  it('docker-compose resolves the same services, all profiles on, as the file declares', () => {
    const bin = requireBinary('docker-compose', 'apt-get install -y docker-compose');
    const r = spawnSync(bin, ['-f', rootPath('docker-compose.yml'), '--profile', 'load', '--profile', 'overhead', 'config', '--services'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').sort()).toEqual(Object.keys(loadCompose().services).sort());
  });
});
