import { act } from 'react'
import { createRoot, type Root } from 'react-dom/client'
import { Provider } from 'react-redux'
import { afterEach, beforeEach, expect } from 'vitest'
import { AnnouncerProvider } from '../../../src/app/Announcer'
import { App } from '../../../src/app/App'
import { createMemoryStorage, type MakeStoreOptions } from '../../../src/app/store'
import { trackedStore } from '../../support/trackedStores'
import { createToaster, type Toaster } from '../../../src/features/notifications/toaster'
import type { User } from '../../../src/contract'
import { ToasterContext } from '../../../src/features/notifications/Toasts'
import { sendMessage } from '../../../src/realtime'
import { I18nProvider } from '../../../src/i18n'
import { eventually } from './eventually'
import { fakeSockets } from '../../unit/support/fakeSocket'
import { alice, bob, conversation, message } from '../../unit/support/fixtures'

// React only runs `act` without warnings when told it is a test environment.
;(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true

/** A JSON answer, as the API gives one. */
import { json } from '../../unit/support/responses'
export { json }

/** The yes a change that cannot be undone asks for (the card's second step, `ConfirmStep`), by the button that asks. */
const YES_FOR: Record<string, string> = { 'Cancel lesson': 'Yes, cancel lesson', Decline: 'Yes, decline' }

/**
 * Presses the button named `name` in `scope`, and then the yes of the question it asks, if it asks one (Cancel lesson,
 * Decline): the change itself, whichever button makes it. Not inside `act`: the question is drawn between the two.
 *
 * @example pressToChange(card, 'Cancel lesson')
 */
export function pressToChange(scope: ParentNode, name: string): void {
  const find = (text: string) => [...scope.querySelectorAll('button')].find((b) => b.textContent === text)
  act(() => find(name)!.click())
  const yes = YES_FOR[name]
  if (yes !== undefined) act(() => find(yes)!.click())
}

/**
 * A fake API as `fetch`: `route` answers each request, given its method and path (`/api/…`), and the request itself
 * (its headers, query, body).
 *
 * @example apiRoutes((method, path) => (path === '/api/users' ? json(200, [alice, bob]) : json(200, [])))
 */
export const apiRoutes = (
  route: (method: string, path: string, request: Request) => Response | Promise<Response>,
): typeof fetch =>
  (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init)
    return route(request.method, new URL(request.url).pathname, request)
  }) as typeof fetch

/**
 * The API of a page whose people (`/api/users`: Alice and Bob) answer only at `answerPeople()`, as a slow server's
 * first read; `route` answers the rest by path (`[]` where it gives nothing).
 *
 * @example const { fetchFn, answerPeople } = heldPeopleApi((path) => (path === '/api/conversations' ? json(200, []) : undefined))
 */
export function heldPeopleApi(route: (path: string) => Response | undefined) {
  let answer: () => void = () => {}
  const answered = new Promise<void>((resolve) => {
    answer = resolve
  })
  // Each read its own Response: a body is read once, and the page may read the people again meanwhile.
  const people = () => answered.then(() => json(200, [alice, bob]))
  const fetchFn = apiRoutes((_method, path) => (path === '/api/users' ? people() : (route(path) ?? json(200, []))))
  return { fetchFn, answerPeople: () => act(async () => answer()) }
}

/**
 * The API of a page listing `items` at `list`, whose PATCH is answered `status` with `answer` only once `release()` is called
 * (the user may go on meanwhile); `patched()` says whether the PATCH came.
 *
 * @example const api = heldPatchApi('/api/lessons', [lesson('l1')], confirmed); await press(); api.release()
 */
export function heldPatchApi(list: string, items: unknown, answer: unknown, status = 200) {
  let release: () => void = () => {}
  const released = new Promise<void>((resolve) => {
    release = resolve
  })
  let patched = false
  const fetchFn = apiRoutes(async (method, path) => {
    if (method === 'PATCH') {
      patched = true
      await released
      return json(status, answer)
    }
    if (path === list) return json(200, items)
    if (path === '/api/users') return json(200, [alice, bob])
    return json(200, [])
  })
  return { fetchFn, release: () => release(), patched: () => patched }
}

