import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { Provider } from 'react-redux'
import { AnnouncerProvider } from './app/Announcer'
import { App } from './app/App'
import { forgetRouteWithUser } from './app/router'
import { makeStore } from './app/store'
import { browserPageLock, browserToastChannel, createToaster } from './features/notifications/toaster'
import { ToasterContext } from './features/notifications/Toasts'
import { I18nProvider } from './i18n'
import './styles.css'

// The user's other tabs tell this one of the changes they ask for: a cancellation made there is no news here. Their
// page locks say when one crashed with changes unanswered.
const pageLock = browserPageLock()
const toaster = createToaster({ channel: browserToastChannel(), ...(pageLock ? { pageLock } : {}) })
const store = makeStore({ extraMiddleware: [toaster.middleware] })
forgetRouteWithUser(store)

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Provider store={store}>
      <I18nProvider>
        <AnnouncerProvider>
          <ToasterContext value={toaster}>
            <App />
          </ToasterContext>
        </AnnouncerProvider>
      </I18nProvider>
    </Provider>
  </StrictMode>,
)
