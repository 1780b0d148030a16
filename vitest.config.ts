import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests share one source and one target cluster per run (started in globalSetup),
    // so test files run one after another to keep them from trampling each other's databases.
    fileParallelism: false,
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default', './test/helpers/skip-reporter.ts'],
  },
});