/** The API of a user with one conversation, `c1`, whose thread holds one message (Alice and Bob as the users). */
export const threadApi = apiRoutes((_method, path) => {
  if (path === '/api/conversations') return json(200, [conversation('c1')])
  if (path === '/api/conversations/c1/messages') return json(200, [message(1)])
  if (path === '/api/users') return json(200, [alice, bob])
  return json(200, [])
})

/** Bob's messages in `c1` with seqs `from`…`to`, oldest first. */
export const bobsMessages = (from: number, to: number) =>
  Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => message(from + i, { senderId: bob.id }))

/** A page of Bob's messages as the API answers one: the 50 ending at `top` (fewer near the first). */
export const pageEndingAt = (top: number) => json(200, bobsMessages(Math.max(1, top - 49), top))

/**
 * The API of Alice's one conversation, `c1`, with Bob: `thread` answers its messages, given the `before` a page asked
 * for (null: the latest page).
 *
 * @example bobsThreadApi((before) => pageEndingAt(before === null ? 100 : before - 1))
 */
export const bobsThreadApi = (thread: (before: number | null) => Response | Promise<Response>): typeof fetch =>
  apiRoutes((_method, path, request) => {
    if (path === '/api/conversations') return json(200, [conversation('c1')])
    if (path === '/api/users') return json(200, [alice, bob])
    if (path === '/api/conversations/c1/messages') {
      const before = new URL(request.url).searchParams.get('before')
      return thread(before === null ? null : Number(before))
    }
    return json(200, [])
  })

/**
 * A fresh container and React root for each test of the file (unmounted and removed after it), at `hash`.
 *
 * @example const page = pagePerTest('#/lessons'); … page.root.render(<App />); page.container.querySelector('h1')
 */
export function pagePerTest(hash = '/') {
  let container: HTMLElement
  let root: Root
  beforeEach(() => {
    window.history.replaceState(null, '', hash)
    container = document.createElement('div')
    document.body.append(container)
    root = createRoot(container)
  })
  afterEach(() => {
    act(() => root.unmount())
    container.remove()
    window.history.replaceState(null, '', '/')
  })
  return {
    get container() {
      return container
    },
    get root() {
      return root
    },
  }
}

/** A store as the page has it, logged in as Alice by default, on a fake socket and the given API. */
export function appStore(fetchFn: typeof fetch, over: Partial<MakeStoreOptions> = {}) {
  const sockets = fakeSockets()
  const store = trackedStore({
    apiUrl: 'http://api.test',
    createSocket: sockets.createSocket,
    storage: createMemoryStorage(),
    shareSocket: false,
    fetchFn,
    preloadedState: { auth: { token: 'token-1', user: alice } },
    ...over,
  })
  // A test disposes its store while the page still shows it: the connection going idle renders the page, inside `act`
  // as React expects in a test (outside it, every component reading the store warned). It returns nothing: given back,
  // the thenable `act` returns made a test's own `act(() => store.dispose())` an async act nobody awaited, whose scope
  // never closed (tests/spa/support/actScopeClosed.setup.ts).
  const dispose = store.dispose
  store.dispose = () => {
    act(() => dispose())
  }
  return { store, sockets }
}

/**
 * The app drawn in `page` on the API `fetchFn`, its socket connected and caught up (offset 1, epoch `e1`), with no
 * invalidation window (a change the server tells of is read again at once).
 *
 * @example const { store, sockets } = connectedApp(page, bobsThreadApi(() => pageEndingAt(20)))
 */
export function connectedApp(page: ReturnType<typeof pagePerTest>, fetchFn: typeof fetch) {
  const { store, sockets } = appStore(fetchFn, { realtime: { invalidationWindowMs: 0 } })
  renderApp(page.root, store)
  act(() => sockets.last.serverConnect())
  act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
  return { store, sockets }
}

/**
 * A page on Alice's thread c1 (`threadApi`, drawn in `page` at `#/messages/c1`) that wrote `content` there (clientId
 * `k0`) and sent it, then went (a reload): the storage it leaves, whose outbox holds the message, waiting for its
 * answer, or failed when `refused` (the server's FORBIDDEN).
 *
 * @example const storage = await writtenBeforeReload(page, 'written'); const next = appStore(api, { storage })
 */
