import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['tests/**/*.test.{ts,tsx}'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    typecheck: { include: ['tests/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
    // Integration and e2e suites start real servers; two cores, so keep parallelism modest.
    maxWorkers: 2,
    // tests/server: builds (or reuses) the server's seeded template data folder, which tests copy.
    globalSetup: ['./tests/server/globalSetup.ts'],
    reporters: ['default', './tests/support/summaryReporter.ts'],
  },
})
