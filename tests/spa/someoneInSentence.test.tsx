// @vitest-environment jsdom
import { act } from 'react'
import { afterEach, describe, expect, test } from 'vitest'
import { LOCALE_STORAGE_KEY } from '../../src/i18n'
import { ephemeralEventActions, typingExpired } from '../../src/realtime'
import { alice, bob, contactRequest, conversation, lesson, message } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, json, pagePerTest, politeSaid, renderApp } from './support/page'

// A person the page cannot name (the people's read failed, or they are not in /api/users) is "Someone". That word was
// put as it is into every sentence too, capitalised mid-sentence: "Message to Someone", "with Someone · …", "Decline
// Someone’s request?", "Message à Quelqu’un", "Bob and Someone are typing…". Inside a sentence it is now in lower case
// (`People.nameInSentence`: "Message to someone", "Decline someone’s request?", "Message à quelqu’un"); where the word
// stands alone (the thread's heading, the conversation's name in the list) it stays capitalised. The typing line counts
// them after the names ("Bob and someone else are typing…", tests/spa/typingUnnamed.test.tsx).

const page = pagePerTest('#/messages/c1')
afterEach(() => localStorage.removeItem(LOCALE_STORAGE_KEY))

/** The people's read fails (each time it is made): nobody but the user is named. */
const noPeople = () => json(500, { error: { code: 'INTERNAL', message: 'database timeout' } })

describe('someone the page cannot name', () => {
  test.each([
    {
      locale: 'en',
      alone: 'Someone',
      composer: 'Message to someone',
      log: 'Messages with someone',
      said: /^New message from someone: are you there\?$/,
    },
    {
      locale: 'fr',
      alone: 'Quelqu’un',
      composer: 'Message à quelqu’un',
      log: 'Messages avec quelqu’un',
      said: /^Nouveau message — quelqu’un\s:\sare you there\?$/,
    },
  ])('($locale) is capitalised alone, lower case inside the thread’s sentences', async (c) => {
    localStorage.setItem(LOCALE_STORAGE_KEY, c.locale)
    const { store, sockets } = appStore(
      apiRoutes((_method, path) => {
        if (path === '/api/users') return noPeople()
        if (path === '/api/conversations') return json(200, [conversation('c1', { lastMessage: message(1) })])
        if (path === '/api/conversations/c1/messages') return json(200, [message(1)])
        return json(200, [])
      }),
    )
    act(() => {
      sockets.last.serverConnect()
      sockets.last.serverEmit('sync:caughtUp', { offset: 0, epoch: 'e1' })
    })
    renderApp(page.root, store)
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
    await eventually(() => expect(page.container.querySelector('.conv-name')?.textContent).toBe(c.alone))
    expect(page.container.querySelector('.thread h2')?.textContent).toBe(c.alone)
    const composer = page.container.querySelector<HTMLTextAreaElement>('[data-testid=composer]')!
    expect(page.container.querySelector(`label[for="${composer.id}"]`)?.textContent).toBe(c.composer)
    expect(page.container.querySelector('[data-testid=message-list]')?.getAttribute('aria-label')).toBe(c.log)

    await eventually(() => expect(sockets.last.sent('conversation:join')).toHaveLength(1))
    act(() => sockets.last.sent('conversation:join')[0]!.ack({ ok: true, data: null }))
    const said = politeSaid()
    await act(async () => sockets.last.serverEmit('message:new', message(2, { content: 'are you there?' })))
    await eventually(() => expect(said).toHaveLength(1))
    expect(said[0]).toMatch(c.said)
    store.dispose()
  })

  test.each([
    {
      locale: 'en',
      meta: /^with someone · /,
      heading: 'From someone',
      ask: 'Decline someone’s request? This cannot be undone.',
    },
    {
      locale: 'fr',
      meta: /^avec quelqu’un · /,
      heading: 'Élève\u202f: quelqu’un',
      ask: 'Refuser la demande envoyée par quelqu’un\u202f? C’est définitif.',
    },
  ])('($locale) is lower case in a lesson’s and a request’s sentences, possessive included', async (c) => {
    localStorage.setItem(LOCALE_STORAGE_KEY, c.locale)
    window.history.replaceState(null, '', '#/lessons')
    const { store } = appStore(
      apiRoutes((_method, path) => {
        if (path === '/api/users') return noPeople()
        if (path === '/api/lessons') return json(200, [lesson('l1')])
        if (path === '/api/contact-requests') return json(200, [contactRequest('r1')])
        return json(200, [])
      }),
      { preloadedState: { auth: { token: 'token-1', user: bob } } },
    )
    renderApp(page.root, store)
    await eventually(() =>
      expect(page.container.querySelector('[data-testid=lesson] .card-meta')?.textContent).toMatch(c.meta),
    )

    act(() => window.history.pushState(null, '', '#/contact-requests'))
    act(() => window.dispatchEvent(new PopStateEvent('popstate')))
    const card = await eventually(() => {
      const el = page.container.querySelector<HTMLElement>('[data-testid=contact-request]')
      expect(el?.querySelector('h3')?.textContent).toBe(c.heading)
      return el!
    })
    const decline = [...card.querySelectorAll('button')].find(
      (b) => b.textContent === (c.locale === 'en' ? 'Decline' : 'Refuser'),
    )!
    act(() => decline.click())
    await eventually(() => expect(card.querySelector('fieldset legend')?.textContent).toBe(c.ask))
    store.dispose()
  })

  test.each([
    { locale: 'en', lines: ['Bob and someone else are typing…', 'Bob and someone else are typing…'] },
    {
      locale: 'fr',
      lines: ['Bob et quelqu’un d’autre sont en train d’écrire…', 'Bob et quelqu’un d’autre sont en train d’écrire…'],
    },
  ])('($locale) is “someone else” in the typing line, after the names, whoever typed first', async (c) => {
    localStorage.setItem(LOCALE_STORAGE_KEY, c.locale)
    const { store, sockets } = appStore(
      apiRoutes((_method, path) => {
        // Bob is named; u-gone (no longer in /api/users) is not.
        if (path === '/api/users') return json(200, [alice, bob])
        if (path === '/api/conversations')
          return json(200, [conversation('c1', { participantIds: [alice.id, bob.id, 'u-gone'] })])
        if (path === '/api/conversations/c1/messages') return json(200, [message(1)])
        return json(200, [])
      }),
    )
    renderApp(page.root, store)
    act(() => sockets.last.serverConnect())
    await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
    const line = page.container.querySelector('[data-testid=typing]')!
    const seen: string[] = []
    for (const order of [
      [bob.id, 'u-gone'],
      ['u-gone', bob.id],
    ]) {
      for (const userId of order)
        act(() => void store.dispatch(ephemeralEventActions.typing({ conversationId: 'c1', userId })))
      await eventually(() => expect(line.querySelectorAll('bdi')).toHaveLength(1))
      seen.push(line.textContent ?? '')
      for (const userId of order) act(() => void store.dispatch(typingExpired({ conversationId: 'c1', userId })))
      await eventually(() => expect(line.querySelectorAll('bdi')).toHaveLength(0))
    }
    expect(seen).toEqual(c.lines)
    store.dispose()
  })
})
