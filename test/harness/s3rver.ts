// Starts a real S3-compatible server (s3rver, from npm) on 127.0.0.1 on a free port, in its own
// temp dir, with one bucket; stops it by PID. See s3rver-server.ts for the multipart shim.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startProcess, tempDir, waitForPort } from './process.ts';

export interface S3rverHandle {
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  port: number;
  /** s3rver's data directory (objects and in-progress multipart uploads live here). */
  directory: string;
  /** Multipart uploads started and neither completed nor aborted (orphaned parts if non-empty). */
  pendingMultipartUploads: () => Promise<string[]>;
  /** Output of the s3rver process so far. */
  output: () => string;
  stop: () => Promise<void>;
}

/** s3rver's built-in account (accepted by its SigV4 check). */
const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export async function startS3rver(opts: { bucket?: string } = {}): Promise<S3rverHandle> {
  const require = createRequire(import.meta.url);
  try {
    require.resolve('s3rver');
  } catch {
    throw new Error('s3rver is not installed; install it with: npm install --save-dev --save-exact s3rver@3.7.1');
  }
  const bucket = opts.bucket ?? 'videos';
  const port = await freePort();
  const dir = tempDir('s3rver');
  const script = fileURLToPath(new URL('./s3rver-server.ts', import.meta.url));
  const started = startProcess(process.execPath, [script, dir.path, String(port), bucket]);
  try {
    await waitForPort(port, 20_000, started.proc);
  } catch (err) {
    await started.stop();
    dir.cleanup();
    throw new Error(`s3rver did not start: ${(err as Error).message}\n${started.output()}`, { cause: err });
  }
  const uploads = join(dir.path, bucket, '._S3rver_uploads');
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    region: 'us-east-1',
    ...S3RVER_CREDENTIALS,
    port,
    directory: dir.path,
    pendingMultipartUploads: async () => (existsSync(uploads) ? await readdir(uploads) : []),
    output: started.output,
    stop: async () => {
      await started.stop();
      dir.cleanup();
    },
  };
}
