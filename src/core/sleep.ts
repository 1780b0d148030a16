/**
 * Waiting that Ctrl-C cuts short. The wizard's polls (dual-writes, the consistency range) sleep
 * hundreds of times on the run's one AbortSignal: each sleep removes its abort listener when its
 * timer fires, or Node warns about a listener leak (MaxListenersExceededWarning) after ten.
 */

/** Wait `ms`, or less when `signal` aborts (it resolves then, without throwing). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) { resolve(); return; }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
