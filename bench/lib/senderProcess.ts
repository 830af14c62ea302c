import { fork, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { BENCH_DIR } from './paths'
import { onShutdown } from './shared'
import type { SenderCommandName, SenderCommands, SenderReply, SenderRequest } from './senderProtocol'
import { withTimeout } from './stats'

export interface SenderProcess {
  call<K extends SenderCommandName>(cmd: K, ...args: Parameters<SenderCommands[K]>): ReturnType<SenderCommands[K]>
  /** Starts a send in the sender's process without waiting for (or getting) an answer; `result` reads its times. */
  send(tag: string): void
  close(): Promise<void>
}

/**
 * Forks `sender.ts`: P1's sender on an event loop (and a V8 heap) of its own, driven over IPC.
 *
 * @example
 * const sender = await startSender()
 * await sender.call('open', { kind: 'bare', url, token, conversationId })
 * sender.send('hello')
 * const { startedAt } = await sender.call('result')
 */
export async function startSender(): Promise<SenderProcess> {
  const child: ChildProcess = fork(join(BENCH_DIR, 'lib', 'sender.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>()
  let nextId = 1
  let exited = false
  const ready = new Promise<void>((resolve, reject) => pending.set(0, { resolve: () => resolve(), reject }))
  child.on('message', (raw) => {
    const reply = raw as SenderReply
    const waiter = pending.get(reply.id)
    if (!waiter) return
    pending.delete(reply.id)
    if (reply.ok) waiter.resolve(reply.result)
    else waiter.reject(new Error(`P1 sender: ${reply.error}`))
  })
  child.on('exit', (code) => {
    exited = true
    for (const waiter of pending.values()) waiter.reject(new Error(`P1 sender exited with ${code}`))
    pending.clear()
  })
  const call = (cmd: SenderCommandName, args?: unknown): Promise<unknown> => {
    if (exited) return Promise.reject(new Error('P1 sender is gone'))
    const id = nextId++
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject })
      child.send({ id, cmd, args } satisfies SenderRequest)
    })
  }
  await withTimeout(ready, 60_000, 'the P1 sender process to start')
  let closed: Promise<void> | undefined
  const close = () => {
    closed ??= (async () => {
      if (exited) return
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      await call('close').catch(() => undefined)
      child.disconnect()
      await withTimeout(gone, 10_000, 'the P1 sender to exit').catch(() => child.kill('SIGKILL'))
    })()
    return closed
  }
  onShutdown(close)
  return {
    call: call as SenderProcess['call'],
    send(tag) {
      if (exited) throw new Error('P1 sender is gone')
      child.send({ id: -1, cmd: 'send', args: { tag }, oneWay: true } satisfies SenderRequest)
    },
    close,
  }
}
