import { afterAll, afterEach } from 'vitest'
import { forgetKeptDrafts, forgetStoredDrafts } from '../../src/features/messages/drafts'
import { disposeFileStores } from './fileStores'

// A setup file of the unit and SPA projects (vitest.config.ts): it runs again before each of their files, though they
// share their thread's modules, so each file's stores left to its end (`trackedStore`) are disposed when it ends.
afterAll(disposeFileStores)
// Drafts a test left with "Log in again" wait in the module for that user's next login: the next test (or file) in
// the thread that renders the same user would be handed them.
afterEach(forgetKeptDrafts)
// And those a test left in the tab's storage (a reload keeps them), which a later test of the file would be handed.
afterEach(forgetStoredDrafts)
