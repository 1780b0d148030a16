import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { sleep } from '../../src/core/sleep.js';

describe('sleep', () => {
  it('leaves no abort listener behind: 50 sequential sleeps on one signal (the wizard polls hundreds of times)', async () => {
    const signal = new AbortController().signal;
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => { warnings.push(warning); };
    process.on('warning', onWarning);
    try {
      for (let i = 0; i < 50; i += 1) {
        await sleep(1, signal);
        expect(getEventListeners(signal, 'abort')).toHaveLength(0);
      }
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it('wakes up early when the signal aborts, and cleans up then too', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const waiting = sleep(60_000, controller.signal);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort();
    await waiting;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    await sleep(60_000, controller.signal); // already aborted: returns at once
  });
});
