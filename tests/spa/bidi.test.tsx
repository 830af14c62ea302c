// @vitest-environment jsdom
import { describe, expect, test } from 'vitest'
import type { User } from '../../src/contract'
import { eventually } from './support/eventually'
import { alice, bob, contactRequest, conversation, lesson, message } from '../unit/support/fixtures'
import { act } from 'react'
import { createToaster } from '../../src/features/notifications/toaster'
import { ephemeralEventActions, serverEventActions } from '../../src/realtime'
import { apiRoutes, appStore, fieldLabelled, json, pagePerTest, renderApp, type } from './support/page'

// What people write goes in its own direction: text that starts in Arabic or Hebrew is laid out right to left, and a
// name inside one of our sentences cannot pull the sentence's punctuation to its side (dir="auto", <bdi>).

const ARABIC = 'مرحبا، هل نبدأ غدا؟ OK'
const HEBREW_NAME = 'שרה כהן'
const sara: User = { ...bob, name: HEBREW_NAME }
const page = pagePerTest('/')

const api = apiRoutes((_method, path) => {
  if (path === '/api/users') return json(200, [alice, sara])
  if (path === '/api/conversations')
    return json(200, [conversation('c1', { lastMessage: message(1, { content: ARABIC, senderId: sara.id }) })])
  if (path === '/api/conversations/c1/messages') return json(200, [message(1, { content: ARABIC, senderId: sara.id })])
  if (path === '/api/lessons') return json(200, [lesson('l1', { subject: ARABIC })])
  if (path === '/api/contact-requests') return json(200, [contactRequest('r1', { message: ARABIC })])
  return json(200, [])
})

function open(hash: string, toaster?: ReturnType<typeof createToaster>) {
  window.history.replaceState(null, '', hash)
  const { store } = appStore(api, toaster ? { extraMiddleware: [toaster.middleware] } : {})
  renderApp(page.root, store, toaster)
  return store
}

/** The element holding exactly `text`, among those matching `selector`. */
const holding = (selector: string, text: string) =>
  [...page.container.querySelectorAll<HTMLElement>(selector)].find((e) => e.textContent === text)

