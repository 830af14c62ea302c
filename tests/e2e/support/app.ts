import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Browser, BrowserContext, Locator, Page, Request, WebSocket } from 'playwright-core'
import { afterAll, beforeAll, expect, inject } from 'vitest'
import { startServer, type StartServerOptions } from '../../../server/index'
import { createSocketBlocks } from '../../support/socketBlocks'
import { launchBrowser } from './browser'
import { hangBound } from '../../support/hangBound'

export type ServerHandle = Awaited<ReturnType<typeof startServer>>
export type DemoUser = 'alice' | 'bob' | 'carol'

export const PASSWORD = 'talemy'
export const emailOf = (who: DemoUser) => `${who}@talemy.test`

export const ARTIFACTS = path.resolve('test-artifacts')

/** What a test uses of its file's app: the server and the browser (`e2ePerFile` starts and closes them). */
export interface E2EApp {
  url: string
  server: ServerHandle
  /** Cuts a user's sockets (see `blockSockets`). */
  blocks: ReturnType<typeof createSocketBlocks>
  browser: Browser
}

export interface E2E extends E2EApp {
  close(): Promise<void>
}

export interface E2EOptions {
  build?: 'production' | 'development'
  server?: StartServerOptions
}

/**
 * One server on port 0 with a fresh copy of the seeded data (the server suite's template folder), serving the SPA
 * built for this run (production unless asked), and one browser, per test file.
 */
export async function startE2E(options: E2EOptions = {}): Promise<E2E> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'talemy-e2e-'))
  await cp(inject('templateDataDir'), dataDir, { recursive: true })
  const staticDir = inject(options.build === 'development' ? 'e2eSpaDevDir' : 'e2eSpaDir')
  const blocks = createSocketBlocks()
  const [server, browser] = await Promise.all([
    startServer({ handshakeGuard: blocks.handshakeGuard, ...options.server, port: 0, dataDir, staticDir }),
    launchBrowser(),
  ])
  await mkdir(ARTIFACTS, { recursive: true })
  return {
    url: server.url.replace(/\/$/, ''),
    server,
    blocks,
    browser,
    async close() {
      await browser.close().catch(() => {})
      await server.close()
      await rm(dataDir, { recursive: true, force: true }).catch(() => {})
    },
  }
}

/**
 * This test file's app (`startE2E`), started in `beforeAll` and closed in `afterAll`. Call it once, at the top of the
 * file or its `describe`, before the file's own hooks: it registers its own, and hooks run in registration order.
 * The returned object reads the running app; used before `beforeAll` ran (or after `afterAll`), it throws.
 *
 * @example const e2e = e2ePerFile({ build: 'development' }); const { page } = await loginAs(e2e, 'alice')
 */
export function e2ePerFile(options: E2EOptions = {}): E2EApp {
  let e2e: E2E | null = null
  beforeAll(async () => {
    e2e = await startE2E(options)
  })
  afterAll(async () => {
    await e2e?.close()
    e2e = null
  })
  const running = (): E2E => {
    if (!e2e) throw new Error('the e2e app is not running (e2ePerFile starts it in beforeAll, closes it in afterAll)')
    return e2e
  }
  return {
    get url() {
      return running().url
    },
    get server() {
      return running().server
    },
    get blocks() {
      return running().blocks
    },
    get browser() {
      return running().browser
    },
  }
}

export interface Session {
  context: BrowserContext
  page: Page
}

/**
 * A fresh browser context logged in as a demo user through the login page, waiting until the app shows the user
 * and the socket is online.
 */
export async function loginAs(
  e2e: E2EApp,
  who: DemoUser,
  options: { context?: BrowserContext; viewport?: { width: number; height: number }; initScript?: () => void } = {},
): Promise<Session> {
  const context =
    options.context ?? (await e2e.browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 800 } }))
  if (options.initScript) await context.addInitScript(options.initScript)
  watchSocketTraffic(context)
  const page = await context.newPage()
  const t0 = Date.now()
  await page.goto(`${e2e.url}/`)
  if (process.env.E2E_TRACE) console.log(`goto ${Date.now() - t0}`)
  await page.getByTestId(`demo-${who}`).click()
  // The form's submit button, whatever language the page speaks.
  await page.locator('.login form button[type="submit"]').click()
  await page.getByTestId('current-user').waitFor({ timeout: hangBound() })
  if (process.env.E2E_TRACE) console.log(`logged in ${Date.now() - t0}`)
  await waitOnline(page)
  if (process.env.E2E_TRACE) console.log(`online ${Date.now() - t0}`)
  return { context, page }
}

