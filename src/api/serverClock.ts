/**
 * This browser's clock minus the server's, in ms, learnt from every token the server has just issued (its `iat` is the
 * server's now). A token's times are the server's: the session middleware schedules refreshes by them, and the
 * refresh judges whether another tab's token is still fresh by them. 0 until a login or a refresh has told it.
 */
export interface ServerClock {
  skewMs: number
}

/** The server's now as this browser can tell it. */
export const serverNow = (clock: ServerClock | undefined, browserNow: number): number =>
  browserNow - (clock?.skewMs ?? 0)
