// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { api } from '../../src/api'
import { createMemoryStorage } from '../../src/app/store'
import { trackedStore } from '../support/trackedStores'
import type { User } from '../../src/contract'
import { fakeSockets } from '../unit/support/fakeSocket'
import { apiRoutes, fieldLabelled, json, pagePerTest, renderApp, type } from './support/page'
import { alice, bob, contactRequest } from '../unit/support/fixtures'

const carol: User = { id: 'u-carol', name: 'Carol', role: 'tutor' }
const dave: User = { id: 'u-dave', name: 'Dave', role: 'tutor' }

interface Recorded {
  method: string
  path: string
  body: unknown
}

/** The API the pages load from, in memory: the people list can change between two loads, as on a real server. */
function fakeApi() {
  const requests: Recorded[] = []
  const state = { users: [alice, bob, carol] }
  const fetchFn = apiRoutes(async (method, apiPath, request) => {
    const path = apiPath.replace(/^\/api/, '')
    const text = await request.text()
    const body = text ? (JSON.parse(text) as Record<string, string>) : undefined
    requests.push({ method, path, body })
    switch (`${method} ${path}`) {
      case 'GET /users':
        return json(200, state.users)
      case 'GET /lessons':
      case 'GET /contact-requests':
      case 'GET /conversations':
        return json(200, [])
      case 'POST /contact-requests':
        return json(201, contactRequest('r1', { tutorId: body?.tutorId, message: body?.message }))
      default:
        return json(404, { error: { code: 'NOT_FOUND', message: `${method} ${path}` } })
    }
  })
  return { requests, state, fetchFn }
}

const page = pagePerTest()

async function renderAppAt(hash: string) {
  window.history.replaceState(null, '', hash)
  const server = fakeApi()
  const store = trackedStore({
    apiUrl: 'http://api.test',
    createSocket: fakeSockets().createSocket,
    storage: createMemoryStorage(),
    preloadedState: { auth: { token: 'token-1', user: alice } },
    fetchFn: server.fetchFn,
  })
  renderApp(page.root, store)
  const settle = async () => {
    // Until no request is running: a load that lands can render a component that starts another.
    for (;;) {
      const running = [
        ...store.dispatch(api.util.getRunningQueriesThunk()),
        ...store.dispatch(api.util.getRunningMutationsThunk()),
      ]
      if (running.length === 0) return
      await act(async () => {
        await Promise.all(running)
      })
    }
  }
  await settle()
  return { store, server, settle }
}

/**
 * What Chromium does when a link to another hash is clicked (measured in the e2e browser): the URL changes and
 * `popstate` fires within the click, `hashchange` only in a later task. Returns that later task.
 */
function followLinkLikeChromium(hash: string): () => void {
  window.history.pushState(null, '', hash)
  window.dispatchEvent(new PopStateEvent('popstate', { state: null }))
  return () => window.dispatchEvent(new HashChangeEvent('hashchange'))
}

/** `followLinkLikeChromium` with React's work for it done, as the browser finishes the click's task. */
function followLink(hash: string): () => void {
  let fireHashchange = () => {}
  act(() => {
    fireHashchange = followLinkLikeChromium(hash)
  })
  return fireHashchange
}

const heading = () => page.container.querySelector('h1')?.textContent ?? '(no heading)'

/** The `<select>` whose label says `label`, on the page shown now. */
const field = (label: string) => fieldLabelled(page.container, label, HTMLSelectElement)

/** Picks the option whose text contains `text`, as a person does (the browser selects it, then fires `change`). */
/** An option's text as read, without the isolates around a person's name (FSI … PDI, invisible). */
const shownText = (option: HTMLOptionElement) => option.text.replace(/[\u2068\u2069]/g, '')

function pick(select: HTMLSelectElement, text: string): void {
  const option = [...select.options].find((o) => o.text.includes(text))
  if (!option) throw new Error(`no option "${text}" in [${[...select.options].map((o) => o.text).join(', ')}]`)
  select.value = option.value
  select.dispatchEvent(new Event('change', { bubbles: true }))
}

describe('a choice made right after opening a page is kept', () => {
  test.each([
    { from: '#/lessons', to: '#/contact-requests', page: 'Contact requests', label: 'Tutor' },
    { from: '#/contact-requests', to: '#/lessons', page: 'Lessons', label: 'Tutor' },
    { from: '#/lessons', to: '#/messages', page: 'Messages', label: 'Write to' },
  ])(
    '$from → $to: "$label" keeps Bob after the page settles and the people list reloads',
    async ({ from, to, page, label }) => {
      const { store, server, settle } = await renderAppAt(from)
      const fireHashchange = followLink(to)
      // The page the link opens is on screen within the click, so a pick at once lands in its form.
      expect(heading()).toBe(page)
      act(() => pick(field(label), 'Bob'))
      act(() => fireHashchange())
      await settle()
      // The people list loads again, changed (a new tutor, another order): the options are rendered anew.
      server.state.users = [dave, carol, bob, alice]
      await act(async () => {
        await store.dispatch(api.endpoints.getUsers.initiate(undefined, { forceRefetch: true, subscribe: false }))
      })
      expect(heading()).toBe(page)
      expect([...field(label).options].map(shownText).filter((t) => t.startsWith('Dave'))).toHaveLength(1)
      expect(field(label).value).toBe(bob.id)
    },
  )

  test('the contact request Alice sends right after opening the page goes to the tutor she picked', async () => {
    const { server, settle } = await renderAppAt('#/lessons')
    const fireHashchange = followLink('#/contact-requests')
    act(() => pick(field('Tutor'), 'Bob'))
    act(() => fireHashchange())
    await settle()
    const message = page.container.querySelector('textarea')!
    type(message, 'Calculus, please')
    const form = message.closest('form')!
    expect(form.checkValidity()).toBe(true)
    act(() => form.requestSubmit())
    await settle()
    expect(server.requests.filter((r) => r.method === 'POST')).toEqual([
      { method: 'POST', path: '/contact-requests', body: { tutorId: bob.id, message: 'Calculus, please' } },
    ])
  })
})
