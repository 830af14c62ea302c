import { useCallback, useEffect, useEffectEvent, useLayoutEffect, useRef, type ReactNode } from 'react'
import { useGetContactRequestsQuery, useGetConversationsQuery, useGetLessonsQuery } from '../api/hooks'
import type { Conversation, Id, User } from '../contract'
import {
  type Drafts,
  DraftsContext,
  draftsEpochOf,
  draftsForVisitOf,
  forgetKeptDrafts,
  forgetStoredDrafts,
  keepDraftsForNextLogin,
  renewDraftsEpoch,
} from '../features/messages/drafts'
import { useFailedConversations, useFailedNews } from '../features/messages/failedNews'
import { Toasts } from '../features/notifications/Toasts'
import { ROLE_LABEL } from '../features/shared/people'
import { useT, type MessageId } from '../i18n'
import { selectConnection } from '../realtime'
import { loggedOut } from './authSlice'
import { ConnectionBadge } from './ConnectionBadge'
import { focusElement, focusTargetAfter, LOG_IN_AGAIN_ID } from './focus'
import { useAnnounce } from './Announcer'
import { PageBoundary } from './PageBoundary'
import { countUnsent, loggedOutByChoice, loginEmailOf } from './unsent'
import { useAppDispatch, useAppSelector, useAppStore } from './hooks'
import { LanguageSwitch } from './LanguageSwitch'
import { hrefFor, keepRouteForNextLogin, type Page, type Route } from './router'

/** How long a risen unread count must last before it is said: a false rise is taken back within it. */
export const UNREAD_NEWS_AFTER_MS = 1000

/**
 * Says politely that the unread count rose (saying the count the page shows): a message came in a conversation that is
 * not open (the open thread says its own, and its count is no news here: the server may count them unread, the socket
 * down, or until the thread's join lands; nor when the user leaves it, or opens another). Once per rise, and only once the rise has lasted `UNREAD_NEWS_AFTER_MS` over
 * what the user last knew (what was said, or unread when the list first loaded, which is not news, or less since): a
 * message in a conversation another visible tab has open counts here until the server's `conversation:read` for
 * both tabs comes a moment later, and a count that fell back meanwhile was never news. On the host's timers.
 */
function useUnreadNews(conversations: readonly Conversation[] | undefined, openId: Id | null) {
  const t = useT()
  const announce = useAnnounce()
  const known = useRef<number | null>(null)
  const loaded = conversations !== undefined
  const countOf = (id: Id | null) => (id === null ? 0 : (conversations?.find((c) => c.id === id)?.unreadCount ?? 0))
  const total = (conversations ?? []).reduce((n, c) => n + c.unreadCount, 0)
  // What is news: the open thread's count left out.
  const unread = total - countOf(openId)
  const shownOpen = useRef(openId)
  // What the user knew once the open thread changes, at the counts of the moment: the one left is taken in, the one
  // opened left out, first what of it was not said yet (a rise in it still waiting for its moment is no news once open).
  const switched = useEffectEvent((from: Id | null, to: Id | null, knew: number) => {
    const left = countOf(from)
    const unsaid = Math.max(0, total - left - knew)
    return knew + left - Math.max(0, countOf(to) - unsaid)
  })
  // In the language of the moment it is said.
  const say = useEffectEvent(() => announce(t('count.unreadMessages', { count: total })))
  useEffect(() => {
    if (!loaded) return
    if (shownOpen.current !== openId) {
      if (known.current !== null) known.current = switched(shownOpen.current, openId, known.current)
      shownOpen.current = openId
    }
    if (known.current === null || unread <= known.current) {
      known.current = unread
      return
    }
    // Any change before the moment is up (a read, another message) cancels this one; a rise starts its own.
    const timer = setTimeout(() => {
      known.current = unread
      say()
    }, UNREAD_NEWS_AFTER_MS)
    return () => clearTimeout(timer)
  }, [unread, loaded, openId])
}

const PAGE_TITLE: Record<Page, MessageId> = {
  messages: 'nav.messages',
  lessons: 'nav.lessons',
  contactRequests: 'nav.contactRequests',
}

interface NavItem {
  page: Page
  route: Route
  label: MessageId
  count: number
  countLabel: MessageId
}

