import type { Reporter, TestModule } from 'vitest/node'

/** What the summary needs from one test file: whether it failed, and the state of each of its tests. */
export interface ModuleOutcome {
  failed: boolean
  /** `passed`, `failed`, `skipped` or `pending` (Vitest's `TestResult['state']`), one per test. */
  testStates: readonly string[]
}

export interface Counts {
  passed: number
  failed: number
  skipped: number
}

/**
 * Counts a run. A file that failed without a failed test (a `beforeAll` that threw, so every test was skipped; an
 * import error, so there are none) counts one failure, and unhandled errors count one each: they fail the run too,
 * so the line never says "0 failed" for a failed run.
 *
 * @example countTests([{ failed: true, testStates: ['skipped', 'skipped'] }], 0) // { passed: 0, failed: 1, skipped: 2 }
 */
export function countTests(modules: readonly ModuleOutcome[], unhandledErrors: number): Counts {
  const counts: Counts = { passed: 0, failed: unhandledErrors, skipped: 0 }
  for (const module of modules) {
    let failedTests = 0
    for (const state of module.testStates) {
      if (state === 'passed') counts.passed++
      else if (state === 'failed') failedTests++
      else counts.skipped++
    }
    counts.failed += module.failed && failedTests === 0 ? 1 : failedTests
  }
  return counts
}

export function summaryLine({ passed, failed, skipped }: Counts): string {
  return `Tests: ${passed} passed, ${failed} failed, ${skipped} skipped`
}

/**
 * Ends the run with one plain line, "Tests: N passed, N failed, N skipped", which CI reads whatever the
 * runner's own formatting looks like.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    const modules = testModules.map((module) => ({
      failed: module.state() === 'failed',
      testStates: [...module.children.allTests()].map((test) => test.result().state),
    }))
    process.stdout.write(`\n${summaryLine(countTests(modules, unhandledErrors.length))}\n`)
  }
}