export async function writtenBeforeReload(
  page: ReturnType<typeof pagePerTest>,
  content: string,
  { refused = false } = {},
): Promise<ReturnType<typeof createMemoryStorage>> {
  const storage = createMemoryStorage()
  const first = appStore(threadApi, { storage })
  renderApp(page.root, first.store)
  act(() => first.sockets.last.serverConnect())
  await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
  act(() => void first.store.dispatch(sendMessage({ conversationId: 'c1', content, clientId: 'k0' })))
  await eventually(() => expect(first.sockets.last.sent('message:send')).toHaveLength(1))
  if (refused) {
    await act(async () => {
      first.sockets.last
        .sent('message:send')[0]!
        .ack({ ok: false, error: { code: 'FORBIDDEN', message: 'not a participant' } })
    })
    await eventually(() => expect(page.container.querySelector('[data-status=failed]')).not.toBeNull())
  }
  act(() => page.root.unmount())
  first.store.dispose()
  return storage
}

/**
 * Alice's thread c1 with Bob (`threadApi`) drawn in `page` (open at `#/messages/c1`), connected, keyboard focus in the
 * composer.
 *
 * @example const { sockets, composer } = await threadWithFocusedComposer(page)
 */
export async function threadWithFocusedComposer(page: ReturnType<typeof pagePerTest>) {
  const { store, sockets } = appStore(threadApi)
  renderApp(page.root, store)
  act(() => sockets.last.serverConnect())
  await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
  const composer = page.container.querySelector<HTMLTextAreaElement>('[data-testid=composer]')!
  act(() => composer.focus())
  return { store, sockets, composer }
}

/** The whole app in `root`, with its providers, as `main.tsx` renders it (with `toaster`, its toasts too). */
export function renderApp(root: Root, store: ReturnType<typeof trackedStore>, toaster?: Toaster): void {
  const app = toaster ? (
    <ToasterContext value={toaster}>
      <App />
    </ToasterContext>
  ) : (
    <App />
  )
  act(() =>
    root.render(
      <Provider store={store}>
        <I18nProvider>
          <AnnouncerProvider>{app}</AnnouncerProvider>
        </I18nProvider>
      </Provider>,
    ),
  )
}

/**
 * `me` on the messages page with the app's toaster (what turns server events into toasts), once the page is drawn
 * (`heading`: its title in the language of the moment).
 */
export async function messagesPageWithToasts(page: ReturnType<typeof pagePerTest>, me: User, heading = 'Messages') {
  window.history.replaceState(null, '', '#/messages')
  const toaster = createToaster()
  const fetchFn = apiRoutes((_method, path) => json(200, path === '/api/users' ? [alice, bob] : []))
  const { store } = appStore(fetchFn, {
    preloadedState: { auth: { token: 'token-1', user: me } },
    extraMiddleware: [toaster.middleware],
  })
  renderApp(page.root, store, toaster)
  await eventually(() => expect(page.container.querySelector('h1')?.textContent).toBe(heading))
  return { store, toaster }
}

/**
 * Types `value` into a text field as the browser does: React tracks the field's value, so it is set through the
 * element's own setter before `input` fires (a plain `el.value = …` would be taken for React's own write).
 *
 * @example type(page.container.querySelector('textarea')!, 'hello')
 */
export function type(el: HTMLInputElement | HTMLTextAreaElement, value: string): void {
  const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype
  act(() => {
    Object.getOwnPropertyDescriptor(proto, 'value')!.set!.call(el, value)
    el.dispatchEvent(new Event('input', { bubbles: true }))
  })
}

/** A field of the page's forms. */
export type FormField = HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement

/**
 * The field whose `<label>` says exactly `label` in `container`: there must be one such label, and what it labels must
 * be a form field (of `kind`, when given).
 *
 * @example pick(fieldLabelled(page.container, 'Tutor', HTMLSelectElement), 'Bob')
 */
