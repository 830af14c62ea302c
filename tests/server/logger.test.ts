import { spawn, type ChildProcess } from 'node:child_process'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { createLogger, defaultLogLevel, logFormatFor } from '../../server/logger'
import { closed, exited, freshDataDir, killSpawned, repoRoot, spawnMain } from './support/server'

describe('logFormatFor: readable on a terminal, JSON for programs', () => {
  it.each<[string, boolean | undefined, string | undefined, 'json' | 'pretty']>([
    ['a terminal → pretty', true, undefined, 'pretty'],
    ['a pipe or a file → json', false, undefined, 'json'],
    ['no stdout stream information → json', undefined, undefined, 'json'],
    ['an empty LOG_FORMAT on a terminal → pretty', true, '', 'pretty'],
    ['LOG_FORMAT=json on a terminal', true, 'json', 'json'],
    ['LOG_FORMAT=pretty in a pipe', false, 'pretty', 'pretty'],
    ['LOG_FORMAT=PRETTY (any case, spaces around)', false, ' PRETTY ', 'pretty'],
  ])('%s', (_name, isTTY, LOG_FORMAT, expected) => {
    expect(logFormatFor({ isTTY, env: { LOG_FORMAT } })).toBe(expected)
  })

  it('refuses any other LOG_FORMAT, naming the values allowed', () => {
    expect(() => logFormatFor({ isTTY: true, env: { LOG_FORMAT: 'yaml' } })).toThrow(
      'LOG_FORMAT must be one of json, pretty, got "yaml"',
    )
  })
})

describe('defaultLogLevel: LOG_LEVEL', () => {
  afterEach(() => vi.unstubAllEnvs())

  it.each([
    ['debug', 'debug'],
    [' WARN ', 'warn'],
  ])('takes LOG_LEVEL=%j as %s', (given, expected) => {
    vi.stubEnv('LOG_LEVEL', given)
    expect(defaultLogLevel()).toBe(expected)
    expect(createLogger(defaultLogLevel()).level).toBe(expected)
  })

  it('refuses any other LOG_LEVEL, naming the variable and the values allowed', () => {
    vi.stubEnv('LOG_LEVEL', 'verbose')
    expect(() => createLogger(defaultLogLevel())).toThrow(
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"',
    )
  })
})

describe('createLogger: a stdout whose reader is gone', () => {
  const children: ChildProcess[] = []
  // A hung child is the failure (the test's timeout); it is not left behind.
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL')
  })
  // `npm run cluster`'s nodes log into a pipe the script reads. The script killed outright (SIGKILL), a node closing
  // since its IPC channel closed logged its last lines into that dead pipe and called process.exit; pino's exit flush
  // retried the broken pipe every 100 ms for good (sonic-boom's flushSync sleeps on any error), and the node never
  // exited, holding its port and its PostgreSQL and Redis connections.
  it.each(['json', 'pretty'] as const)('lets the process exit (%s)', async (format) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `import { createLogger } from ${JSON.stringify(join(repoRoot, 'server/logger.ts'))}
        const logger = createLogger('info', ${JSON.stringify(format)})
        process.once('message', () => {
          logger.warn('the parent process is gone')
          logger.info('shutting down')
          logger.info('server closed')
          process.exit(0)
        })
        process.send('ready')`,
      ],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] },
    )
    children.push(child)
    await new Promise((resolve) => child.once('message', resolve))
    // The reader gone before the lines are written, as the killed script's end of the pipe is.
    child.stdout!.destroy()
    child.send('go')
    expect(await exited(child)).toBe(0)
  })
})

describe('npm start (server/main.ts) logs', () => {
  const dirs: string[] = []
  afterAll(async () => {
    await killSpawned()
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  })

  /** Starts main.ts with stdout piped (not a terminal); resolves everything it printed once it is up, then stops it. */
  async function startedOutput(env: Record<string, string>): Promise<string[]> {
    const dataDir = freshDataDir()
    dirs.push(dataDir)
    const { child, output } = await spawnMain({
      DATA_DIR: dataDir,
      PORT: '0',
      SKIP_SPA_BUILD: '1',
      LOG_LEVEL: 'info',
      ...env,
    })
    // Stopped as soon as it is up (it must be ready for that), so its shutdown is logged too; its last lines read.
    child.kill('SIGTERM')
    expect(await closed(child)).toBe(0)
    return output()
      .split('\n')
      .filter((line) => line.trim() !== '')
  }

  it('keeps JSON, one object a line, when stdout is not a terminal', async () => {
    const lines = await startedOutput({})
    const logged = lines.filter((line) => !line.includes('Talemy is running'))
    const records = logged.map((line) => JSON.parse(line) as { msg: string; level: number })
    expect(records.map((record) => record.msg)).toEqual(
      expect.arrayContaining(['server listening', 'ready', 'shutting down', 'server closed']),
    )
  })

  it('prints readable lines when LOG_FORMAT=pretty, even into a pipe', async () => {
    const lines = await startedOutput({ LOG_FORMAT: 'pretty' })
    expect(lines).toContainEqual(expect.stringMatching(/^\[[\d:.]+\] INFO: ready$/))
    expect(lines).toContainEqual(expect.stringMatching(/^\[[\d:.]+\] INFO: shutting down$/))
    expect(lines.filter((line) => line.startsWith('{'))).toEqual([])
  })

  it('says a stop asked during the start (a first database takes seconds), finishes the start and closes cleanly', async () => {
    const dataDir = freshDataDir()
    dirs.push(dataDir)
    const run = (extra: Record<string, string> = {}) =>
      spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'server/main.ts')], {
        cwd: repoRoot,
        env: { ...process.env, DATA_DIR: dataDir, PORT: '0', SKIP_SPA_BUILD: '1', LOG_LEVEL: 'info', ...extra },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
    const child = run()
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const said = (msg: string) => output.split('\n').some((line) => line.includes(`"msg":"${msg}"`))
    await vi.waitFor(() => expect(said('starting')).toBe(true), { timeout: 20_000, interval: 20 })
    child.kill('SIGTERM')
    expect(await closed(child)).toBe(0)
    expect(said('stop asked during the start: the start finishes, then the server closes')).toBe(true)
    expect(said('server closed')).toBe(true)
    expect(output).not.toContain('Talemy is running')
    // The folder was closed, not cut off: the next start opens it.
    const next = await spawnMain({ DATA_DIR: dataDir, PORT: '0', SKIP_SPA_BUILD: '1' })
    next.child.kill('SIGTERM')
    expect(await exited(next.child)).toBe(0)
    // Two starts, the first making a database: over 30 s under npm run test:load (load 9.6); this bound only catches a hang.
  }, 120_000)

  it('refuses to start with an unknown LOG_FORMAT and says why', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'server/main.ts')], {
      cwd: repoRoot,
      env: {
        ...process.env,
        LOG_FORMAT: 'xml',
        DATA_DIR: join(repoRoot, 'never-created'),
        PORT: '0',
        SKIP_SPA_BUILD: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    expect(await closed(child)).toBe(1)
    expect(stderr).toContain('LOG_FORMAT must be one of json, pretty, got "xml"')
  })
})
