import { afterAll } from 'vitest'
import { disposeFileStores } from './fileStores'

// A setup file of the unit and SPA projects (vitest.config.ts): it runs again before each of their files, though they
// share their thread's modules, so each file's stores left to its end (`trackedStore`) are disposed when it ends.
afterAll(disposeFileStores)