/** The frame of every page once logged in: brand, navigation with counts, connection badge, logout, toasts. */
export function Layout({ user, route, children }: { user: User; route: Route; children: ReactNode }) {
  const t = useT()
  const dispatch = useAppDispatch()
  const sessionExpired = useAppSelector((s) => selectConnection(s).status === 'unauthorized')
  const { data: conversations } = useGetConversationsQuery()
  const { data: lessons } = useGetLessonsQuery()
  const { data: requests } = useGetContactRequestsQuery()
  const page = route.page

  const unread = (conversations ?? []).reduce((n, c) => n + c.unreadCount, 0)

  const openThread = route.page === 'messages' ? route.conversationId : null
  useUnreadNews(conversations, openThread)
  // A send refused for good is said on whichever page is open, and marked on the Messages link.
  useFailedNews(conversations, openThread)
  const failedSends = useFailedConversations().size > 0

  // Each page has its own title, in the chosen language (WCAG 2.4.2): what a screen reader says of the tab, and what
  // names it and its history entries, as a full load of that page would.
  const pageTitle = t(PAGE_TITLE[page])
  useEffect(() => {
    document.title = `${unread > 0 ? `(${unread}) ` : ''}${pageTitle} · Talemy`
  }, [unread, pageTitle])
  // The login page (after a logout) tells nobody how many messages the last user had waiting, nor where they were.
  useEffect(
    () => () => {
      document.title = 'Talemy'
    },
    [],
  )

  // Focus follows navigation, as a full page load would start there: after login and after each route change to the
  // page's h1, or to the composer when a conversation opens. Runs after the page's own effects (parents run last).
  const mainRef = useRef<HTMLElement>(null)
  // Half-written messages outlive their thread (another conversation or page opened meanwhile), and the forms' fields
  // their page, not the user's visit, unless it ended with "Log in again". Read during render, forgotten once drawn (a
  // render may run twice).
  const drafts = useRef<Drafts | null>(null)
  drafts.current ??= draftsForVisitOf(user.id, dispatch(draftsEpochOf(user.id)))
  useEffect(() => forgetKeptDrafts(), [])
  const shownRoute = useRef<Route | null>(null)
  useEffect(() => {
    // A new route object for the same place (another hash spelling it, a parent's re-render) moves nothing:
    // `focusTargetAfter` compares hrefs.
    const target = focusTargetAfter(shownRoute.current, route)
    shownRoute.current = route
    const main = mainRef.current
    if (target && main) (focusElement(main, target) ?? main).focus()
  }, [route])

  // A count says what waits for this user: the tutor confirms a lesson and answers a request (the contract's rules). A
  // student's own booking or request, waiting for the tutor, is not hers to act on.
  const toConfirm = (lessons ?? []).filter((l) => l.status === 'pending' && l.tutorId === user.id).length
  const toAnswer = (requests ?? []).filter((r) => r.status === 'pending' && r.tutorId === user.id).length
  const nav: NavItem[] = [
    {
      page: 'messages',
      route: { page: 'messages', conversationId: null },
      label: 'nav.messages',
      count: unread,
      countLabel: 'count.unreadMessages',
    },
    {
      page: 'lessons',
      route: { page: 'lessons' },
      label: 'nav.lessons',
      count: toConfirm,
      countLabel: 'count.toConfirm',
    },
    {
      page: 'contactRequests',
      route: { page: 'contactRequests' },
      label: 'nav.contactRequests',
      count: toAnswer,
      countLabel: 'count.toAnswer',
    },
  ]

  // The next user starts on their own messages page, not on this user's conversation (`forgetRouteWithUser`).
  const leftHere = useRef(false)
  const leave = (keepOutbox: boolean) => {
    leftHere.current = true
    if (!keepOutbox) {
      dispatch(renewDraftsEpoch(user.id))
      forgetStoredDrafts()
    }
    dispatch(loggedOut({ keepOutbox }))
  }
  const logout = () => {
    const unsent = dispatch(countUnsent())
    if (unsent > 0 && !window.confirm(t('layout.logOutConfirm', { count: unsent }))) return
    leave(false)
  }
  // The session is over, not the user's wish to send: what is unsent waits in storage for their next login, and so
  // do the page they were on (`forgetRouteWithUser` would otherwise send them to the list) and their drafts.
  const logInAgain = () => {
    keepRouteForNextLogin(user.id, route, dispatch(loginEmailOf(user.id)))
    if (drafts.current) keepDraftsForNextLogin(user.id, drafts.current)
    leave(true)
  }

  // A session that ended under this tab, left from another tab ("Log in again" there, which logs this one out too):
  // the user chose nothing here, so this tab keeps its page and drafts for their next login, as its own "Log in again"
  // would. Whether this tab had shown the session over yet or not: a tab still asking for a token (asleep, or on a slow
  // network) when the user acts in the other is as much theirs. Read at the unmount the logout causes, when the store
  // has no user (another user's login drops them), and not after their "Log out" there (its mark), which leaves
  // nothing of theirs behind; no other logout from elsewhere removes the stored session.
  const store = useAppStore()
  const shownAtEnd = useRef(route)
  useEffect(() => {
    shownAtEnd.current = route
  })
  useEffect(
    () => () => {
      if (leftHere.current || store.getState().auth.user !== null) return
      if (store.dispatch(loggedOutByChoice(user.id))) {
        forgetStoredDrafts()
        return
      }
      keepRouteForNextLogin(user.id, shownAtEnd.current, store.dispatch(loginEmailOf(user.id)))
      if (drafts.current) keepDraftsForNextLogin(user.id, drafts.current)
    },
    [store, user.id],
  )

  // "Log in again" goes once the session is back (another tab's login of this user): focus on it would fall to the
  // page's body, so it moves to "Log out" beside it. Its ref's cleanup runs while it is still in the page, focused.
  const logOutRef = useRef<HTMLButtonElement>(null)
  const focusWasOnLogInAgain = useRef(false)
  const logInAgainRef = useCallback((button: HTMLButtonElement | null) => {
    if (!button) return
    return () => {
      focusWasOnLogInAgain.current = document.activeElement === button
    }
  }, [])
  useLayoutEffect(() => {
    if (sessionExpired || !focusWasOnLogInAgain.current) return
    focusWasOnLogInAgain.current = false
    logOutRef.current?.focus()
  }, [sessionExpired])

  return (
    <div className="shell">
      {/* biome-ignore lint/a11y/useValidAnchor: a skip link is a link to #main; the hash is the router's (it would read `#main` as the messages page), so the click moves focus itself and the page stays. */}
      <a
        className="skip-link"
        href="#main"
        onClick={(event) => {
          event.preventDefault()
          mainRef.current?.focus()
        }}
      >
        {t('layout.skipToContent')}
      </a>
      <header className="topbar">
        <div className="topbar-row">
          <span className="brand" role="img" aria-label="Talemy">
            <span className="brand-mark" aria-hidden="true">
              T
            </span>
            <span className="brand-name">Talemy</span>
          </span>
          <div className={sessionExpired ? 'account account-expired' : 'account'}>
            <span className="account-name" data-testid="current-user">
              {user.name} <span className="account-role">({t(ROLE_LABEL[user.role])})</span>
            </span>
            {sessionExpired && (
              <button
                type="button"
                id={LOG_IN_AGAIN_ID}
                className="btn btn-small btn-primary"
                onClick={logInAgain}
                ref={logInAgainRef}
              >
                {t('layout.logInAgain')}
              </button>
            )}
            <button type="button" className="btn btn-quiet" onClick={logout} ref={logOutRef}>
              {t('layout.logOut')}
            </button>
          </div>
          <LanguageSwitch />
          <ConnectionBadge />
        </div>
        <nav aria-label={t('layout.nav')}>
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
                      <span className="wide-only">{t('nav.contactRequests')}</span>
                      <span className="narrow-only">{t('nav.contactRequests.short')}</span>
                    </span>
                  ) : (
                    t(item.label)
                  )}
                  {item.page === 'messages' && failedSends && (
                    <span className="conv-failed" data-testid="nav-messages-failed">
                      {' '}
                      {t('messages.notSent')}
                    </span>
                  )}
                  {item.count > 0 && (
                    <span className="count" data-testid={`nav-${item.page}-count`}>
                      <span aria-hidden="true">{item.count}</span>
                      <span className="sr-only"> {t(item.countLabel, { count: item.count })}</span>
                    </span>
                  )}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main id="main" className="main" tabIndex={-1} ref={mainRef}>
        <DraftsContext value={drafts.current}>
          <PageBoundary key={page}>{children}</PageBoundary>
        </DraftsContext>
      </main>
      <Toasts />
    </div>
  )
}
