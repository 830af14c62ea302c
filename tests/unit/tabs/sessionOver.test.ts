import { describe, expect, test } from 'vitest'
import { SESSION_EXPIRED_REASON, type TabMessage } from '../../../src/realtime/tabs/protocol'
import { answerWhileSessionOver } from '../../../src/realtime/tabs/sessionOver'

// What the lock's holder, its session over (no hub), answers each message of another tab: every tab of that user that
// asks for the socket is told the session is over, addressed to it; nothing else is answered.

const over = (to: string): TabMessage => ({
  kind: 'down',
  from: 'holder',
  reason: SESSION_EXPIRED_REASON,
  to,
  userId: 'alice',
})
const resume = { offset: 3, epoch: 'e1' }
const attach = (from: string, userId: string): TabMessage => ({
  kind: 'attach',
  from,
  attachId: 7,
  userId,
  resume,
  visible: true,
})
const emit = (from: string, to: string): TabMessage => ({
  kind: 'emit',
  from,
  to,
  id: 1,
  event: 'message:send',
  args: [],
  timeoutMs: 5000,
})

describe('answerWhileSessionOver (pure)', () => {
  test.each<[string, TabMessage, TabMessage | null]>([
    ['a tab opened since asks for the socket (attach): told', attach('new', 'alice'), over('new')],
    ['another user’s attach: not this session', attach('new', 'bob'), null],
    [
      'a follower that missed the down says it is alive: told',
      { kind: 'alive', from: 'old', visible: true },
      over('old'),
    ],
    ['an emit addressed to this tab: told (its ack fails at once)', emit('old', 'holder'), over('old')],
    ['an emit addressed to another tab: not ours', emit('old', 'elsewhere'), null],
    ['a detach: nothing to say', { kind: 'detach', from: 'old' }, null],
    ['a heartbeat: the election’s', { kind: 'heartbeat', from: 'other', term: 2 }, null],
    ['a resign: the election’s', { kind: 'resign', from: 'other', term: 2 }, null],
    ['another tab’s down: nothing', { kind: 'down', from: 'other', reason: 'closed' }, null],
    ['its own message (never delivered back, but never answered)', attach('holder', 'alice'), null],
  ])('%s', (_name, message, answer) => {
    expect(answerWhileSessionOver(message, 'holder', 'alice')).toEqual(answer)
  })
})
