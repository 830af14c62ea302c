import { createServer } from 'node:net'

/** What a taken port is told as: which one, and what to do. */
export function portInUseMessage(port: number, host: string): string {
  return `port ${port} on ${host} is in use (another Talemy, or another program): stop it, or set PORT to another port`
}

/** `error` as the sentence above when it is a taken port, else as it is. */
export function explainListenError(error: unknown, port: number, host: string): unknown {
  return (error as NodeJS.ErrnoException | null)?.code === 'EADDRINUSE'
    ? new Error(portInUseMessage(port, host))
    : error
}

/**
 * Binds `port` on `host` for a moment and lets it go: a taken port is then said before the database is opened (a
 * second start would otherwise wait for the data folder's lock, or migrate its own, before it learns). Another
 * program may still take the port in between: the real listen says it the same way. Port 0 is always free.
 *
 * @example await checkPortFree(3000, '127.0.0.1') // rejects with portInUseMessage(3000, '127.0.0.1') when taken
 */
export function checkPortFree(port: number, host: string): Promise<void> {
  if (port === 0) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.unref()
    probe.once('error', (error) => reject(explainListenError(error, port, host)))
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()))
  })
}
