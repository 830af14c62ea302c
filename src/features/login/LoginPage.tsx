import { useEffect, useId, useRef, useState, type FormEvent } from 'react'
import { FormattedMessage } from 'react-intl'
import { useLoginMutation } from '../../api/hooks'
import { LanguageSwitch } from '../../app/LanguageSwitch'
import { keptLoginEmail } from '../../app/router'
import { atWallClock, useDates, useT, type MessageId } from '../../i18n'
import { errorCode, errorMessageId } from '../shared/errors'
import { useFieldWords } from '../shared/fieldWords'
import { ROLE_LABEL } from '../shared/people'

/** The seeded demo accounts; all share one password. */
export const DEMO_ACCOUNTS = [
  { name: 'Alice', email: 'alice@talemy.test', role: 'student' },
  { name: 'Bob', email: 'bob@talemy.test', role: 'tutor' },
  { name: 'Carol', email: 'carol@talemy.test', role: 'tutor' },
] as const
export const DEMO_PASSWORD = 'talemy'

/** The message id for a failed login: wrong credentials said plainly, anything else by its error code. */
export function loginErrorId(error: unknown): MessageId {
  if ((error as { status?: unknown } | undefined)?.status === 401) return 'login.wrongCredentials'
  const id = errorMessageId(error)
  return id === 'error.UNKNOWN' ? 'login.failed' : id
}

/** The shortest wait said as failed attempts and a time of day; a shorter one is "wait a moment". */
const SHORTEST_SAID_WAIT_MS = 60_000

/**
 * The wait a login refused for its rate asks for, in ms, when it is a minute or more, or `null` for any other error:
 * failed logins are throttled for up to the server's window (15 minutes by default), no "moment". A shorter wait is the
 * per-address limit on logins (the same RATE_LIMITED, under a second), or the throttle's last seconds: "wait a moment"
 * (the error's own words), not "too many failed attempts" to someone who typed the right password.
 *
 * @example loginWaitMs({ status: 429, data: { error: { code: 'RATE_LIMITED', message: '…', retryAfterMs: 61000 } } }) // 61000
 */
export function loginWaitMs(error: unknown): number | null {
  if (errorCode(error) !== 'RATE_LIMITED') return null
  const ms = (error as { data?: { error?: { retryAfterMs?: unknown } } }).data?.error?.retryAfterMs
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= SHORTEST_SAID_WAIT_MS ? ms : null
}

/** A login refused for its rate: when it was refused, and when the wait ends, on this browser's clock (ms). */
interface LoginWait {
  error: unknown
  at: number
  end: number
  over: boolean
}

/**
 * The wait the login's `error` asks for, or `null` for any other error. It is said as the time of day it ends, rounded
 * up to its minute (never a time before it ends): "in 15 minutes", worked out once, was still said ten minutes later,
 * and after the wait. `over` once that time has come, by the wall clock: checked at the end, and every minute besides
 * (a machine asleep past the end says so within a minute of waking).
 */
function useLoginWait(error: unknown): LoginWait | null {
  const [wait, setWait] = useState<LoginWait | null>(null)
  let current = wait
  if ((wait?.error ?? null) !== (error ?? null) && (wait !== null || loginWaitMs(error) !== null)) {
    // Worked out for each refusal as it is first drawn (not in an effect: a first draw without its time would be
    // announced, and again once the time came).
    const ms = loginWaitMs(error)
    const at = Date.now()
    current = ms === null ? null : { error, at, end: Math.ceil((at + ms) / 60_000) * 60_000, over: false }
    setWait(current)
  }
  useEffect(() => {
    if (!wait || wait.over) return
    return atWallClock(wait.end, () => setWait((now) => (now === wait ? { ...wait, over: true } : now)))
  }, [wait])
  return current
}

