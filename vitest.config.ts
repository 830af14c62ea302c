import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['tests/**/*.test.{ts,tsx}'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // `expect.poll` waits for what is awaited, not for a time: on a busy machine its default second is not enough.
    expect: { poll: { timeout: 20_000 } },
    typecheck: { include: ['tests/**/*.test-d.{ts,tsx}'], tsconfig: './tsconfig.json' },
    // Three files at a time on two cores: with two, the cores sat idle while files loaded modules or waited on their
    // servers, Chromium and PGlite (887.8 s for the whole run in a fresh clone here; 749.0 s with three, the same machine
    // quiet, one run each). Integration and e2e files start real servers, so no more than that.
    maxWorkers: 3,
    // Worker threads, not forked processes: each test file starts in a fresh thread instead of a fresh Node process.
    // The whole suite took 735 s instead of 824 s in fresh clones here (one run each); no test needs its own process.
    pool: 'threads',
    // tests/server: builds (or reuses) the server's seeded template data folder, which tests copy.
    // tests/e2e: builds the SPA once per run for the end-to-end tests (they load it from the server in Chromium).
    // tests/support/leftoverGlobalSetup.ts: kills and names what the tests left running; last, so it ends first.
    globalSetup: [
      './tests/server/globalSetup.ts',
      './tests/e2e/support/globalSetup.ts',
      './tests/support/leftoverGlobalSetup.ts',
    ],
    reporters: ['default', './tests/support/summaryReporter.ts'],
  },
})
