// Preloaded into a bench service process by `npm run bench:gc -- --alloc` (with
// `--import=<this file's URL>?dir=<directory>&interval=<bytes between samples>`): V8's sampling
// heap profiler, counting objects the garbage collector has already freed as well, so it measures
// what a request allocates, not what survives. The first SIGUSR2 starts sampling and counting
// requests, the second stops and writes `<dir>/alloc-<pid>.json` ({ requests, profile }; written
// under another name and renamed, so it appears complete). Nothing happens without a signal.
import { subscribe } from 'node:diagnostics_channel';
import { renameSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const params = new URL(import.meta.url).searchParams;
const dir = params.get('dir');
const interval = Number(params.get('interval'));
if (!dir || !(interval > 0)) throw new Error('bench/alloc-sample.ts: import it with ?dir=<directory for the profile>&interval=<bytes>');

const session = new Session();
session.connect();
let requests = 0;
let counting = false;
subscribe('http.server.request.start', () => {
  if (counting) requests++;
});

let sampling = false;
process.on('SIGUSR2', () => {
  if (!sampling) {
    sampling = true;
    session.post(
      'HeapProfiler.startSampling',
      { samplingInterval: interval, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true },
      (err) => {
        if (err) console.error(`alloc-sample: ${err.message}`);
        else counting = true;
      },
    );
    return;
  }
  session.post('HeapProfiler.stopSampling', (err, result) => {
    counting = false;
    const out = join(dir, `alloc-${process.pid}.json`);
    writeFileSync(`${out}.part`, JSON.stringify(err ? { error: err.message } : { requests, profile: result.profile }));
    renameSync(`${out}.part`, out);
  });
});
