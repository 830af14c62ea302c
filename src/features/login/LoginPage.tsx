import { useId, useRef, useState, type FormEvent } from 'react'
import { useLoginMutation } from '../../api'
import { errorMessage } from '../shared/errors'

/** The seeded demo accounts; all share one password. */
export const DEMO_ACCOUNTS = [
  { name: 'Alice', email: 'alice@talemy.test', role: 'student' },
  { name: 'Bob', email: 'bob@talemy.test', role: 'tutor' },
  { name: 'Carol', email: 'carol@talemy.test', role: 'tutor' },
] as const
export const DEMO_PASSWORD = 'talemy'

export function LoginPage() {
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [login, { isLoading, error }] = useLoginMutation()
  const submitRef = useRef<HTMLButtonElement>(null)
  const id = useId()

  const submit = (e: FormEvent) => {
    e.preventDefault()
    // Success dispatches `auth/loggedIn` (the mutation does it), which swaps this page for the app.
    login({ email: email.trim(), password }).catch(() => {})
  }

  const status = (error as { status?: unknown } | undefined)?.status
  const message = error
    ? status === 401
      ? 'Wrong email or password.'
      : errorMessage(error, 'Could not log in. Please try again.')
    : null

  return (
    <main className="login" id="main">
      <div className="login-card">
        <h1 className="login-title">
          <span className="brand-mark" aria-hidden="true">T</span> Talemy
        </h1>
        <p className="login-lead">Log in to message your tutors and students, book lessons and answer requests.</p>
        <form className="form" onSubmit={submit} aria-describedby={message ? `${id}-error` : undefined}>
          <div className="field">
            <label htmlFor={`${id}-email`}>Email</label>
            <input
              id={`${id}-email`}
              name="email"
              type="email"
              autoComplete="username"
              required
              value={email}
              onChange={(e) => setEmail(e.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor={`${id}-password`}>Password</label>
            <input
              id={`${id}-password`}
              name="password"
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </div>
          {message && (
            <p className="form-error" role="alert" id={`${id}-error`}>
              {message}
            </p>
          )}
          <button ref={submitRef} type="submit" className="btn btn-primary btn-block" disabled={isLoading}>
            {isLoading ? 'Logging in…' : 'Log in'}
          </button>
        </form>
        <section className="demo" aria-labelledby={`${id}-demo`}>
          <h2 id={`${id}-demo`}>Demo accounts</h2>
          <p className="muted">
            Password <code>{DEMO_PASSWORD}</code> for all. Pick one to fill the form.
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
                    {a.name} <span className="muted">({a.role})</span>
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