describe('text people write keeps its own direction', () => {
  test('a message, in the thread and as the conversation’s last one, and the other person’s name, in the list and as the thread’s title', async () => {
    const store = open('#/messages/c1')
    await eventually(() => expect(holding('[data-testid=message] .msg-body', ARABIC)).toBeDefined())
    expect(holding('[data-testid=message] .msg-body', ARABIC)!.dir).toBe('auto')
    expect(holding('[data-testid=conversation-last]', ARABIC)!.dir).toBe('auto')
    expect(holding('.conv-name', HEBREW_NAME)!.dir).toBe('auto')
    // The thread's title is the other person's name alone.
    await eventually(() => expect(holding('.thread-title h2', HEBREW_NAME)).toBeDefined())
    expect(holding('.thread-title h2', HEBREW_NAME)!.dir).toBe('auto')
    store.dispose()
  })

  // In an English or French page the field would lay "مرحبا، هل نبدأ غدا؟ OK" out left to right, its question mark and
  // "OK" on the other side of the Arabic than in the message it becomes once sent.
  test('a message being written, in the composer, as it will be shown once sent', async () => {
    const store = open('#/messages/c1')
    await eventually(() => expect(page.container.querySelector('[data-testid=composer]')).not.toBeNull())
    const composer = page.container.querySelector<HTMLTextAreaElement>('[data-testid=composer]')!
    type(composer, ARABIC)
    expect(composer.dir).toBe('auto')
    store.dispose()
  })

  // As in the composer: what is typed there is shown on a card with dir="auto" (a lesson's title, a request's body).
  test.each<[string, string, new () => HTMLInputElement | HTMLTextAreaElement]>([
    ['#/lessons', 'Subject', HTMLInputElement],
    ['#/contact-requests', 'Message', HTMLTextAreaElement],
  ])('on %s, the %s being written, as it will be shown', async (hash, label, kind) => {
    const store = open(hash)
    await eventually(() => expect(() => fieldLabelled(page.container, label, kind)).not.toThrow())
    const field = fieldLabelled(page.container, label, kind)
    type(field, ARABIC)
    expect(field.dir).toBe('auto')
    store.dispose()
  })

  test('a lesson’s subject, and the name inside the sentence under it', async () => {
    const store = open('#/lessons')
    await eventually(() => expect(holding('[data-testid=lesson] h3', ARABIC)).toBeDefined())
    expect(holding('[data-testid=lesson] h3', ARABIC)!.dir).toBe('auto')
    await eventually(() => expect(holding('[data-testid=lesson] .card-meta bdi', HEBREW_NAME)).toBeDefined())
    store.dispose()
  })

  test('a contact request’s message, and the name in its title', async () => {
    const store = open('#/contact-requests')
    await eventually(() => expect(holding('[data-testid=contact-request] .card-body', ARABIC)).toBeDefined())
    expect(holding('[data-testid=contact-request] .card-body', ARABIC)!.dir).toBe('auto')
    expect(holding('[data-testid=contact-request] h3 bdi', HEBREW_NAME)).toBeDefined()
    store.dispose()
  })

  test('a lesson’s subject inside a toast’s sentence', async () => {
    const toaster = createToaster()
    const store = open('#/messages', toaster)
    await eventually(() => expect(page.container.querySelector('[data-testid=conversation-list]')).not.toBeNull())
    act(
      () =>
        void store.dispatch(
          serverEventActions['lesson:statusUpdated'](lesson('l1', { subject: ARABIC, status: 'confirmed' })),
        ),
    )
    await eventually(() => expect(holding('[data-testid=toast] a bdi', ARABIC)).toBeDefined())
    store.dispose()
  })

  test('the user’s own last message inside “You: …”', async () => {
    window.history.replaceState(null, '', '#/messages')
    const mine = apiRoutes((_method, path) => {
      if (path === '/api/users') return json(200, [alice, sara])
      if (path === '/api/conversations')
        return json(200, [conversation('c1', { lastMessage: message(1, { content: ARABIC, senderId: alice.id }) })])
      return json(200, [])
    })
    const { store } = appStore(mine)
    renderApp(page.root, store)
    await eventually(() => expect(holding('[data-testid=conversation-last]', `You: ${ARABIC}`)).toBeDefined())
    expect(holding('[data-testid=conversation-last] bdi', ARABIC)).toBeDefined()
    store.dispose()
  })

  test('a booked lesson’s subject inside the confirmation', async () => {
    window.history.replaceState(null, '', '#/lessons')
    const booking = apiRoutes(async (method, path, request) => {
      if (method === 'POST' && path === '/api/lessons') {
        const body = (await request.json()) as { subject: string }
        return json(201, lesson('l9', { subject: body.subject, tutorId: sara.id, studentId: alice.id }))
      }
      if (path === '/api/users') return json(200, [alice, sara])
      return json(200, [])
    })
    const { store } = appStore(booking)
    renderApp(page.root, store)
    await eventually(() => expect(fieldLabelled(page.container, 'Tutor', HTMLSelectElement).options.length).toBe(2))
    const select = fieldLabelled(page.container, 'Tutor', HTMLSelectElement)
    act(() => {
      select.value = sara.id
      select.dispatchEvent(new Event('change', { bubbles: true }))
    })
    const subject = fieldLabelled(page.container, 'Subject', HTMLInputElement)
    type(subject, ARABIC)
    act(() => subject.closest('form')!.requestSubmit())
    await eventually(() => expect(holding('.form-ok bdi', ARABIC)).toBeDefined())
    store.dispose()
  })

  test('a right-to-left name in the typing line, and in the person picker', async () => {
    const store = open('#/messages/c1')
    await eventually(() => expect(holding('[data-testid=message] .msg-body', ARABIC)).toBeDefined())
    act(() => void store.dispatch(ephemeralEventActions.typing({ conversationId: 'c1', userId: sara.id })))
    await eventually(() => expect(holding('[data-testid=typing] bdi', HEBREW_NAME)).toBeDefined())
    // The name alone in its own direction, with no isolate before it: the browser's type-ahead matches the start of an
    // option's text (tests/e2e/typeAhead.test.ts).
    const option = [...page.container.querySelectorAll('option')].find((o) => o.value === sara.id)
    expect(option?.textContent).toBe(HEBREW_NAME)
    expect(option?.dir).toBe('auto')
    store.dispose()
  })
})
