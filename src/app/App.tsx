import { useLayoutEffect, useRef } from 'react'
import { ContactRequestsPage } from '../features/contactRequests/ContactRequestsPage'
import { LessonsPage } from '../features/lessons/LessonsPage'
import { LoginPage } from '../features/login/LoginPage'
import { MessagesPage } from '../features/messages/MessagesPage'
import { useForgetAnnouncements } from './Announcer'
import { selectUser } from './authSlice'
import { useAppSelector } from './hooks'
import { Layout } from './Layout'
import { useRoute } from './router'

/** Logged out: the login page. Logged in: the layout around the page the hash route names. */
export function App() {
  const user = useAppSelector(selectUser)
  const route = useRoute()
  // The live regions sit above the app: once the user who was logged in has left (a logout, another tab's login as
  // someone else), what was said to them goes too, before the next page is drawn.
  const forget = useForgetAnnouncements()
  const shownUser = useRef(user?.id ?? null)
  useLayoutEffect(() => {
    const left = shownUser.current
    shownUser.current = user?.id ?? null
    if (left !== null && left !== shownUser.current) forget()
  }, [user?.id, forget])
  if (!user) return <LoginPage />
  return (
    // Keyed by user: nothing of a previous user's page state survives a logout and a new login.
    <Layout key={user.id} user={user} route={route}>
      {route.page === 'messages' && <MessagesPage conversationId={route.conversationId} />}
      {route.page === 'lessons' && <LessonsPage />}
      {route.page === 'contactRequests' && <ContactRequestsPage />}
    </Layout>
  )
}
