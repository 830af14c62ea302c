import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

/**
 * The server suite alone, without the other suites' global setups (the e2e one builds the SPA):
 * `npx vitest run --config tests/server/vitest.config.ts`. `npx vitest run tests/server` runs the same files with the
 * project's config.
 */
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['tests/server/**/*.test.ts'],
    environment: 'node',
    // As the root config's `system` project: these start servers and databases and wait for their events, so a bound
    // only catches a hang (at 30 s, logger.test.ts failed at 30,557 ms beside `npm run test:load`, doing nothing
    // wrong).
    testTimeout: 120_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
    globalSetup: ['./tests/server/globalSetup.ts'],
    reporters: ['default', './tests/support/summaryReporter.ts'],
  },
})
