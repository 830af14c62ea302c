import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Middleware, UnknownAction } from '@reduxjs/toolkit'
import { expect, onTestFinished, test } from 'vitest'
import { createMemoryStorage } from '../../src/app/store'
import { disposeWithTest, trackedStore } from '../support/trackedStores'
import { fakeSockets } from './support/fakeSocket'
import { alice } from './support/fixtures'

// `trackedStore` (tests/support/trackedStores.ts): the unit and SPA files share their thread, and a store left running
// goes on arming its timers in the files after it. Each store a test makes is disposed when that test ends.

/** A logged-in store on a fake socket, and the `socket/shutdown` actions it has seen (its disposals). */
function watched(until?: 'test' | 'file') {
  const shutdowns: UnknownAction[] = []
  const record: Middleware = () => (next) => (action) => {
    if ((action as UnknownAction).type === 'socket/shutdown') shutdowns.push(action as UnknownAction)
    return next(action)
  }
  const store = trackedStore(
    {
      apiUrl: 'http://127.0.0.1:1',
      createSocket: fakeSockets().createSocket,
      storage: createMemoryStorage(),
      shareSocket: false,
      extraMiddleware: [record],
      preloadedState: { auth: { token: 'token-1', user: alice } },
    },
    until ? { until } : {},
  )
  return { store, shutdowns }
}

const madeInTheFile = watched()

/**
 * What a test makes: a store left to its end, one it disposes itself, one kept for the file, and a disposal of its own
 * (`ended()` counts its runs).
 */
function madeInATest() {
  let ended = 0
  const made = { left: watched(), disposed: watched(), keptForTheFile: watched('file'), ended: () => ended }
  disposeWithTest(() => ended++)
  made.disposed.store.dispose()
  return made
}

test('stores made in a test run through it', () => {
  const made = madeInATest()
  expect(made.left.shutdowns).toHaveLength(0)
  expect(made.disposed.shutdowns).toHaveLength(1)
  expect(made.ended()).toBe(0)
})

test('after its test, a store it made is disposed, once; one kept for the file, or made outside a test, is not', () => {
  let made: ReturnType<typeof madeInATest> | undefined
  // Vitest runs a test's onTestFinished hooks last registered first: this one, registered before the stores, runs
  // once their disposals have run, and what it throws fails this test.
  onTestFinished(() => {
    expect(made).toBeDefined()
    expect(made!.left.shutdowns).toHaveLength(1)
    expect(made!.disposed.shutdowns).toHaveLength(1)
    expect(made!.keptForTheFile.shutdowns).toHaveLength(0)
    expect(madeInTheFile.shutdowns).toHaveLength(0)
    expect(made!.ended()).toBe(1)
  })
  made = madeInATest()
  expect(made.ended()).toBe(0)
})

test('no unit or SPA file makes a store with makeStore itself (it would outlive the file)', () => {
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? files(join(dir, entry.name)) : /\.tsx?$/.test(entry.name) ? [join(dir, entry.name)] : [],
    )
  const root = join(import.meta.dirname, '../..')
  const untracked = ['tests/unit', 'tests/spa']
    .flatMap((dir) => files(join(root, dir)))
    .filter((file) => /\bmakeStore\(/.test(readFileSync(file, 'utf8')))
    .map((file) => file.slice(root.length + 1))
  expect(untracked).toEqual([])
})
