import { useEffect, useRef, type ReactNode } from 'react'
import { useGetContactRequestsQuery, useGetConversationsQuery, useGetLessonsQuery } from '../api'
import type { User } from '../contract'
import { Toasts } from '../features/notifications/Toasts'
import { selectConnection, selectPendingMessages } from '../realtime'
import { loggedOut } from './authSlice'
import { ConnectionBadge } from './ConnectionBadge'
import { useAppDispatch, useAppSelector } from './hooks'
import { hrefFor, type Page, type Route } from './router'

interface NavItem {
  page: Page
  route: Route
  label: string
  count: number
  countLabel: string
}

/** The frame of every page once logged in: brand, navigation with counts, connection badge, logout, toasts. */
export function Layout({ user, page, children }: { user: User; page: Page; children: ReactNode }) {
  const dispatch = useAppDispatch()
  const pending = useAppSelector(selectPendingMessages)
  const sessionExpired = useAppSelector((s) => selectConnection(s).status === 'unauthorized')
  const { data: conversations } = useGetConversationsQuery()
  const { data: lessons } = useGetLessonsQuery()
  const { data: requests } = useGetContactRequestsQuery()

  const unread = (conversations ?? []).reduce((n, c) => n + c.unreadCount, 0)

  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) Talemy` : 'Talemy'
  }, [unread])

  // After a page change, focus moves to the page (as a full page load would), so screen readers start there.
  const mainRef = useRef<HTMLElement>(null)
  const shownPage = useRef(page)
  useEffect(() => {
    if (shownPage.current === page) return
    shownPage.current = page
    mainRef.current?.focus()
  }, [page])
  const pendingLessons = (lessons ?? []).filter((l) => l.status === 'pending').length
  const pendingRequests = (requests ?? []).filter((r) => r.status === 'pending').length
  const nav: NavItem[] = [
    { page: 'messages', route: { page: 'messages', conversationId: null }, label: 'Messages', count: unread, countLabel: 'unread' },
    { page: 'lessons', route: { page: 'lessons' }, label: 'Lessons', count: pendingLessons, countLabel: 'pending' },
    { page: 'contactRequests', route: { page: 'contactRequests' }, label: 'Contact requests', count: pendingRequests, countLabel: 'pending' },
  ]

  const logout = () => {
    if (pending.length > 0) {
      const n = pending.length
      const ok = window.confirm(
        `${n} message${n === 1 ? ' has' : 's have'} not been sent yet. Log out anyway and discard ${n === 1 ? 'it' : 'them'}?`,
      )
      if (!ok) return
    }
    dispatch(loggedOut())
    // The next user starts on their own messages page, not on this user's conversation.
    window.history.replaceState(null, '', window.location.pathname + window.location.search)
  }

  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <div className="topbar-row">
          <span className="brand" aria-label="Talemy">
            <span className="brand-mark" aria-hidden="true">T</span>
            <span className="brand-name">Talemy</span>
          </span>
          <div className="account">
            <span className="account-name" data-testid="current-user">
              {user.name} <span className="account-role">({user.role})</span>
            </span>
            {sessionExpired && (
              <button type="button" className="btn btn-small btn-primary" onClick={logout}>
                Log in again
              </button>
            )}
            <button type="button" className="btn btn-quiet" onClick={logout}>
              Log out
            </button>
          </div>
          <ConnectionBadge />
        </div>
        <nav aria-label="Main">
          <ul className="nav">
            {nav.map((item) => (
              <li key={item.page}>
                <a
                  href={hrefFor(item.route)}
                  aria-current={item.page === page ? 'page' : undefined}
                  data-testid={`nav-${item.page}`}
                >
                  {item.page === 'contactRequests' ? (
                    <span>
                      <span className="wide-only">Contact </span>
                      <span className="label-tail">requests</span>
                    </span>
                  ) : (
                    item.label
                  )}
                  {item.count > 0 && (
                    <span className="count" data-testid={`nav-${item.page}-count`}>
                      {item.count}
                      <span className="sr-only"> {item.countLabel}</span>
                    </span>
                  )}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main id="main" className="main" tabIndex={-1} ref={mainRef}>
        {children}
      </main>
      <Toasts />
    </div>
  )
}
