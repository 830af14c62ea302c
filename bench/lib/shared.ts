/** Resources shared by several figures (one reference server per run), closed once at the end. */
const closers: Array<() => Promise<void>> = []

export function onShutdown(close: () => Promise<void>): void {
  closers.push(close)
}

export async function shutdownShared(): Promise<void> {
  while (closers.length > 0) {
    const close = closers.pop()!
    await close().catch((error: unknown) => console.error('shutdown:', error))
  }
}
