import { AppError } from '../../../server/errors'
import type { LoginThrottle } from '../../../server/loginThrottle'

/**
 * One email's login attempts through `throttle`, as the login route makes them: a failure (the email exists, the
 * password is wrong), a success (optionally doing `during` while its password is checked), and how many failures from
 * fresh addresses (the per-pair counter is not what stops a distributed guesser) go through before a refusal.
 */
export function loginAttempts(throttle: LoginThrottle, email: string) {
  const fail = (address: string) =>
    throttle.run({ email, address }, async () => ({ exists: true, user: undefined as string | undefined }))
  const succeed = (address: string, during?: () => Promise<void>) =>
    throttle.run({ email, address }, async () => {
      await during?.()
      return { exists: true, user: 'alice' as string | undefined }
    })
  const allowedBeforeRefusal = async () => {
    for (let i = 0; i < 10; i++) {
      const outcome = await fail(`198.51.100.${i + 1}`).then(
        () => 'allowed',
        (error: unknown) => (error instanceof AppError ? error.code : String(error)),
      )
      if (outcome !== 'allowed') return { allowed: i, refusal: outcome }
    }
    return { allowed: 10, refusal: 'never' }
  }
  return { fail, succeed, allowedBeforeRefusal }
}
