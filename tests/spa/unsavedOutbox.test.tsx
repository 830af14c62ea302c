// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { createMemoryStorage, type MakeStoreOptions, type StorageLike } from '../../src/app/store'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { eventually } from './support/eventually'
import type { fakeSockets } from '../unit/support/fakeSocket'
import { alice, message } from '../unit/support/fixtures'
import { appStore, blockPageStorage, pagePerTest, politeSaid, renderApp, threadApi, type } from './support/page'

// Unsent messages the browser's storage would not keep: they live only in this page until they are sent, so the
// messages page says so (and closing the page asks first).

const NOTICE = {
  en: 'Your unsent messages could not be saved on this device. Keep this page open until they are sent.',
  fr: 'Vos messages non envoyés n’ont pas pu être enregistrés sur cet appareil. Laissez cette page ouverte jusqu’à ce qu’ils soient envoyés.',
} as const

/** A storage that refuses every write while `full` (a full `localStorage`: removing still works, as in browsers). */
function fullStorage(): StorageLike & { full: boolean } {
  const memory = createMemoryStorage()
  const storage = {
    full: true,
    getItem: (key: string) => memory.getItem(key),
    removeItem: (key: string) => memory.removeItem(key),
    setItem(key: string, value: string) {
      if (storage.full) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError')
      memory.setItem(key, value)
    },
  }
  return storage
}

const page = pagePerTest('#/messages/c1')
let unblock: (() => void) | null = null
afterEach(() => {
  unblock?.()
  unblock = null
  localStorage.removeItem(LOCALE_STORAGE_KEY)
})

/** The app on Alice's thread with Bob, connected; `send` writes in the composer and sends. */
async function openThread(over: Partial<MakeStoreOptions>) {
  const { store, sockets } = appStore(threadApi, over)
  renderApp(page.root, store)
  act(() => sockets.last.serverConnect())
  await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
  const send = (text: string) => {
    type(page.container.querySelector('textarea')!, text)
    act(() => page.container.querySelector<HTMLButtonElement>('.composer button[type=submit]')!.click())
  }
  return { store, sockets, send }
}

/** The server stores the `index`th send (its ack). */
function confirm(sockets: ReturnType<typeof fakeSockets>, index: number, seq: number) {
  const packet = sockets.last.sent('message:send')[index]!
  const { clientId, content } = packet.args[0] as { clientId: string; content: string }
  act(() => packet.ack({ ok: true, data: message(seq, { senderId: alice.id, clientId, content }) }))
}

const notices = () => page.container.querySelectorAll('[data-testid=unsaved-notice]')
const notice = () => page.container.querySelector('[data-testid=unsaved-notice]')
/** Whether leaving the page now asks first: a `beforeunload` listener cancelled the event. */
const leavingAsks = () => !window.dispatchEvent(new Event('beforeunload', { cancelable: true }))
const go = (hash: string) =>
  act(() => {
    window.history.replaceState(null, '', hash)
    window.dispatchEvent(new PopStateEvent('popstate', { state: null }))
  })
/** The thread shows `content` as a message in `status` (the page has drawn the outbox as the send left it). */
const shown = (content: string, status: 'pending' | 'sent') =>
  [...page.container.querySelectorAll(`[data-testid=message][data-status=${status}]`)].some((m) =>
    m.textContent?.includes(content),
  )
/**
 * Lets every microtask queued so far run (the live regions' observers among them): after a state the page has drawn,
 * whatever that state would have said has been said.
 */
const settled = () => act(async () => {})