export function fieldLabelled(container: HTMLElement, label: string): FormField
export function fieldLabelled<T extends FormField>(container: HTMLElement, label: string, kind: new () => T): T
export function fieldLabelled(container: HTMLElement, label: string, kind?: new () => FormField): FormField {
  const labels = [...container.querySelectorAll('label')].filter((l) => l.textContent === label)
  const heading = container.querySelector('h1')?.textContent ?? '(no heading)'
  expect(labels, `fields labelled "${label}" on the page "${heading}"`).toHaveLength(1)
  const field = container.ownerDocument.getElementById(labels[0]!.htmlFor)
  const kinds = kind ? [kind] : [HTMLInputElement, HTMLTextAreaElement, HTMLSelectElement]
  if (!kinds.some((k) => field instanceof k))
    throw new Error(`"${label}" labels ${field?.tagName ?? 'nothing'}, not a ${kinds.map((k) => k.name).join(' or ')}`)
  return field as FormField
}

/** Every text the live regions that match `selector` say from now on (each announcement is a new node in one). */
export function saidIn(selector: string): string[] {
  const said: string[] = []
  const regions = document.querySelectorAll(selector)
  if (regions.length === 0) throw new Error(`no live region ${selector}`)
  for (const region of regions) {
    new MutationObserver((records) => {
      for (const r of records) for (const n of r.addedNodes) if (n.textContent) said.push(n.textContent)
    }).observe(region, { childList: true, subtree: true })
  }
  return said
}

/** Every text put into an alert of `root` from now on: what a screen reader says as it comes. */
export function saidInAlerts(root: HTMLElement): string[] {
  const said: string[] = []
  new MutationObserver((records) => {
    for (const r of records) {
      const nodes = r.type === 'characterData' ? [r.target] : [...r.addedNodes]
      for (const n of nodes) {
        const inAlert = (n instanceof Element ? n : n.parentElement)?.closest('[role=alert]')
        if (inAlert && n.textContent) said.push(n.textContent)
      }
    }
  }).observe(root, { childList: true, subtree: true, characterData: true })
  return said
}

/**
 * The booking or contact-request form of `container` once its tutors are read (`tutors` of them), `tutorId` chosen in
 * its Tutor field: returns that field.
 */
export async function tutorChosen(container: HTMLElement, tutorId: string, tutors = 1): Promise<HTMLSelectElement> {
  // The field's first option is its "Choose a tutor…" prompt.
  await eventually(() => expect(fieldLabelled(container, 'Tutor', HTMLSelectElement).options.length).toBe(tutors + 1))
  const select = fieldLabelled(container, 'Tutor', HTMLSelectElement)
  act(() => {
    select.value = tutorId
    select.dispatchEvent(new Event('change', { bubbles: true }))
  })
  return select
}

/** Every text the polite region says from now on. */
export const politeSaid = (): string[] => saidIn('[data-testid=announcer-polite]')

/**
 * Makes the page's `localStorage` throw on access, as Chromium does when the user blocks sites' data (cookies); returns
 * what puts it back.
 *
 * @example const unblock = blockPageStorage(); … unblock()
 */
export function blockPageStorage(): () => void {
  const own = Object.getOwnPropertyDescriptor(globalThis, 'localStorage')
  Object.defineProperty(globalThis, 'localStorage', {
    configurable: true,
    get() {
      throw new DOMException('Access is denied for this document.', 'SecurityError')
    },
  })
  return () => {
    if (own) Object.defineProperty(globalThis, 'localStorage', own)
    else delete (globalThis as { localStorage?: unknown }).localStorage
  }
}

/**
 * The HTML focus fixup rule for controls, which jsdom lacks: a browser (Chromium since 111, Firefox) takes focus from a
 * control that becomes disabled, to `<body>`, so a keyboard user starts again from the top. Returns the undo.
 *
 * @example const undo = focusLeavesDisabledControls(); … undo()
 */
export function focusLeavesDisabledControls(): () => void {
  const observer = new MutationObserver(() => {
    const active = document.activeElement
    if (!(active instanceof HTMLElement && active.matches(':disabled'))) return
    // jsdom's blur() does nothing on a disabled control: focus goes to <body> the way a browser leaves it there.
    document.body.tabIndex = -1
    document.body.focus()
    document.body.removeAttribute('tabindex')
  })
  observer.observe(document.body, { attributes: true, attributeFilter: ['disabled'], subtree: true })
  return () => observer.disconnect()
}
