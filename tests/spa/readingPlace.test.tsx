// @vitest-environment jsdom
import { act } from 'react'
import { describe, expect, test } from 'vitest'
import { alice } from '../unit/support/fixtures'
import { eventually } from './support/eventually'
import { withLayout } from './support/layout'
import { bobsThreadApi, pageEndingAt, pagePerTest, renderApp, appStore, type } from './support/page'

// A message of ours waiting for its answer, the reader scrolled up to read: its confirmation (a new id), or the thread
// read again (a gap: our unconfirmed copy taken out, and put back by the outbox once the read lands), is the message
// written before, not a new one: the reader stays where they were.

const page = pagePerTest('#/messages/c1')

/** Alice's thread c1 (Bob's 20 messages, then hers waiting for its answer), the reader scrolled up to the top. */
async function readingUpWhileOursWaits(latest: () => number) {
  const { store, sockets } = appStore(
    bobsThreadApi(() => pageEndingAt(latest())),
    {
      realtime: { invalidationWindowMs: 0 },
    },
  )
  renderApp(page.root, store)
  act(() => sockets.last.serverConnect())
  act(() => sockets.last.serverEmit('sync:caughtUp', { offset: 1, epoch: 'e1' }))
  await eventually(() => expect(statuses()).toHaveLength(20))
  const list = page.container.querySelector<HTMLElement>('[data-testid=message-list]')!
  withLayout(list, () => 3000)
  // Sent: no answer comes yet, it waits.
  const composer = page.container.querySelector<HTMLTextAreaElement>('[data-testid=composer]')!
  act(() => type(composer, 'still on its way'))
  act(() => composer.form!.requestSubmit())
  await eventually(() => expect(statuses().at(-1)).toBe('pending'))
  expect(list.scrollTop).toBe(2500)
  // The reader goes up.
  act(() => {
    list.scrollTop = 0
    list.dispatchEvent(new Event('scroll'))
  })
  return { store, sockets, list }
}

const statuses = () =>
  [...page.container.querySelectorAll('[data-testid=message]')].map((el) => el.getAttribute('data-status'))

describe('reading up the thread while a message of ours waits', () => {
  test('its confirmation does not pull the reader down to it', async () => {
    const { store, sockets, list } = await readingUpWhileOursWaits(() => 20)
    const [send] = sockets.last.sent('message:send')
    const { conversationId, content, clientId } = send!.args[0] as {
      conversationId: string
      content: string
      clientId: string
    }
    act(() =>
      send!.ack({
        ok: true,
        data: {
          id: 'm21',
          conversationId,
          seq: 21,
          senderId: alice.id,
          content,
          createdAt: new Date().toISOString(),
          clientId,
        },
      }),
    )
    await eventually(() => expect(statuses().at(-1)).toBe('sent'))
    expect(list.scrollTop).toBe(0)
    store.dispose()
  })

  test('a read of the thread again does not pull the reader down to it', async () => {
    let latest = 20
    const { store, sockets, list } = await readingUpWhileOursWaits(() => latest)
    // A gap: the thread is read again, with Bob's message that came meanwhile.
    latest = 21
    act(() => sockets.last.serverEmit('sync:gap', { offset: 5, epoch: 'e1' }))
    await eventually(() => {
      expect(page.container.querySelector('[data-message-id=m21]')).not.toBeNull()
      expect(statuses()).toHaveLength(22)
      expect(statuses().at(-1)).toBe('pending')
    })
    expect(list.scrollTop).toBe(0)
    store.dispose()
  })
})
