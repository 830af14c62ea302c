import { expect, vi } from 'vitest'
import { SessionStore } from '../../../server/sessions'
import { http } from './server'

/**
 * Session `sessionId` (of `token`) revoked during its socket's handshake, through the node at `url`, and the check
 * after the connection held: the handshake's check of the session reads it live, the logout commits before that answer
 * goes back, and the next check (the one after the connection, reading the database) tells `asked` and answers only
 * once `answer()` is called. Other sessions' checks answer as usual. `isLive.mockRestore()` undoes it.
 *
 * @example const held = revokedDuringHandshake(url, token, sid); …connect…; await held.asked; …; held.answer()
 */
export function revokedDuringHandshake(url: string, token: string, sessionId: string) {
  const real = SessionStore.prototype.isLive
  let step: 'handshake' | 'revoking' | 'recheck' | 'after' = 'handshake'
  let recheckAsked: () => void = () => undefined
  const asked = new Promise<void>((resolve) => (recheckAsked = resolve))
  let answer: () => void = () => undefined
  const answered = new Promise<void>((resolve) => (answer = resolve))
  const isLive = vi.spyOn(SessionStore.prototype, 'isLive').mockImplementation(async function (this: SessionStore, id) {
    if (id !== sessionId || step === 'revoking' || step === 'after') return real.call(this, id)
    if (step === 'handshake') {
      const live = await real.call(this, id)
      step = 'revoking'
      // The logout commits while the handshake's answer is on its way: no socket of the session is in its room yet.
      expect((await http(url, 'POST', '/api/auth/logout', { token })).status).toBe(204)
      step = 'recheck'
      return live
    }
    step = 'after'
    recheckAsked()
    await answered
    return real.call(this, id)
  })
  return { asked, answered, answer: () => answer(), isLive }
}
