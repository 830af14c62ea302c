import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Middleware, UnknownAction } from '@reduxjs/toolkit'
import { expect, test } from 'vitest'
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
let madeInATest: ReturnType<typeof watched>
let disposedByItsTest: ReturnType<typeof watched>
let keptForTheFile: ReturnType<typeof watched>
let ended = 0

test('stores made in a test run through it', () => {
  madeInATest = watched()
  disposedByItsTest = watched()
  keptForTheFile = watched('file')
  disposeWithTest(() => ended++)
  disposedByItsTest.store.dispose()
  expect(madeInATest.shutdowns).toHaveLength(0)
  expect(disposedByItsTest.shutdowns).toHaveLength(1)
})

test('after its test, a store it made is disposed, once; one kept for the file, or made outside a test, is not', () => {
  expect(madeInATest.shutdowns).toHaveLength(1)
  expect(disposedByItsTest.shutdowns).toHaveLength(1)
  expect(keptForTheFile.shutdowns).toHaveLength(0)
  expect(madeInTheFile.shutdowns).toHaveLength(0)
  expect(ended).toBe(1)
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
