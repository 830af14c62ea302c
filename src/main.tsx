import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { Provider } from 'react-redux'
import { App } from './app/App'
import { makeStore } from './app/store'
import { createToaster } from './features/notifications/toaster'
import { ToasterContext } from './features/notifications/Toasts'
import './styles.css'

const toaster = createToaster()
const store = makeStore({ extraMiddleware: [toaster.middleware] })

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Provider store={store}>
      <ToasterContext value={toaster}>
        <App />
      </ToasterContext>
    </Provider>
  </StrictMode>,
)