describe('unsent messages the storage refused', () => {
  test.each(['en', 'fr'] as const)(
    '(%s) are told about beside the composer while unsent, said once, and the notice goes once they are sent',
    async (locale) => {
      localStorage.setItem(LOCALE_STORAGE_KEY, locale)
      const { store, sockets, send } = await openThread({ storage: fullStorage(), unsavedNoticeAfterMs: 0 })
      const said = politeSaid()
      expect(notice()).toBeNull()
      send('hello')
      await eventually(() => expect(notice()?.textContent).toBe(NOTICE[locale]))
      // In the open thread, just above the composer.
      expect(notice()!.closest('[data-testid=thread]')).not.toBeNull()
      expect(notice()!.nextElementSibling?.matches('form.composer')).toBe(true)
      await eventually(() => expect(said).toEqual([NOTICE[locale]]))
      // A second one while the first is unsent: still one notice, not said again.
      send('again')
      await eventually(() => expect(shown('again', 'pending')).toBe(true))
      await settled()
      expect(notices()).toHaveLength(1)
      // One of the two sent: the other is still unsent.
      confirm(sockets, 0, 2)
      await eventually(() => expect(sockets.last.sent('message:send')).toHaveLength(2))
      await eventually(() => expect(shown('hello', 'sent')).toBe(true))
      await settled()
      expect(notice()?.textContent).toBe(NOTICE[locale])
      confirm(sockets, 1, 3)
      await eventually(() => expect(notice()).toBeNull())
      expect(said).toEqual([NOTICE[locale]])
      store.dispose()
    },
  )

  test('are said once, though the reader goes to another page and comes back; the notice is there on return', async () => {
    const { store, sockets, send } = await openThread({ storage: fullStorage(), unsavedNoticeAfterMs: 0 })
    const said = politeSaid()
    send('hello')
    await eventually(() => expect(said).toEqual([NOTICE.en]))
    go('#/lessons')
    expect(notice()).toBeNull()
    go('#/messages')
    // No conversation open: the notice is under the page's heading.
    await eventually(() => expect(notice()?.textContent).toBe(NOTICE.en))
    expect(notice()!.closest('.conv-pane')).not.toBeNull()
    go('#/messages/c1')
    await eventually(() => expect(notice()?.closest('[data-testid=thread]')).not.toBeNull())
    await settled()
    expect(said).toEqual([NOTICE.en])
    confirm(sockets, 0, 2)
    await eventually(() => expect(notice()).toBeNull())
    store.dispose()
  })

  test('make closing the page ask first, until they are sent; a disposed store asks nothing', async () => {
    const { store, sockets, send } = await openThread({ storage: fullStorage(), unsavedNoticeAfterMs: 0 })
    expect(leavingAsks()).toBe(false)
    send('hello')
    await eventually(() => expect(leavingAsks()).toBe(true))
    confirm(sockets, 0, 2)
    await eventually(() => expect(leavingAsks()).toBe(false))
    send('again')
    await eventually(() => expect(leavingAsks()).toBe(true))
    store.dispose()
    expect(leavingAsks()).toBe(false)
  })

  test('are not told about while the storage keeps them; once it refuses one, they are', async () => {
    const storage = fullStorage()
    storage.full = false
    const { store, send } = await openThread({ storage, unsavedNoticeAfterMs: 0 })
    const said = politeSaid()
    send('hello')
    await eventually(() => expect(shown('hello', 'pending')).toBe(true))
    await settled()
    expect(notice()).toBeNull()
    expect(leavingAsks()).toBe(false)
    expect(said).toEqual([])
    storage.full = true
    send('again')
    await eventually(() => expect(notice()?.textContent).toBe(NOTICE.en))
    expect(leavingAsks()).toBe(true)
    await eventually(() => expect(said).toEqual([NOTICE.en]))
    store.dispose()
  })

  test('are no longer told about once the storage takes them after all (a later write stores them with it)', async () => {
    const storage = fullStorage()
    const { store, send } = await openThread({ storage, unsavedNoticeAfterMs: 0 })
    send('hello')
    await eventually(() => expect(notice()?.textContent).toBe(NOTICE.en))
    expect(leavingAsks()).toBe(true)
    // Room again (a draft or another message gone): the next send's write stores both; neither is sent yet.
    storage.full = false
    send('again')
    await eventually(() => expect(shown('again', 'pending')).toBe(true))
    const stored = JSON.parse(storage.getItem(`talemy.outbox.${alice.id}`) ?? '[]') as { content: string }[]
    expect(stored.map((m) => m.content)).toEqual(['hello', 'again'])
    await eventually(() => expect(notice()).toBeNull())
    expect(leavingAsks()).toBe(false)
    // Full again: a send it refuses is told about again.
    storage.full = true
    send('third')
    await eventually(() => expect(notice()?.textContent).toBe(NOTICE.en))
    expect(leavingAsks()).toBe(true)
    store.dispose()
  })

  // The grace is an hour here, so that however slow the machine, everything below happens within it.
  test('are not told about when they are sent within the grace period (no flash at each send)', async () => {
    const { store, sockets, send } = await openThread({ storage: fullStorage(), unsavedNoticeAfterMs: 3_600_000 })
    const said = politeSaid()
    send('hello')
    // Closing the page at once would still lose it: that asks from the start.
    await eventually(() => expect(leavingAsks()).toBe(true))
    expect(notice()).toBeNull()
    confirm(sockets, 0, 2)
    await eventually(() => expect(leavingAsks()).toBe(false))
    await eventually(() => expect(shown('hello', 'sent')).toBe(true))
    await settled()
    expect(notice()).toBeNull()
    expect(said).toEqual([])
    store.dispose()
  })

  test('are told about once they have waited past the grace period', async () => {
    const { store, send } = await openThread({ storage: fullStorage(), unsavedNoticeAfterMs: 150 })
    const said = politeSaid()
    send('hello')
    await eventually(() => expect(notice()?.textContent).toBe(NOTICE.en))
    await eventually(() => expect(said).toEqual([NOTICE.en]))
    store.dispose()
  })

  test('are told about when the browser gives the page no storage at all (blocked): nothing would survive a reload', async () => {
    unblock = blockPageStorage()
    const { store, send } = await openThread({ storage: undefined, unsavedNoticeAfterMs: 0 })
    const said = politeSaid()
    send('hello')
    await eventually(() => expect(notice()?.textContent).toBe(NOTICE.en))
    expect(leavingAsks()).toBe(true)
    await eventually(() => expect(said).toEqual([NOTICE.en]))
    store.dispose()
  })
})
