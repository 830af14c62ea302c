// @vitest-environment jsdom
import { act } from 'react'
import { expect, test } from 'vitest'
import { eventually } from './support/eventually'
import { pagePerTest, threadWithFocusedComposer, type } from './support/page'

// Pasted code, a poem, an indented list: the composer trimmed the whole draft, so the first line lost its indentation
// while the lines under it kept theirs, and the block reached the other side misaligned. What goes is the draft
// without its blank lines above and its white space after; the first written line keeps its indentation, in the
// pending bubble and in what is sent (the server stores the content as given).

const page = pagePerTest('#/messages/c1')

test.each([
  [
    'code pasted with blank lines around it',
    '\n\n    if (ready) {\n      go()\n    }\n\n',
    '    if (ready) {\n      go()\n    }',
  ],
  ['an indented line and trailing spaces', '  - first point  ', '  - first point'],
  ['a byte order mark before the indentation', '\uFEFF  x = 1', '  x = 1'],
] as const)('%s: the first line keeps its indentation, shown and sent', async (_, draft, sent) => {
  const { store, sockets, composer } = await threadWithFocusedComposer(page)
  type(composer, draft)
  act(() => {
    composer.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }))
  })
  await eventually(() => expect(sockets.last.sent('message:send')).toHaveLength(1))
  expect(sockets.last.sent('message:send')[0]!.args[0]).toMatchObject({ content: sent })
  const pending = page.container.querySelector('[data-status=pending] .msg-body')
  expect(pending?.textContent).toBe(sent)
  expect(composer.value).toBe('')
  store.dispose()
})
