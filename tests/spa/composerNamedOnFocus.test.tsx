// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { alice, bob, conversation, message } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { apiRoutes, appStore, json, pagePerTest, renderApp } from './support/page'

// A conversation opened by its address (a reload, a link, a bookmark) reads its thread, the list of conversations and
// the people side by side, and the thread is named by the list (who the other person is) and the people (their name).
// When the thread came first, its composer took focus while the others were still on their way: a screen reader said
// "Message to Conversation, edit text" (or "Message to Someone"), and the name that came a moment later was said by
// nothing. Focus now waits for both (or for their failure), and lands on "Message to Bob".

const page = pagePerTest('#/messages/c1')

describe('a conversation opened by its address', () => {
  test.each([
    ['the list of conversations', '/api/conversations'],
    ['the people', '/api/users'],
  ])(
    'puts focus in a composer named after the other person, also when its thread is read before %s',
    async (_, held) => {
      let releaseList: () => void = () => {}
      const listHeld = new Promise<void>((resolve) => {
        releaseList = resolve
      })
      const fetchFn = apiRoutes(async (_method, path) => {
        if (path === held) await listHeld
        if (path === '/api/users') return json(200, [alice, bob])
        if (path === '/api/conversations') return json(200, [conversation('c1')])
        if (path === '/api/conversations/c1/messages') return json(200, [message(1)])
        return json(200, [])
      })
      // What a screen reader says as focus lands in a text field: its label.
      const heard: string[] = []
      const onFocus = (e: FocusEvent) => {
        const el = e.target as HTMLElement
        if (el.matches('textarea')) heard.push(document.querySelector(`label[for="${el.id}"]`)?.textContent ?? '')
      }
      document.addEventListener('focusin', onFocus)
      try {
        const { store, sockets } = appStore(fetchFn)
        renderApp(page.root, store)
        act(() => sockets.last.serverConnect())
        await eventually(() => expect(page.container.querySelectorAll('[data-testid=message]')).toHaveLength(1))
        releaseList()
        await eventually(() =>
          expect(page.container.querySelector('[data-testid=conversation]')?.textContent).toContain('Bob'),
        )
        const composer = page.container.querySelector<HTMLTextAreaElement>('[data-testid=composer]')!
        await eventually(() => expect(document.activeElement).toBe(composer))
        expect(heard).toEqual(['Message to Bob'])
        store.dispose()
      } finally {
        document.removeEventListener('focusin', onFocus)
      }
    },
  )
})
