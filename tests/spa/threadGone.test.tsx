// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { selectPendingMessages } from '../../src/realtime'
import { eventually } from './support/eventually'
import { bobsThreadApi, connectedApp, json, pageEndingAt, pagePerTest, saidIn, type } from './support/page'

// An open thread whose conversation goes mid-session (the server's data restored from an earlier copy: 404 NOT_FOUND),
// or that the user may no longer read (403 FORBIDDEN). "Load earlier", Retry and the composer stayed offered, each
// press asking the server again and refused the same way. Once a refusal says so, the thread offers none of them, and says
// why; what the user wrote stays in sight (the composer's text, a failed message with its Discard).

const page = pagePerTest('#/messages/c1')
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

const refusals = {
  NOT_FOUND: { status: 404, message: 'no such conversation' },
  FORBIDDEN: { status: 403, message: 'not a participant' },
} as const
type Code = keyof typeof refusals

const words = {
  en: {
    NOT_FOUND: 'This conversation no longer exists: nothing more can be sent or loaded in it.',
    FORBIDDEN: 'You no longer have access to this conversation: nothing more can be sent or loaded in it.',
  },
  fr: {
    NOT_FOUND: 'Cette conversation n’existe plus\u202f: plus rien ne peut y être envoyé ni chargé.',
    FORBIDDEN: 'Vous n’avez plus accès à cette conversation\u202f: plus rien ne peut y être envoyé ni chargé.',
  },
} as const

/**
 * Alice's thread c1 with Bob, its latest 50 (51…100) shown, "Load earlier" offered; `goneWith()` makes every read of
 * its messages from then on refused with that code. Counts the older pages asked for.
 */
async function openThread() {
  let gone: Code | null = null
  let olderAsked = 0
  const fetchFn = bobsThreadApi((before) => {
    if (before !== null) olderAsked++
    if (gone) return json(refusals[gone].status, { error: { code: gone, message: refusals[gone].message } })
    return pageEndingAt(before === null ? 100 : before - 1)
  })
  const { store, sockets } = connectedApp(page, fetchFn)
  await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(50))
  return {
    store,
    sockets,
    goneWith: (code: Code | null) => {
      gone = code
    },
    olderAsked: () => olderAsked,
  }
}

const thread = () => page.container.querySelector<HTMLElement>('[data-testid=thread]')!
const buttons = () => [...thread().querySelectorAll('button')].map((b) => b.textContent)
const loadEarlier = () => page.container.querySelector<HTMLButtonElement>('.load-earlier button')
const composer = () => page.container.querySelector<HTMLTextAreaElement>('[data-testid=composer]')!
const sendButton = () => page.container.querySelector<HTMLButtonElement>('.composer button[type=submit]')!

/** The composer takes no message: its text stays (read only), Send is off, and why is said on it. */
function expectComposerClosed(said: string) {
  expect(composer().readOnly).toBe(true)
  expect(sendButton().getAttribute('aria-disabled')).toBe('true')
  const described = composer().getAttribute('aria-describedby')!.split(' ')
  expect(described.map((id) => document.getElementById(id)?.textContent)).toContain(said)
}

describe.each([
  ['en', 'NOT_FOUND'],
  ['en', 'FORBIDDEN'],
  ['fr', 'NOT_FOUND'],
] as const)('(%s) a thread whose conversation is refused %s mid-session', (locale, code) => {
  const said = words[locale][code]

  test('"Load earlier" refused: it goes, the composer closes, and why is said', async () => {
    localStorage.setItem(LOCALE_STORAGE_KEY, locale)
    const { store, sockets, goneWith, olderAsked } = await openThread()
    const assertive = saidIn('[data-testid=announcer-assertive]')
    type(composer(), 'a draft')
    goneWith(code)
    loadEarlier()!.focus()
    act(() => loadEarlier()!.click())
    await eventually(() => expect(loadEarlier()).toBeNull())
    expect(olderAsked()).toBe(1)
    expect(assertive).toContain(said)
    // The button went: focus stays in the thread, on its messages.
    expect(document.activeElement).toBe(page.container.querySelector('[data-testid=message-list]'))
    expectComposerClosed(said)
    expect(composer().value).toBe('a draft')
    // A press on Send (or Enter) asks nothing and says why again.
    act(() => sendButton().closest('form')!.requestSubmit())
    await eventually(() => expect(assertive.filter((s) => s === said)).toHaveLength(2))
    expect(sockets.last.sent('message:send')).toHaveLength(0)
    expect(selectPendingMessages(store.getState())).toEqual([])
    store.dispose()
  })

  test('a send refused: no Retry (Discard stays), no "Load earlier", the composer closes', async () => {
    localStorage.setItem(LOCALE_STORAGE_KEY, locale)
    const { store, sockets, goneWith } = await openThread()
    const assertive = saidIn('[data-testid=announcer-assertive]')
    goneWith(code)
    type(composer(), 'hello')
    act(() => sendButton().click())
    await eventually(() => expect(sockets.last.sent('message:send')).toHaveLength(1))
    await act(async () => {
      sockets.last.sent('message:send')[0]!.ack({ ok: false, error: { code, message: refusals[code].message } })
    })
    await eventually(() => expect(page.container.querySelector('[data-status=failed]')).not.toBeNull())
    const failed = page.container.querySelector<HTMLElement>('[data-status=failed]')!
    expect([...failed.querySelectorAll('button')].map((b) => b.textContent)).toEqual([
      locale === 'fr' ? 'Abandonner' : 'Discard',
    ])
    // Said once, with the refusal it comes with.
    expect(assertive).toHaveLength(1)
    expect(assertive[0]).toMatch(locale === 'fr' ? /^Non envoyé/ : /^Not sent: /)
    expect(assertive[0]!.endsWith(` ${said}`)).toBe(true)
    expect(loadEarlier()).toBeNull()
    expectComposerClosed(said)
    store.dispose()
  })

  test('the thread read again and refused: no "Load earlier", the composer closes', async () => {
    localStorage.setItem(LOCALE_STORAGE_KEY, locale)
    const { store, sockets, goneWith } = await openThread()
    goneWith(code)
    // The connection comes back with a gap (a server restored from a copy): the thread is read again.
    act(() => sockets.last.serverEmit('sync:gap', { offset: 5, epoch: 'e2' }))
    await eventually(() => expect(loadEarlier()).toBeNull())
    expectComposerClosed(said)
    // Said once, on the composer: not again above the messages.
    expect(thread().querySelectorAll('[role=alert]')).toHaveLength(0)
    expect(buttons()).not.toContain(locale === 'fr' ? 'Réessayer' : 'Try again')
    store.dispose()
  })
})

test('a thread refused for good, then read again (the conversation put back): it offers everything again', async () => {
  const { store, sockets, goneWith } = await openThread()
  goneWith('NOT_FOUND')
  act(() => loadEarlier()!.click())
  await eventually(() => expect(loadEarlier()).toBeNull())
  expect(composer().readOnly).toBe(true)
  goneWith(null)
  act(() => sockets.last.serverEmit('sync:gap', { offset: 5, epoch: 'e2' }))
  await eventually(() => expect(loadEarlier()).not.toBeNull())
  expect(composer().readOnly).toBe(false)
  expect(sendButton().getAttribute('aria-disabled')).toBeNull()
  store.dispose()
})
