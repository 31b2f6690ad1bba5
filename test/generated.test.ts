// Generated output is checked, not trusted: regenerating must reproduce the committed files
// byte for byte, and the generator must be deterministic.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GENERATED_DIRS, ROOT, generateAll, writeAll } from '../scripts/generate.ts';
import { tempDir } from './harness/process.ts';

describe('npm run generate', () => {
  const tmp = tempDir('generate');
  afterAll(() => tmp.cleanup());

  it('reproduces every committed generated file byte for byte', () => {
    const files = generateAll();
    writeAll(tmp.path, files);
    const differing: string[] = [];
    for (const rel of files.keys()) {
      const committed = join(ROOT, rel);
      if (!existsSync(committed)) differing.push(`${rel} (missing: run npm run generate)`);
      else if (readFileSync(committed, 'utf8') !== readFileSync(join(tmp.path, rel), 'utf8')) differing.push(`${rel} (stale: run npm run generate)`);
    }
    expect(differing).toEqual([]);
  });

  it('leaves no stale file in the fully generated directories', () => {
    const files = generateAll();
    const stale = GENERATED_DIRS.flatMap((dir) =>
      existsSync(join(ROOT, dir))
        ? readdirSync(join(ROOT, dir))
            .map((n) => `${dir}/${n}`)
            .filter((rel) => !files.has(rel))
        : [],
    );
    expect(stale).toEqual([]);
  });

  it('is deterministic and ends every file with a newline', () => {
    const a = generateAll();
    const b = generateAll();
    expect([...a.entries()]).toEqual([...b.entries()]);
    for (const [rel, content] of a) expect(content.endsWith('\n'), rel).toBe(true);
  });
});
