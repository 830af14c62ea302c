import { configDefaults, defineConfig } from 'vitest/config'

const inDir = (dir: string) => [`tests/${dir}/**/*.test.{ts,tsx}`]
/**
 * A folder whose files share their worker thread's loaded modules (below, `projects`). Their setup file disposes, at
 * each file's end, the stores it left running (`tests/support/trackedStores.ts`): their timers would go on in the
 * thread's next files.
 */
const shared = (dir: string) => ({
  include: inDir(dir),
  isolate: false,
  setupFiles: ['./tests/support/trackedStores.setup.ts'],
})
// Kills and names what the tests left running when the run ends (a server, a Redis, a browser, a helper parent).
const leftovers = './tests/support/leftoverGlobalSetup.ts'

export default defineConfig({
  test: {
    environment: 'node',
    // A bound on a hang only, never on speed (tests wait for events, not for time). The unit and SPA files' fuzz and
    // simulation tests are CPU-bound, so a loaded machine multiplies them: beside the system files and other runs (a
    // load of 12 to 15 on two cores) single tests took 17.4 s (runnerHotPath's connection) and 23.7 s
    // (electionSimulation's (d)), near the 30 s this was. The system project's files wait on servers as well (below).
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // `expect.poll` waits for what is awaited, not for a time: on a busy machine its default second is not enough.
    expect: { poll: { timeout: 20_000 } },
    // Three files at a time on two cores: with two, the cores sat idle while files loaded modules or waited on their
    // servers, Chromium and PGlite (887.8 s for the whole run in a fresh clone here; 749.0 s with three, the same machine
    // quiet, one run each). Integration and e2e files start real servers, so no more than that.
    maxWorkers: 3,
    // Worker threads, not forked processes: each test file starts in a fresh thread instead of a fresh Node process.
    // The whole suite took 735 s instead of 824 s in fresh clones here (one run each); no test needs its own process.
    pool: 'threads',
    reporters: ['default', './tests/support/summaryReporter.ts'],
    // The unit and SPA files share their worker threads' loaded modules instead of loading React, RTK, jsdom's page
    // and the layer afresh for each file (isolate: false): those two suites took 40 s and 69 s alone here, 20 s and
    // 18 s shared. The files that start servers, browsers and databases stay isolated: they hold processes and ports.
    // A file that changes a module or a global for itself undoes it at its end (tests/unit/reconnect.test.ts,
    // sessionMiddleware.test.ts), since the next file in its thread sees what it left.
    projects: [
      { extends: true, test: { name: 'unit', ...shared('unit'), globalSetup: [leftovers] } },
      {
        extends: true,
        test: {
          name: 'spa',
          ...shared('spa'),
          setupFiles: [...shared('spa').setupFiles, './tests/spa/support/actScopeClosed.setup.ts'],
          globalSetup: [leftovers],
        },
      },
      {
        extends: true,
        test: {
          name: 'system',
          include: inDir('*'),
          exclude: [...configDefaults.exclude, 'tests/unit/**', 'tests/spa/**'],
          // These files start servers, databases and browsers and wait for their events: the bound above only catches a
          // hang. Beside `npm run test:load` (load 11 on two cores) a server's first start on a new embedded database
          // took over 30 s (tests/server/logger.test.ts failed at 30,557 ms, doing nothing wrong); a test of theirs
          // that sets a lower bound of its own fails such a machine (none does).
          // Every folder's type tests, in one tsc run. Enabled here: `--typecheck` on the command line does not reach a
          // project that sets its own `typecheck`; a run of chosen files still type-checks only the type tests chosen.
          typecheck: { enabled: true, tsconfig: './tsconfig.json', include: ['tests/**/*.test-d.{ts,tsx}'] },
          // tests/server: builds (or reuses) the server's seeded template data folder, which tests copy.
          // tests/e2e: builds the SPA once per run for the end-to-end tests (they load it from the server in Chromium).
          // The leftovers' last, so that it ends first. (Only this project's files start servers or read these.)
          globalSetup: ['./tests/server/globalSetup.ts', './tests/e2e/support/globalSetup.ts', leftovers],
        },
      },
    ],
  },
})