export function LoginPage() {
  const t = useT()
  // The session ended by itself ("Log in again"): the user typed their email to start it, and types only the password.
  const [email, setEmail] = useState(() => keptLoginEmail() ?? '')
  const [password, setPassword] = useState('')
  const [login, { isLoading, error, originalArgs, reset }] = useLoginMutation()
  const submitRef = useRef<HTMLButtonElement>(null)
  const headingRef = useRef<HTMLHeadingElement>(null)
  const emailRef = useRef<HTMLInputElement>(null)
  const passwordRef = useRef<HTMLInputElement>(null)
  useFieldWords(emailRef)
  useFieldWords(passwordRef)
  const id = useId()
  const dates = useDates()
  // The day is named as it was when the login was refused: the words stay the same (the alert is not said again at
  // midnight), and stay true.
  const waitText = ({ at, end }: LoginWait) => {
    const iso = new Date(end).toISOString()
    const refused = new Date(at)
    return t('login.tooManyAttempts', {
      today: dates.isToday(iso, refused) ? 'yes' : 'no',
      day: dates.day(iso, refused),
      time: dates.time(iso),
    })
  }

  // The page's own title in the chosen language (WCAG 2.4.2), as the pages past the login have: "Talemy" alone named
  // nothing, and stayed English in French.
  const pageTitle = t('login.pageTitle')
  useEffect(() => {
    document.title = `${pageTitle} · Talemy`
  }, [pageTitle])

  // After a logout the button that had focus is gone: start again at the top of this page, not at the body; or, with
  // the email offered, at the password, all that is left to type. Read again here: when another tab's "Log in again"
  // ends this tab's session, its view keeps the email as it goes, after this page's first render.
  useEffect(() => {
    const kept = keptLoginEmail()
    if (kept) setEmail((typed) => typed || kept)
    if (document.activeElement === document.body || document.activeElement === null)
      (kept ? passwordRef : headingRef).current?.focus()
  }, [])

  const submit = (e: FormEvent) => {
    e.preventDefault()
    // A second press while the first runs (the button is only aria-disabled) logs in nothing more.
    if (isLoading) return
    // Success dispatches `auth/loggedIn` (the mutation does it), which swaps this page for the app.
    login({ email: email.trim(), password }).catch(() => {})
  }

  const wait = useLoginWait(error)
  // Refused for the credentials: both fields are in error (the server does not say which, and must not), until edited.
  const fieldsRefused =
    loginErrorId(error) === 'login.wrongCredentials' &&
    originalArgs?.email === email.trim() &&
    originalArgs.password === password
  const fieldError = fieldsRefused ? { 'aria-invalid': true, 'aria-describedby': `${id}-error` } : {}
  // An attempt held back by a field (left empty, not an email) never reaches the server: the refusal of the one before
  // ("Wrong email or password.") stood beside the field's own words as if it answered this one. A wait still running
  // stays: it is still true.
  const forgetRefusal = () => {
    if (error && (wait === null || wait.over)) reset()
  }
  const message = !error ? null : wait === null ? t(loginErrorId(error)) : wait.over ? null : waitText(wait)

  return (
    <main className="login" id="main">
      <div className="login-card">
        <div className="login-top">
          <LanguageSwitch />
        </div>
        <h1 className="login-title" tabIndex={-1} ref={headingRef}>
          <span className="brand-mark" aria-hidden="true">
            T
          </span>{' '}
          {t('login.heading')}
        </h1>
        <p className="login-lead">{t('login.lead')}</p>
        <form className="form" onSubmit={submit} aria-describedby={message ? `${id}-error` : undefined}>
          <div className="field">
            <label htmlFor={`${id}-email`}>{t('login.email')}</label>
            <input
              id={`${id}-email`}
              ref={emailRef}
              name="email"
              type="email"
              autoComplete="username"
              required
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              onInvalid={forgetRefusal}
              {...fieldError}
            />
          </div>
          <div className="field">
            <label htmlFor={`${id}-password`}>{t('login.password')}</label>
            <input
              id={`${id}-password`}
              ref={passwordRef}
              name="password"
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              onInvalid={forgetRefusal}
              {...fieldError}
            />
          </div>
          {message && (
            <p className="form-error" role="alert" id={`${id}-error`}>
              {message}
            </p>
          )}
          {/* aria-disabled, not disabled: a focused button that becomes disabled loses focus to <body>, and a refused
              login would leave the keyboard user at the top of the page. */}
          <button
            ref={submitRef}
            type="submit"
            className="btn btn-primary btn-block"
            aria-disabled={isLoading || undefined}
          >
            {isLoading ? t('login.submitting') : t('login.submit')}
          </button>
        </form>
        <section className="demo" aria-labelledby={`${id}-demo`}>
          <h2 id={`${id}-demo`}>{t('login.demoTitle')}</h2>
          <p className="muted">
            <FormattedMessage id="login.demoHint" values={{ password: <code>{DEMO_PASSWORD}</code> }} />
          </p>
          <ul className="demo-list">
            {DEMO_ACCOUNTS.map((a) => (
              <li key={a.email}>
                <button
                  type="button"
                  className="demo-account"
                  data-testid={`demo-${a.name.toLowerCase()}`}
                  onClick={() => {
                    setEmail(a.email)
                    setPassword(DEMO_PASSWORD)
                    submitRef.current?.focus()
                  }}
                >
                  <span className="demo-name">
                    {a.name} <span className="muted">({t(ROLE_LABEL[a.role])})</span>
                  </span>
                  <span className="demo-email">{a.email}</span>
                </button>
              </li>
            ))}
          </ul>
        </section>
      </div>
    </main>
  )
}