/** The refresh token the page's session keeps in storage, or null (logged out). */
export function storedRefreshToken(page: Page): Promise<string | null> {
  return page.evaluate(
    () =>
      (JSON.parse(localStorage.getItem('talemy.refresh') ?? 'null') as { refreshToken?: string } | null)
        ?.refreshToken ?? null,
  )
}

/**
 * Ends the page's session as a logout elsewhere with its refresh token does: the server drops its socket and refuses
 * its refresh, and the page finds itself `unauthorized`.
 */
export async function endSessionElsewhere(e2e: E2EApp, page: Page): Promise<void> {
  const ended = await fetch(`${e2e.url}/api/auth/logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refreshToken: await storedRefreshToken(page) }),
  })
  expect(ended.status).toBe(204)
}

/** Another tab of the same context (same storage, so the same logged-in user). */
export async function openTab(session: Session, url: string): Promise<Page> {
  const page = await session.context.newPage()
  await page.goto(url)
  await page.getByTestId('current-user').waitFor({ timeout: hangBound() })
  await waitOnline(page)
  return page
}

export const badge = (page: Page) => page.getByTestId('connection-badge')

/** How many of a context's last Socket.IO requests, WebSocket openings and frames a failure recounts. */
const TRAFFIC_HISTORY = 40
/**
 * The frames of each WebSocket that are recounted: its first few, where Engine.IO's upgrade is (`2probe` sent,
 * `3probe` received, `5` sent: the switch from polling), so a stalled upgrade shows which step did not come.
 */
const FRAMES_PER_SOCKET = 6

/**
 * A context's Socket.IO traffic: what is still open (HTTP requests of the polling transport, WebSockets), each with
 * when it began, and how the last few ended (a refused or failed handshake, or none tried at all, after `online`).
 */
const socketTraffic = new WeakMap<
  BrowserContext,
  { requests: Map<Request, number>; sockets: Map<WebSocket, number>; ended: { at: number; what: string }[] }
>()

/** The ids of the sockets user `userId` has on the test's server. */
export async function socketsOf(e2e: E2EApp, userId: string): Promise<string[]> {
  return (await e2e.server.io.in(`user:${userId}`).fetchSockets()).map((s) => s.id)
}

/** Which tab of its browser this page is to the badge: 'leader' (it holds the socket) or 'follower'. */
export const roleOf = (page: Page) => badge(page).getAttribute('data-role')

/** Keeps `socketTraffic` for `context`, so that a socket that does not come back can be told apart from a slow one. */
function watchSocketTraffic(context: BrowserContext): void {
  if (socketTraffic.has(context)) return
  const traffic = {
    requests: new Map<Request, number>(),
    sockets: new Map<WebSocket, number>(),
    ended: [] as { at: number; what: string }[],
  }
  socketTraffic.set(context, traffic)
  const ended = (what: string) => {
    traffic.ended.push({ at: Date.now(), what })
    if (traffic.ended.length > TRAFFIC_HISTORY) traffic.ended.shift()
  }
  // Engine.IO's session id (its last 4 characters) tells which attempt a request or WebSocket belongs to.
  const sessionOf = (url: string) => {
    const sid = new URL(url).searchParams.get('sid')
    return sid ? ` sid …${sid.slice(-4)}` : ' (handshake)'
  }
  const named = (request: Request) => {
    const transport = new URL(request.url()).searchParams.get('transport')
    const began = traffic.requests.get(request)
    return `${request.method()} ${transport}${sessionOf(request.url())}${began === undefined ? '' : ` after ${Date.now() - began} ms`}`
  }
  context.on('request', (request) => {
    if (request.url().includes('/socket.io/')) traffic.requests.set(request, Date.now())
  })
  context.on('requestfinished', (request) => {
    if (!traffic.requests.has(request)) return
    void request
      .response()
      .then((response) => response?.status() ?? 'no response')
      .catch(() => 'no response')
      .then((status) => {
        ended(`${named(request)}: ${status}`)
        traffic.requests.delete(request)
      })
  })
  context.on('requestfailed', (request) => {
    if (!traffic.requests.has(request)) return
    ended(`${named(request)}: failed (${request.failure()?.errorText ?? 'no reason given'})`)
    traffic.requests.delete(request)
  })
  const watch = (page: Page) =>
    page.on('websocket', (socket) => {
      traffic.sockets.set(socket, Date.now())
      const name = `a WebSocket${sessionOf(socket.url())}`
      ended(`${name} opened`)
      let frames = 0
      const frame = (way: string) => (data: { payload: string | Buffer }) => {
        if (++frames > FRAMES_PER_SOCKET) return
        ended(`${name} ${way} ${JSON.stringify(String(data.payload).slice(0, 24))}`)
      }
      socket.on('framesent', frame('sent'))
      socket.on('framereceived', frame('received'))
      socket.on('close', () => {
        ended(`${name} closed after ${Date.now() - (traffic.sockets.get(socket) ?? Date.now())} ms`)
        traffic.sockets.delete(socket)
      })
    })
  for (const page of context.pages()) watch(page)
  context.on('page', watch)
}

function describeSocketTraffic(page: Page): string {
  const traffic = socketTraffic.get(page.context())
  if (!traffic) return 'its traffic was not watched'
  const now = Date.now()
  const requests = [...traffic.requests].map(([request, at]) => {
    const params = new URL(request.url()).searchParams
    return `${request.method()} ${params.get('transport')} sid …${(params.get('sid') ?? '').slice(-4)} for ${now - at} ms`
  })
  const sockets = [...traffic.sockets.values()].map((at) => `a WebSocket open ${now - at} ms`)
  const open = [...requests, ...sockets].join(', ') || 'no Socket.IO request or WebSocket open'
  const last = traffic.ended.map(({ at, what }) => `${now - at} ms ago, ${what}`).join('; ') || 'none'
  return `${open}; the last ${TRAFFIC_HISTORY} at most: ${last}`
}

export async function waitOnline(page: Page): Promise<void> {
  const bound = hangBound()
  try {
    await page.locator('[data-testid="connection-badge"][data-status="connected"]').waitFor({ timeout: bound })
  } catch (error) {
    // Which state it stayed in, and what of the socket is still under way, say where to look (a backoff, a refused
    // handshake, a session over, a request the browser never finished).
    const shown = await badge(page)
      .evaluate((node) => `${node.getAttribute('data-status')} ("${node.textContent}")`)
      .catch(() => 'no badge')
    throw new Error(`not online within ${bound} ms: the badge says ${shown}; ${describeSocketTraffic(page)}`, {
      cause: error,
    })
  }
}

export async function waitNotOnline(page: Page): Promise<void> {
  await page
    .locator('[data-testid="connection-badge"]:not([data-status="connected"])')
    .waitFor({ timeout: hangBound() })
}

/** Opens (or creates) the conversation with `name` from the messages page; returns its id. */
export async function openConversationWith(page: Page, name: string): Promise<string> {
  await page.getByTestId('nav-messages').click()
  await chooseOption(page.getByLabel('Write to'), name)
  await page.getByRole('button', { name: 'Start' }).click()
  const thread = page.getByTestId('thread')
  await thread.getByRole('heading', { name }).waitFor({ timeout: hangBound() })
  const id = await thread.getAttribute('data-conversation-id')
  if (!id) throw new Error('the thread has no conversation id')
  return id
}

/** Picks the first option of a `<select>` whose text contains `text` (people's names may carry a surname). */
export async function chooseOption(select: Locator, text: string): Promise<void> {
  const option = select.locator('option', { hasText: text }).first()
  await option.waitFor({ state: 'attached', timeout: hangBound() })
  await select.selectOption((await option.getAttribute('value')) ?? '')
}

/** Goes to a conversation by id (hash route). */
export async function gotoConversation(page: Page, id: string): Promise<void> {
  await page.evaluate((hash) => (window.location.hash = hash), `#/messages/${encodeURIComponent(id)}`)
  await page.locator(`[data-testid="thread"][data-conversation-id="${id}"]`).waitFor({ timeout: hangBound() })
}

/** Types into the composer and presses Enter. */
export async function send(page: Page, text: string): Promise<void> {
  const composer = page.getByTestId('composer')
  await composer.fill(text)
  await composer.press('Enter')
}

/** The thread's messages whose text is exactly `text`. */
export function messagesWithText(page: Page, text: string): Locator {
  return page.getByTestId('message').filter({ has: page.locator('.msg-body', { hasText: text }) })
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: false })
}

