// Starts a real Alertmanager (Debian package prometheus-alertmanager, 0.25) on 127.0.0.1 on a free
// port with the given config, clustering off (--cluster.listen-address= so it binds nothing else),
// in its own temp dir; stops it by PID.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort, requireBinary, startProcess, tempDir, waitForHttpReady } from './process.ts';

export interface AlertmanagerHandle {
  url: string;
  /** host:port, for Prometheus's alerting config. */
  address: string;
  port: number;
  output: () => string;
  stop: () => Promise<void>;
}

const HINT = 'apt-get install -y prometheus-alertmanager';

/** `config`: the config object (alertmanager/config.ts); `templates`: file name -> content. */
export async function startAlertmanager(config: Record<string, unknown>, templates: Record<string, string> = {}): Promise<AlertmanagerHandle> {
  const bin = requireBinary('prometheus-alertmanager', HINT, ['/usr/bin']);
  const port = await freePort();
  const dir = tempDir('alertmanager');
  for (const [name, content] of Object.entries(templates)) writeFileSync(join(dir.path, name), content);
  const configFile = join(dir.path, 'alertmanager.yml');
  writeFileSync(configFile, stringify({ ...config, templates: [join(dir.path, '*.tmpl')] }));
  const started = startProcess(bin, [
    `--config.file=${configFile}`,
    `--storage.path=${join(dir.path, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--cluster.listen-address=',
    '--log.level=warn',
  ]);
  const url = `http://127.0.0.1:${port}`;
  await waitForHttpReady(started, `${url}/-/ready`, 'alertmanager', dir.cleanup);
  return {
    url,
    address: `127.0.0.1:${port}`,
    port,
    output: started.output,
    stop: async () => {
      await started.stop();
      dir.cleanup();
    },
  };
}
