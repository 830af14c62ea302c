import { ContactRequestsPage } from '../features/contactRequests/ContactRequestsPage'
import { LessonsPage } from '../features/lessons/LessonsPage'
import { LoginPage } from '../features/login/LoginPage'
import { MessagesPage } from '../features/messages/MessagesPage'
import { selectUser } from './authSlice'
import { useAppSelector } from './hooks'
import { Layout } from './Layout'
import { useRoute } from './router'

/** Logged out: the login page. Logged in: the layout around the page the hash route names. */
export function App() {
  const user = useAppSelector(selectUser)
  const route = useRoute()
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
