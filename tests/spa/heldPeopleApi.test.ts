// @vitest-environment jsdom
import { expect, test } from 'vitest'
import { alice, bob } from '../unit/support/fixtures'
import { heldPeopleApi } from './support/page'

// A page may read the people again while the first read is held (threadSaidBeforePeople.test.tsx did, in a full run):
// both reads got the one Response, and the second failed "Response.clone: Body has already been consumed".

test('heldPeopleApi answers each read of the people with a body of its own', async () => {
  const { fetchFn, answerPeople } = heldPeopleApi(() => undefined)
  const reads = [fetchFn('http://api.test/api/users'), fetchFn('http://api.test/api/users')]
  await answerPeople()
  const bodies = await Promise.all(reads.map(async (read) => (await read).json()))
  expect(bodies).toEqual([
    [alice, bob],
    [alice, bob],
  ])
})
