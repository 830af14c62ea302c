import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, inject, it } from 'vitest'
import type { TestProject } from 'vitest/node'
import setup from './globalSetup'
import { freshDataDir } from './support/server'

describe("the server suite's global setup", () => {
  it('gives each run a folder of its own for the data copies, and deletes it, with what is left in it, at the end', async () => {
    const provided = new Map<string, unknown>()
    const project = { provide: (key: string, value: unknown) => void provided.set(key, value) }
    const teardown = await setup(project as unknown as TestProject)
    const runDir = provided.get('testRunDir') as string
    expect(existsSync(runDir)).toBe(true)
    expect(runDir).not.toBe(inject('testRunDir'))
    // What a test that failed before its cleanup leaves: a copy of the template, a folder inside it.
    mkdirSync(join(runDir, 'server-test-left', 'pglite'), { recursive: true })
    writeFileSync(join(runDir, 'server-test-left', 'READY'), 'x')

    teardown()

    expect(existsSync(runDir)).toBe(false)
    // The template, which later runs reuse, stays.
    expect(existsSync(join(provided.get('serverTemplateDir') as string, 'READY'))).toBe(true)
  })

  it('puts the data copies in the run’s folder', () => {
    const dir = freshDataDir()
    expect(dir.startsWith(`${inject('testRunDir')}/`)).toBe(true)
    expect(existsSync(join(dir, 'READY'))).toBe(true)
    rmSync(dir, { recursive: true, force: true })
  })
})
