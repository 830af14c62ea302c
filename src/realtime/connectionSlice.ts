// The slice was renamed `socketSlice` (module `socketSlice.ts`): this re-export keeps files other branches are
// editing compiling until they move over; delete it after the merge.
export type { SocketRootState } from './socketSlice'