/** A unique text for this run, so assertions never match seed data or an earlier test. */
export function unique(prefix: string): string {
  return `${prefix} ${Math.random().toString(36).slice(2, 8)}`
}

export interface ApiSession {
  token: string
  user: { id: string; name: string; role: 'student' | 'tutor' }
}

/** Logs a demo user in over HTTP from Node (no Origin header, like any non-browser client). */
export async function apiLogin(e2e: E2EApp, who: DemoUser): Promise<ApiSession> {
  return apiCall<ApiSession>(e2e, null, 'POST', '/api/auth/login', { email: emailOf(who), password: PASSWORD })
}

/**
 * A new conversation of Alice's with Carol holding 40 messages (`${word} 1`…`${word} 40`, Alice's and Carol's in
 * turn), posted over HTTP: a thread long enough to scroll.
 */
export async function aliceAndCarolWithForty(e2e: E2EApp, word: string) {
  const [a, c] = await Promise.all([apiLogin(e2e, 'alice'), apiLogin(e2e, 'carol')])
  const conversation = await apiCall<{ id: string }>(e2e, a.token, 'POST', '/api/conversations', {
    participantId: c.user.id,
  })
  for (let i = 1; i <= 40; i++) {
    await apiCall(e2e, i % 2 ? a.token : c.token, 'POST', `/api/conversations/${conversation.id}/messages`, {
      content: `${word} ${i}`,
      clientId: crypto.randomUUID(),
    })
  }
  return { a, c, conversation }
}

