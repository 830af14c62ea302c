import { describe, expect, it } from 'vitest'
import { threadExecArgv } from '../../../server/db/pglite'

// The database thread is JavaScript: it gets the parent's Node options without tsx's loader (which cost most of the
// thread's start) and without the parent's own `--eval` program, and every other option as a worker would inherit it.

describe('the Node options the database thread starts with', () => {
  it.each([
    ['no options', [], []],
    ['npm start: node --import tsx server/main.ts', ['--import', 'tsx'], []],
    ['--import=tsx in one entry', ['--import=tsx'], []],
    ['tsx esm entry', ['--import', 'tsx/esm'], []],
    [
      "the tsx command's own preload and loader",
      [
        '--require',
        '/app/node_modules/tsx/dist/preflight.cjs',
        '--import',
        'file:///app/node_modules/tsx/dist/loader.mjs',
      ],
      [],
    ],
    [
      'instrumentation, conditions and flags beside tsx pass',
      ['--require', './otel.cjs', '--import', 'tsx', '--conditions=development', '--unhandled-rejections=strict'],
      ['--require', './otel.cjs', '--conditions=development', '--unhandled-rejections=strict'],
    ],
    [
      'an --import that only looks like tsx passes',
      ['--import', './tsx-helpers.mjs'],
      ['--import', './tsx-helpers.mjs'],
    ],
    ["the parent's --eval program does not", ['--import', 'tsx', '--eval', 'console.log(1)'], []],
    ['nor -e or --print', ['-e', 'x()', '--print=1', '--enable-source-maps'], ['--enable-source-maps']],
  ])('%s', (_, parent, thread) => {
    expect(threadExecArgv(parent)).toEqual(thread)
  })
})
