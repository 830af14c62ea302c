// A worker thread does not inherit the TypeScript loader its parent runs under (Node 20, tsx or vitest): it registers
// tsx's own, then loads the database thread.
import { register } from 'tsx/esm/api'

register()
await import('./pgliteThread.ts')
