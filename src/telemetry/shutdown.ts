// Close hooks run on SIGTERM/SIGINT before telemetry flushes (servers stop accepting, queues
// close), so the spans of in-flight work are ended and exported, then the process exits 0.
type Hook = () => unknown;
const hooks: Hook[] = [];

/** Registers a close hook; hooks run in reverse registration order (last opened, first closed). */
export function onShutdown(fn: Hook): () => void {
  hooks.push(fn);
  return () => {
    const i = hooks.indexOf(fn);
    if (i >= 0) hooks.splice(i, 1);
  };
}

/** Runs and clears the registered hooks; each is bounded by `timeoutMs` and failures are reported, not thrown. */
export async function runShutdownHooks(timeoutMs = 5000): Promise<void> {
  const list = hooks.splice(0).reverse();
  for (const fn of list) {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(fn),
        new Promise((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
          timer.unref();
        }),
      ]);
    } catch (err) {
      console.error('shutdown hook failed:', err);
    } finally {
      if (timer) clearTimeout(timer);
    }
  }
}
