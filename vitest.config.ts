import { defineConfig } from 'vitest/config';

// Integration tests drive a real Docker Engine and a real Apache: they get long
// timeouts, and run one file at a time so that two files never race for the
// same 2-core machine's Engine.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    globalSetup: ['test/support/global-setup.ts'],
    reporters: ['default'],
  },
});