/** One HTTP call from Node; a `RATE_LIMITED` answer is waited out (as `Retry-After` says) and tried again. */
export async function apiCall<T>(
  e2e: E2EApp,
  token: string | null,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  for (;;) {
    const res = await fetch(`${e2e.url}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    if (res.status === 429) {
      const seconds = Number(res.headers.get('retry-after')) || 1
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
      continue
    }
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`)
    return (await res.json()) as T
  }
}

/**
 * Alice and Bob's conversation with `count` more messages, sent over HTTP, the i-th by `writer(i)` (by default Alice,
 * then Bob, in turn); its id.
 */
export async function aliceBobThread(
  e2e: E2EApp,
  count: number,
  writer: (i: number) => 'alice' | 'bob' = (i) => (i % 2 ? 'bob' : 'alice'),
): Promise<string> {
  const sessions = { alice: await apiLogin(e2e, 'alice'), bob: await apiLogin(e2e, 'bob') }
  const { id } = await apiCall<{ id: string }>(e2e, sessions.alice.token, 'POST', '/api/conversations', {
    participantId: sessions.bob.user.id,
  })
  for (let i = 0; i < count; i++) {
    await apiCall(e2e, sessions[writer(i)].token, 'POST', `/api/conversations/${id}/messages`, {
      content: unique(`line ${i}`),
      clientId: crypto.randomUUID(),
    })
  }
  return id
}

/** What the server stored in conversation `id`, oldest first (Alice's view, over HTTP). */
export async function storedTexts(e2e: E2EApp, id: string): Promise<string[]> {
  const alice = await apiLogin(e2e, 'alice')
  const messages = await apiCall<{ content: string }[]>(
    e2e,
    alice.token,
    'GET',
    `/api/conversations/${encodeURIComponent(id)}/messages`,
  )
  return messages.map((m) => m.content)
}

/** Opens conversation `id` from the list and waits for its `count`-th message; the message list's selector. */
export async function openThread(page: Page, id: string, count: number): Promise<string> {
  await page.locator(`[data-testid="conversation"][data-conversation-id="${id}"]`).click()
  const selector = `[data-testid="thread"][data-conversation-id="${id}"] [data-testid="message-list"]`
  await page
    .locator(`${selector} [data-testid="message"]`)
    .nth(count - 1)
    .waitFor({ timeout: hangBound() })
  return selector
}

/** Cuts a user's sockets and refuses their reconnection for `ms` (HTTP keeps working); `0` lifts it. */
export function blockSockets(e2e: E2EApp, userId: string, ms: number): void {
  e2e.blocks.block(e2e.server, userId, ms)
}

export interface HeldRequests {
  /** The body of each held write (any method but GET), in order: what the page asked to change. */
  seen: string[]
  /** Lets the held requests go, and those still to come. */
  release(): void
  /** Stops holding (and counting): the page's requests go as usual. */
  end(): Promise<void>
}

/**
 * Holds the page's requests that match one of `requests` (a method and a path) until `release` is called; the others
 * go on. Hold from before what the test races, and release once the page shows that it waits.
 *
 * @example const held = await holdRequests(page, [['POST', /^\/api\/lessons$/]])
 */
export async function holdRequests(
  page: Page,
  requests: readonly (readonly [method: string, path: RegExp])[],
): Promise<HeldRequests> {
  let release = () => {}
  const released = new Promise<void>((resolve) => {
    release = resolve
  })
  const seen: string[] = []
  const matches = (url: URL) => requests.some(([, path]) => path.test(url.pathname))
  await page.route(matches, async (route) => {
    const request = route.request()
    const method = request.method()
    const { pathname } = new URL(request.url())
    if (!requests.some(([m, path]) => m === method && path.test(pathname))) return route.continue()
    if (method !== 'GET') seen.push(request.postData() ?? '')
    await released
    await route.continue()
  })
  return { seen, release, end: () => page.unroute(matches) }
}
