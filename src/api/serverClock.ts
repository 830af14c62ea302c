/**
 * This browser's clock minus the server's, in ms, learnt from every token the server has just issued (its `iat` is the
 * server's now; with the answer's `Age` for one answered again from the reuse window), and until one comes from the
 * answers' `Date`. A token's times are the server's: the session middleware
 * schedules refreshes by them, and the refresh judges whether another tab's token is still fresh by them; the lessons
 * page judges by it whether a moment has passed.
 */
export interface ServerClock {
  skewMs: number
  /**
   * Whether a token told `skewMs`. Until one does (a reloaded page keeps its token, and learns nothing from it until its
   * refresh), each answer's `Date` tells it: a proxy in front may write that one, the token is the server's own.
   */
  byToken?: boolean
}

/** Both a token's `iat` and an answer's `Date` are in whole seconds. */
const SECOND_MS = 1_000

/**
 * Learns the offset from a moment of the server's known to the second (`serverSecond`, in ms), seen at `browserNow`:
 * that moment may be up to a second younger than it says, so the offset is taken that second smaller (the server's now
 * is read at most a second ahead, never behind: a refresh comes early, never late).
 */
export function learnSkew(clock: ServerClock, serverSecond: number, browserNow: number, byToken: boolean): void {
  if (clock.byToken && !byToken) return
  clock.skewMs = browserNow - serverSecond - SECOND_MS
  if (byToken) clock.byToken = true
}

/** The server's now as this browser can tell it. */
export const serverNow = (clock: ServerClock | undefined, browserNow: number): number =>
  browserNow - (clock?.skewMs ?? 0)
