import type { Id } from '../contract'
import type { Context } from './context'

/**
 * The name of the user's drain lock: one tab of the user's sends at a time, whichever tab wrote them.
 *
 * @example drainLockName('u1') // 'talemy.outbox.u1'
 */
export const drainLockName = (userId: Id | null): string => `talemy.outbox.${userId ?? 'anonymous'}`

/**
 * The drain lock as the outbox runner holds it: one request (or grant) at a time, let go by `release`; a grant that
 * comes for an older session goes back at once.
 *
 * @example const lock = outboxLock(ctx); lock.request('talemy.outbox.u1', (waited, ours) => …); lock.release()
 */
export function outboxLock(ctx: Pick<Context, 'lock' | 'session'>) {
  /** Lets the lock go, or the request for it. */
  let letGo: (() => void) | null = null
  /**
   * The grant `release`, asked for in `session`, is still this session's to take. Only a release (or a new request)
   * replaces `letGo`, and a new session's reset lets it go: a grant that is not taken is never left held unreleased.
   */
  const stillOurs = (session: number, release: (() => void) | null) => session === ctx.session && letGo === release

  return {
    /**
     * Asks for the lock `name`. `granted` hands the grant to the machine once this session holds it: `waited` when it
     * came after `request` returned, `ours` whether it is still this session's grant when the machine takes it.
     */
    request(name: string, granted: (waited: boolean, ours: () => boolean) => void, lost: () => void) {
      const session = ctx.session
      let grantedNow = false
      let requesting = true
      let grant: (() => void) | null = null
      const giveUp = ctx.lock.request(
        name,
        (release) => {
          if (session !== ctx.session) return release()
          letGo = grant = release
          if (requesting) grantedNow = true
          else granted(true, () => stillOurs(session, release))
        },
        () => {
          // Taken away while held (not let go since): nothing to let go of any more.
          if (grant === null || !stillOurs(session, grant)) return
          letGo = null
          lost()
        },
      )
      requesting = false
      // Granted inside `request` (a free lock): `letGo` is already the release.
      if (!grantedNow) return void (letGo = giveUp)
      const release = letGo
      granted(false, () => stillOurs(session, release))
    },
    release() {
      letGo?.()
      letGo = null
    },
  }
}
