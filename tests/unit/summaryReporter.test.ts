import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { countTests, summaryLine } from '../support/summaryReporter'

describe('countTests', () => {
  test.each([
    {
      name: 'passing files',
      modules: [{ failed: false, testStates: ['passed', 'passed'] }],
      errors: 0,
      counts: { passed: 2, failed: 0, skipped: 0 },
    },
    {
      name: 'a failed test counts once, not once more for its file',
      modules: [{ failed: true, testStates: ['passed', 'failed', 'skipped'] }],
      errors: 0,
      counts: { passed: 1, failed: 1, skipped: 1 },
    },
    {
      name: 'a file whose beforeAll threw (every test skipped) counts one failure',
      modules: [
        { failed: true, testStates: ['skipped', 'skipped', 'skipped'] },
        { failed: false, testStates: ['passed'] },
      ],
      errors: 0,
      counts: { passed: 1, failed: 1, skipped: 3 },
    },
    {
      name: 'a file that failed to load (no tests) counts one failure',
      modules: [{ failed: true, testStates: [] }],
      errors: 0,
      counts: { passed: 0, failed: 1, skipped: 0 },
    },
    {
      name: 'pending counts as not run',
      modules: [{ failed: false, testStates: ['pending'] }],
      errors: 0,
      counts: { passed: 0, failed: 0, skipped: 1 },
    },
    {
      name: 'unhandled errors count one each',
      modules: [{ failed: false, testStates: ['passed'] }],
      errors: 2,
      counts: { passed: 1, failed: 2, skipped: 0 },
    },
  ])('$name', ({ modules, errors, counts }) => {
    expect(countTests(modules, errors)).toEqual(counts)
  })

  test('the line CI reads', () => {
    expect(summaryLine({ passed: 550, failed: 1, skipped: 5 })).toBe('Tests: 550 passed, 1 failed, 5 skipped')
  })
})

test('a real run with a file whose beforeAll fails ends with a line that counts it as failed', async () => {
  const root = fileURLToPath(new URL('../..', import.meta.url))
  // Without the outer run's worker variables, which would make the inner Vitest think it is a worker.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('VITEST') && key !== 'TINYPOOL_WORKER_ID'),
  )
  const child = spawn(
    process.execPath,
    ['node_modules/vitest/vitest.mjs', 'run', '--config', 'tests/support/fixtures/vitest.config.ts'],
    {
      cwd: root,
      env: { ...env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  expect(output).toContain('Tests: 1 passed, 1 failed, 2 skipped')
  expect(code).toBe(1)
})
