import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import {
  electionTransition,
  initialElectionState,
  type ElectionEffect,
  type ElectionEvent,
  type ElectionState,
} from '../../../src/realtime/tabs/electionMachine'

// Tab 'b', beats every 500 ms, steals after 3 missed beats plus its stagger of 100 ms (1600 ms after it last heard);
// hidden, after 150 s plus its stagger (151,100 ms after).
const step = electionTransition({ tabId: 'b', heartbeatMs: 500, missedBeats: 3, staggerMs: 100 })

const following = (over: Partial<Extract<ElectionState, { status: 'following' }>> = {}): ElectionState => ({
  status: 'following',
  lock: 'queued',
  leader: null,
  maxTerm: 0,
  heardAt: 1000,
  hidden: false,
  ...over,
})
const leading = (over: Partial<Extract<ElectionState, { status: 'leading' }>> = {}): ElectionState => ({
  status: 'leading',
  term: 4,
  lastBeatAt: 1000,
  hidden: false,
  ...over,
})
const beat = (from: string, term: number, now: number): ElectionEvent => ({ type: 'heartbeatHeard', from, term, now })
const shows = (now: number): ElectionEvent => ({ type: 'visibilityChanged', hidden: false, now })
const hides = (now: number): ElectionEvent => ({ type: 'visibilityChanged', hidden: true, now })
const post = (kind: 'heartbeat' | 'resign', term: number): ElectionEffect => ({
  type: 'post',
  message: { kind, from: 'b', term },
})
/** What a leader does when it gives up leadership: the socket closes first, then the lock, then back in the queue. */
const stepDown = (release: boolean): ElectionEffect[] => [
  { type: 'becomeFollower' },
  ...(release ? [{ type: 'releaseLock' } as const] : []),
  { type: 'requestLock', steal: false },
  { type: 'startTimer', delayMs: 1600 },
]
const a4 = { id: 'a', term: 4 }
const aside = (maxTerm: number): ElectionState => ({ status: 'aside', maxTerm })

type Row = [name: string, from: ElectionState, event: ElectionEvent, to: ElectionState, effects: ElectionEffect[]]

const rows: Row[] = [
  // idle
  [
    'start queues for the lock (no steal) and waits for a heartbeat',
    initialElectionState,
    { type: 'start', hidden: false, now: 1000 },
    following(),
    [
      { type: 'requestLock', steal: false },
      { type: 'startTimer', delayMs: 1600 },
    ],
  ],
  ['stop before start ends it', initialElectionState, { type: 'stop', now: 0 }, { status: 'stopped' }, []],
  ['a heartbeat before start is ignored', initialElectionState, beat('a', 1, 0), initialElectionState, []],
  // following: heartbeats
  [
    'the first heartbeat names the leader and restarts the wait',
    following(),
    beat('a', 4, 1200),
    following({ leader: a4, maxTerm: 4, heardAt: 1200 }),
    [],
  ],
  [
    'a heartbeat of the followed leader restarts the wait',
    following({ leader: a4, maxTerm: 4 }),
    beat('a', 4, 1400),
    following({ leader: a4, maxTerm: 4, heardAt: 1400 }),
    [],
  ],
  [
    'a heartbeat of a newer term from another tab replaces the leader: the old one is gone',
    following({ leader: a4, maxTerm: 4 }),
    beat('c', 5, 1400),
    following({ leader: { id: 'c', term: 5 }, maxTerm: 5, heardAt: 1400 }),
    [{ type: 'leaderGone', leader: 'a' }],
  ],
  [
    'the same term from a smaller tab id replaces the leader too',
    following({ leader: { id: 'c', term: 4 }, maxTerm: 4 }),
    beat('a', 4, 1400),
    following({ leader: a4, maxTerm: 4, heardAt: 1400 }),
    [{ type: 'leaderGone', leader: 'c' }],
  ],
  [
    'the same term from a larger tab id is stale: the wait goes on (the tab is noted, with when)',
    following({ leader: a4, maxTerm: 4 }),
    beat('c', 4, 1400),
    following({ leader: a4, maxTerm: 4, other: { id: 'c', term: 4, heardAt: 1400 } }),
    [],
  ],
  [
    'an older term from another tab is stale: the wait goes on (the tab is noted, with when)',
    following({ leader: a4, maxTerm: 4 }),
    beat('c', 2, 1400),
    following({ leader: a4, maxTerm: 4, other: { id: 'c', term: 2, heardAt: 1400 } }),
    [],
  ],
  [
    'the followed leader silent past the wait, another tab beating within it: that tab is followed, not robbed',
    following({ leader: a4, maxTerm: 4, other: { id: 'c', term: 2, heardAt: 2400 } }),
    { type: 'tick', now: 2600 },
    following({ leader: { id: 'c', term: 2 }, maxTerm: 4, heardAt: 2400 }),
    [
      { type: 'leaderGone', leader: 'a' },
      { type: 'startTimer', delayMs: 1400 },
    ],
  ],
  [
    'the other tab silent for the wait as well: the lock is taken',
    following({ leader: a4, maxTerm: 4, other: { id: 'c', term: 2, heardAt: 1000 } }),
    { type: 'tick', now: 2600 },
    following({ lock: 'stealing', leader: null, maxTerm: 4 }),
    [{ type: 'leaderGone', leader: 'a' }, { type: 'releaseLock' }, { type: 'requestLock', steal: true }],
  ],
  [
    'hidden, shown past the wait, another tab beating: one beat more (its tick then follows that tab)',
    following({ leader: a4, maxTerm: 4, hidden: true, other: { id: 'c', term: 1, heardAt: 60_000 } }),
    shows(60_200),
    following({ leader: a4, maxTerm: 4, other: { id: 'c', term: 1, heardAt: 60_000 } }),
    [{ type: 'startTimer', delayMs: 500 }],
  ],
  [
    'that beat later, the other tab beating still: it is followed',
    following({ leader: a4, maxTerm: 4, other: { id: 'c', term: 1, heardAt: 60_600 } }),
    { type: 'tick', now: 60_700, dueAt: 60_700 },
    following({ leader: { id: 'c', term: 1 }, maxTerm: 4, heardAt: 60_600 }),
    [
      { type: 'leaderGone', leader: 'a' },
      { type: 'startTimer', delayMs: 1500 },
    ],
  ],
  [
    'an older term from the followed tab is stale as well',
    following({ leader: a4, maxTerm: 4 }),
    beat('a', 3, 1400),
    following({ leader: a4, maxTerm: 4 }),
    [],
  ],
  [
    'a follower that follows nobody takes any heartbeat, and remembers the highest term',
    following({ maxTerm: 6 }),
    beat('c', 2, 1400),
    following({ leader: { id: 'c', term: 2 }, maxTerm: 6, heardAt: 1400 }),
    [],
  ],
  // following: resign
  [
    'the followed leader resigns: it is gone at once, and the wait starts afresh',
    following({ leader: a4, maxTerm: 4 }),
    { type: 'resignHeard', from: 'a', term: 4, now: 1300 },
    following({ leader: null, maxTerm: 4, heardAt: 1300 }),
    [{ type: 'leaderGone', leader: 'a' }],
  ],
  [
    'another tab’s resign only raises the term heard',
    following({ leader: a4, maxTerm: 4 }),
    { type: 'resignHeard', from: 'c', term: 7, now: 1300 },
    following({ leader: a4, maxTerm: 7 }),
    [],
  ],
  // following: the timer
  [
    'a tick before the deadline waits the rest',
    following({ leader: a4, heardAt: 1400 }),
    { type: 'tick', now: 2600 },
    following({ leader: a4, heardAt: 1400 }),
    [{ type: 'startTimer', delayMs: 400 }],
  ],
  [
    'missed beats on a visible page: the leader is gone, the queued request goes, the lock is stolen',
    following({ leader: a4, maxTerm: 4, heardAt: 1000 }),
    { type: 'tick', now: 2600 },
    following({ lock: 'stealing', leader: null, maxTerm: 4, heardAt: 1000 }),
    [{ type: 'leaderGone', leader: 'a' }, { type: 'releaseLock' }, { type: 'requestLock', steal: true }],
  ],
  [
    'no heartbeat ever since start: the lock is stolen (nobody to call gone)',
    following({ heardAt: 1000 }),
    { type: 'tick', now: 2700 },
    following({ lock: 'stealing', heardAt: 1000 }),
    [{ type: 'releaseLock' }, { type: 'requestLock', steal: true }],
  ],
  [
    'a tick while stealing does nothing (the steal is granted at once)',
    following({ lock: 'stealing' }),
    { type: 'tick', now: 5000 },
    following({ lock: 'stealing' }),
    [],
  ],
  // following on a hidden page: a silence shorter than 150 s may be the browser throttling the holder's timers (about
  // one run a minute), not a hang
  [
    'start on a hidden page queues and waits as on a visible one',
    initialElectionState,
    { type: 'start', hidden: true, now: 1000 },
    following({ hidden: true }),
    [
      { type: 'requestLock', steal: false },
      { type: 'startTimer', delayMs: 1600 },
    ],
  ],
  [
    'hidden, a tick before the visible deadline waits the rest of the hidden one',
    following({ leader: a4, heardAt: 1400, hidden: true }),
    { type: 'tick', now: 2000 },
    following({ leader: a4, heardAt: 1400, hidden: true }),
    [{ type: 'startTimer', delayMs: 149_500 }],
  ],
  [
    'hidden, 3 missed beats: no steal, the leader is not called gone; it waits out the rest of 150 s',
    following({ leader: a4, maxTerm: 4, heardAt: 1000, hidden: true }),
    { type: 'tick', now: 2600 },
    following({ leader: a4, maxTerm: 4, heardAt: 1000, hidden: true }),
    [{ type: 'startTimer', delayMs: 148_500 }],
  ],
  [
    'hidden, no heartbeat since start for a minute: no steal either (a closed holder’s lock comes through the queue)',
    following({ hidden: true }),
    { type: 'tick', now: 60_000 },
    following({ hidden: true }),
    [{ type: 'startTimer', delayMs: 91_100 }],
  ],
  [
    'hidden, the holder silent for 150 s: steals (a hung or frozen page keeps its lock: nothing comes from the queue)',
    following({ leader: a4, maxTerm: 4, heardAt: 1000, hidden: true }),
    { type: 'tick', now: 151_100 },
    following({ lock: 'stealing', leader: null, maxTerm: 4, heardAt: 1000, hidden: true }),
    [{ type: 'leaderGone', leader: 'a' }, { type: 'releaseLock' }, { type: 'requestLock', steal: true }],
  ],
  [
    'hidden, a tick one ms before the hidden deadline: waits that ms',
    following({ leader: a4, maxTerm: 4, heardAt: 1000, hidden: true }),
    { type: 'tick', now: 151_099 },
    following({ leader: a4, maxTerm: 4, heardAt: 1000, hidden: true }),
    [{ type: 'startTimer', delayMs: 1 }],
  ],
  [
    'hidden, a heartbeat restarts the wait (no timer asked for)',
    following({ leader: a4, maxTerm: 4, hidden: true }),
    beat('a', 4, 61_000),
    following({ leader: a4, maxTerm: 4, heardAt: 61_000, hidden: true }),
    [],
  ],
  [
    'the page hides: noted, the wait goes on',
    following({ leader: a4, maxTerm: 4 }),
    hides(1200),
    following({ leader: a4, maxTerm: 4, hidden: true }),
    [],
  ],
  [
    'shown with the holder silent past the wait: one beat more, for the beats a page frozen in the background queued',
    following({ leader: a4, maxTerm: 4, heardAt: 1000, hidden: true }),
    shows(60_000),
    following({ leader: a4, maxTerm: 4, heardAt: 1000 }),
    [{ type: 'startTimer', delayMs: 500 }],
  ],
  [
    'that beat later, the holder silent still: the lock is taken',
    following({ leader: a4, maxTerm: 4, heardAt: 1000 }),
    { type: 'tick', now: 60_500, dueAt: 60_500 },
    following({ lock: 'stealing', leader: null, maxTerm: 4, heardAt: 1000 }),
    [{ type: 'leaderGone', leader: 'a' }, { type: 'releaseLock' }, { type: 'requestLock', steal: true }],
  ],
  [
    'shown exactly at the deadline: one beat more as well',
    following({ heardAt: 1000, hidden: true }),
    shows(2600),
    following({ heardAt: 1000 }),
    [{ type: 'startTimer', delayMs: 500 }],
  ],
  [
    'shown before the deadline: waits the rest',
    following({ leader: a4, maxTerm: 4, heardAt: 1400, hidden: true }),
    shows(2600),
    following({ leader: a4, maxTerm: 4, heardAt: 1400 }),
    [{ type: 'startTimer', delayMs: 400 }],
  ],
  [
    'shown while stealing: nothing more (the steal is granted at once)',
    following({ lock: 'stealing', hidden: true }),
    shows(5000),
    following({ lock: 'stealing' }),
    [],
  ],
  [
    'hidden again: nothing (the visibility did not change)',
    following({ leader: a4, hidden: true }),
    hides(5000),
    following({ leader: a4, hidden: true }),
    [],
  ],
  [
    'shown again: nothing (the visibility did not change; its timer runs)',
    following({ leader: a4, heardAt: 1000 }),
    shows(5000),
    following({ leader: a4, heardAt: 1000 }),
    [],
  ],
  // following: the lock
  [
    'granted: leads with the highest term heard plus one, beats at once and every heartbeatMs',
    following({ maxTerm: 4 }),
    { type: 'lockAcquired', now: 3000 },
    leading({ term: 5, lastBeatAt: 3000 }),
    [{ type: 'becomeLeader', term: 5 }, post('heartbeat', 5), { type: 'startTimer', delayMs: 500 }],
  ],
  [
    'granted while following a leader (it closed without a word): that leader is gone first',
    following({ leader: a4, maxTerm: 4 }),
    { type: 'lockAcquired', now: 3000 },
    leading({ term: 5, lastBeatAt: 3000 }),
    [
      { type: 'leaderGone', leader: 'a' },
      { type: 'becomeLeader', term: 5 },
      post('heartbeat', 5),
      { type: 'startTimer', delayMs: 500 },
    ],
  ],
  [
    'granted the steal: the robbed holder is named (what else its hung page holds is taken from it too)',
    following({ lock: 'stealing', maxTerm: 4 }),
    { type: 'lockAcquired', now: 3000 },
    leading({ term: 5, lastBeatAt: 3000 }),
    [
      { type: 'becomeLeader', term: 5 },
      { type: 'holderRobbed' },
      post('heartbeat', 5),
      { type: 'startTimer', delayMs: 500 },
    ],
  ],
  ['a stale loss while following is ignored', following(), { type: 'lockLost', now: 3000 }, following(), []],
  ['start again is ignored', following(), { type: 'start', hidden: false, now: 3000 }, following(), []],
  [
    'stop leaves the queue',
    following(),
    { type: 'stop', now: 3000 },
    { status: 'stopped' },
    [{ type: 'releaseLock' }, { type: 'cancelTimer' }],
  ],
  // leading
  [
    'a tick on time beats and waits one more beat',
    leading(),
    { type: 'tick', now: 1500 },
    leading({ lastBeatAt: 1500 }),
    [post('heartbeat', 4), { type: 'startTimer', delayMs: 500 }],
  ],
  [
    'a tick late by less than the followers’ wait still beats',
    leading(),
    { type: 'tick', now: 2499 },
    leading({ lastBeatAt: 2499 }),
    [post('heartbeat', 4), { type: 'startTimer', delayMs: 500 }],
  ],
  [
    'a tick after a freeze as long as the followers’ wait: becomes follower first, lets go, queues again',
    leading(),
    { type: 'tick', now: 2500 },
    following({ maxTerm: 4, heardAt: 2500 }),
    stepDown(true),
  ],
  [
    'any event after such a freeze steps down first (even an old heartbeat)',
    leading(),
    beat('c', 1, 2600),
    following({ maxTerm: 4, heardAt: 2600 }),
    stepDown(true),
  ],
  [
    'the lock stolen: becomes follower first, queues again (nothing to release)',
    leading(),
    { type: 'lockLost', now: 1200 },
    following({ maxTerm: 4, heardAt: 1200 }),
    stepDown(false),
  ],
  [
    'the lock stolen, heard after a freeze: the same (no release of a lock already gone)',
    leading(),
    { type: 'lockLost', now: 9000 },
    following({ maxTerm: 4, heardAt: 9000 }),
    stepDown(false),
  ],
  [
    'a heartbeat of a higher term: becomes follower first, lets go, queues again, follows it',
    leading(),
    beat('c', 5, 1200),
    following({ leader: { id: 'c', term: 5 }, maxTerm: 5, heardAt: 1200 }),
    stepDown(true),
  ],
  [
    'the same term from a smaller tab id: steps down the same way',
    leading(),
    beat('a', 4, 1200),
    following({ leader: a4, maxTerm: 4, heardAt: 1200 }),
    stepDown(true),
  ],
  ['the same term from a larger tab id is ignored', leading(), beat('c', 4, 1200), leading(), []],
  ['an older term is ignored', leading(), beat('a', 3, 1200), leading(), []],
  ['another tab’s resign is ignored', leading(), { type: 'resignHeard', from: 'a', term: 9, now: 1200 }, leading(), []],
  ['the page hides: noted, the leader beats on', leading(), hides(1200), leading({ hidden: true }), []],
  [
    'the page shows after a freeze: noted, nothing else (its next tick checks, as before)',
    leading({ hidden: true }),
    shows(9000),
    leading(),
    [],
  ],
  [
    'a hidden leader that loses the lock is a hidden follower (it will not steal it back on a throttled silence)',
    leading({ hidden: true }),
    { type: 'lockLost', now: 1200 },
    following({ maxTerm: 4, heardAt: 1200, hidden: true }),
    stepDown(false),
  ],
  [
    'stop resigns, lets the lock go, stops beating',
    leading(),
    { type: 'stop', now: 1200 },
    { status: 'stopped' },
    [post('resign', 4), { type: 'releaseLock' }, { type: 'cancelTimer' }],
  ],
  // leave (socket/disconnect: this tab wants no socket) and start again
  [
    'leave on a follower leaves the queue and its timer, keeping the highest term heard',
    following({ leader: a4, maxTerm: 4 }),
    { type: 'leave', now: 1200 },
    aside(4),
    [{ type: 'releaseLock' }, { type: 'cancelTimer' }],
  ],
  [
    'leave while stealing gives the steal up',
    following({ lock: 'stealing', maxTerm: 4 }),
    { type: 'leave', now: 1200 },
    aside(4),
    [{ type: 'releaseLock' }, { type: 'cancelTimer' }],
  ],
  [
    'leave on the leader: becomes follower first, then resigns (the next tab need not wait), lets go, stops beating',
    leading(),
    { type: 'leave', now: 1200 },
    aside(4),
    [{ type: 'becomeFollower' }, post('resign', 4), { type: 'releaseLock' }, { type: 'cancelTimer' }],
  ],
  [
    'leave on a leader woken from a freeze resigns the same way (it has nothing to verify: it lets go anyway)',
    leading(),
    { type: 'leave', now: 9000 },
    aside(4),
    [{ type: 'becomeFollower' }, post('resign', 4), { type: 'releaseLock' }, { type: 'cancelTimer' }],
  ],
  [
    'leave before start changes nothing (start is taking part)',
    initialElectionState,
    { type: 'leave', now: 0 },
    initialElectionState,
    [],
  ],
  ['aside, a heartbeat only raises the term heard', aside(4), beat('c', 6, 1300), aside(6), []],
  [
    'aside, a resign only raises the term heard',
    aside(4),
    { type: 'resignHeard', from: 'c', term: 5, now: 1300 },
    aside(5),
    [],
  ],
  ['aside, an older heartbeat changes nothing', aside(4), beat('c', 2, 1300), aside(4), []],
  ['aside, a late grant is ignored', aside(4), { type: 'lockAcquired', now: 1300 }, aside(4), []],
  ['aside, a tick is ignored', aside(4), { type: 'tick', now: 1300 }, aside(4), []],
  ['aside, leave again changes nothing', aside(4), { type: 'leave', now: 1300 }, aside(4), []],
  [
    'start after leave queues again (no steal), with the terms heard: its own lead would outrank them',
    aside(6),
    { type: 'start', hidden: false, now: 1300 },
    following({ maxTerm: 6, heardAt: 1300 }),
    [
      { type: 'requestLock', steal: false },
      { type: 'startTimer', delayMs: 1600 },
    ],
  ],
  [
    'start after leave on a hidden page: queued, hidden',
    aside(6),
    { type: 'start', hidden: true, now: 1300 },
    following({ maxTerm: 6, heardAt: 1300, hidden: true }),
    [
      { type: 'requestLock', steal: false },
      { type: 'startTimer', delayMs: 1600 },
    ],
  ],
  ['aside, the page showing changes nothing (start says it)', aside(4), shows(1300), aside(4), []],
  [
    'start while taking part changes nothing',
    following({ leader: a4, maxTerm: 4 }),
    { type: 'start', hidden: false, now: 1300 },
    following({ leader: a4, maxTerm: 4 }),
    [],
  ],
  ['start on the leader changes nothing', leading(), { type: 'start', hidden: false, now: 1300 }, leading(), []],
  [
    'stop while aside ends it (nothing held, no timer)',
    aside(4),
    { type: 'stop', now: 1300 },
    { status: 'stopped' },
    [],
  ],
  // stopped
  ['after stop a grant is ignored', { status: 'stopped' }, { type: 'lockAcquired', now: 1 }, { status: 'stopped' }, []],
  ['after stop a tick is ignored', { status: 'stopped' }, { type: 'tick', now: 1 }, { status: 'stopped' }, []],
  [
    'after stop start is ignored',
    { status: 'stopped' },
    { type: 'start', hidden: false, now: 1 },
    { status: 'stopped' },
    [],
  ],
]

// A lock that can tell whether it is still held (Web Locks' query): a leader that slept asks before it steps down.
const stepVerifying = electionTransition({
  tabId: 'b',
  heartbeatMs: 500,
  missedBeats: 3,
  staggerMs: 100,
  canVerify: true,
})
const verifying: ElectionState = { status: 'verifying', term: 4, lastBeatAt: 1000, hidden: false }

const verifyRows: Row[] = [
  [
    'a leader that slept past the wait asks the lock first (no beat)',
    leading(),
    { type: 'tick', now: 2500 },
    verifying,
    [{ type: 'verifyLock' }],
  ],
  [
    'a leader that slept and hears a newer holder steps down at once',
    leading(),
    beat('a', 5, 2500),
    following({ heardAt: 2500, maxTerm: 4 }),
    stepDown(true),
  ],
  [
    'still held: it leads on and beats at once',
    verifying,
    { type: 'lockVerified', held: true, now: 2600 },
    leading({ lastBeatAt: 2600 }),
    [post('heartbeat', 4), { type: 'startTimer', delayMs: 500 }],
  ],
  [
    'not held: it steps down, socket first',
    verifying,
    { type: 'lockVerified', held: false, now: 2600 },
    following({ heardAt: 2600, maxTerm: 4 }),
    stepDown(true),
  ],
  [
    'the loss arrives meanwhile: it steps down (nothing to release)',
    verifying,
    { type: 'lockLost', now: 2600 },
    following({ heardAt: 2600, maxTerm: 4 }),
    stepDown(false),
  ],
  [
    'a newer holder beats meanwhile: it steps down and follows it',
    verifying,
    beat('a', 5, 2600),
    following({ heardAt: 2600, maxTerm: 5, leader: { id: 'a', term: 5 } }),
    stepDown(true),
  ],
  ['an older beat meanwhile changes nothing', verifying, beat('c', 3, 2600), verifying, []],
  [
    'the page hides meanwhile: noted, still waiting for the answer',
    verifying,
    hides(2600),
    { status: 'verifying', term: 4, lastBeatAt: 1000, hidden: true },
    [],
  ],
  [
    'hidden, and not held: a hidden follower',
    { status: 'verifying', term: 4, lastBeatAt: 1000, hidden: true },
    { type: 'lockVerified', held: false, now: 2600 },
    following({ heardAt: 2600, maxTerm: 4, hidden: true }),
    stepDown(true),
  ],
  [
    'asked to confirm (its socket is up) after sleeping past the wait: it asks the lock now, as its tick would',
    leading(),
    { type: 'confirm', now: 2500 },
    verifying,
    [{ type: 'verifyLock' }],
  ],
  [
    'asked to confirm within the wait: nothing (it holds the lock)',
    leading(),
    { type: 'confirm', now: 2499 },
    leading(),
    [],
  ],
  ['asked to confirm while asking: nothing more', verifying, { type: 'confirm', now: 2600 }, verifying, []],
  [
    'a leftover tick meanwhile does nothing (no beat while unsure)',
    verifying,
    { type: 'tick', now: 2600 },
    verifying,
    [],
  ],
  [
    'stop meanwhile resigns and lets go',
    verifying,
    { type: 'stop', now: 2600 },
    { status: 'stopped' },
    [post('resign', 4), { type: 'releaseLock' }, { type: 'cancelTimer' }],
  ],
  [
    'leave meanwhile: becomes follower first, resigns, lets go, stands aside',
    verifying,
    { type: 'leave', now: 2600 },
    { status: 'aside', maxTerm: 4 },
    [{ type: 'becomeFollower' }, post('resign', 4), { type: 'releaseLock' }, { type: 'cancelTimer' }],
  ],
]

describe('electionTransition with a lock that can tell', () => {
  test.each(verifyRows)('%s', (_name, from, event, to, effects) => {
    expect(stepVerifying(from, event)).toEqual([to, effects])
  })

  test('without it, a leader that slept steps down unasked (the lock cannot say)', () => {
    expect(step(leading(), { type: 'tick', now: 2500 })).toEqual([
      following({ heardAt: 2500, maxTerm: 4 }),
      stepDown(true),
    ])
  })

  test('without it, a leader that slept and is asked to confirm steps down at once, as at its tick', () => {
    expect(step(leading(), { type: 'confirm', now: 2500 })).toEqual([
      following({ heardAt: 2500, maxTerm: 4 }),
      stepDown(true),
    ])
  })
})

describe('electionTransition', () => {
  test.each(rows)('%s', (_name, from, event, to, effects) => {
    expect(step(from, event)).toEqual([to, effects])
  })
})

// A follower whose page was busy or frozen past its deadline runs its overdue timer perhaps before the holder's beats
// queued meanwhile on the channel (timers and messages are different task sources). `dueAt`: when the runner's timer
// was due. `steals`: what a tick on time at that moment does (the lock is taken).
const tick = (now: number, dueAt: number): ElectionEvent => ({ type: 'tick', now, dueAt })
const lateRows: [
  name: string,
  from: ElectionState,
  event: ElectionEvent,
  to: ElectionState | 'steals',
  effects?: ElectionEffect[],
][] = [
  [
    'its timer ran late past the deadline (its page busy or frozen): one beat more for the beats queued meanwhile',
    following({ leader: a4, maxTerm: 4, heardAt: 1000 }),
    tick(4000, 2600),
    following({ leader: a4, maxTerm: 4, heardAt: 1000 }),
    [{ type: 'startTimer', delayMs: 500 }],
  ],
  [
    'a timer set before the deadline (against an older beat), run late past it: the same',
    following({ leader: a4, maxTerm: 4, heardAt: 1400 }),
    tick(4000, 2600),
    following({ leader: a4, maxTerm: 4, heardAt: 1400 }),
    [{ type: 'startTimer', delayMs: 500 }],
  ],
  [
    'late by more than a tenth of a beat is late',
    following({ leader: a4, maxTerm: 4, heardAt: 1000 }),
    tick(2651, 2600),
    following({ leader: a4, maxTerm: 4, heardAt: 1000 }),
    [{ type: 'startTimer', delayMs: 500 }],
  ],
  [
    'no heartbeat ever, late past the deadline: one beat more as well',
    following({ heardAt: 1000 }),
    tick(9000, 2600),
    following({ heardAt: 1000 }),
    [{ type: 'startTimer', delayMs: 500 }],
  ],
  [
    'a beat that was queued came meanwhile: the wait runs from it (looked at again within a beat)',
    following({ leader: a4, maxTerm: 4, heardAt: 4001 }),
    tick(4500, 4500),
    following({ leader: a4, maxTerm: 4, heardAt: 4001 }),
    [{ type: 'startTimer', delayMs: 500 }],
  ],
  [
    'the holder still silent one beat after the follower woke: the lock is taken',
    following({ leader: a4, maxTerm: 4, heardAt: 1000 }),
    tick(4500, 4500),
    'steals',
  ],
  [
    'that beat’s timer late as well: the lock is taken (one beat more, not two)',
    following({ leader: a4, maxTerm: 4, heardAt: 1000 }),
    tick(9000, 4500),
    'steals',
  ],
  [
    'late by a tenth of a beat or less (a timer’s usual delay): the lock is taken at once',
    following({ leader: a4, maxTerm: 4, heardAt: 1000 }),
    tick(2650, 2600),
    'steals',
  ],
  [
    'hidden, its timer late past the hidden deadline (the browser throttles a hidden page’s timers): taken at once',
    following({ leader: a4, maxTerm: 4, heardAt: 1000, hidden: true }),
    tick(200_000, 151_100),
    'steals',
  ],
  [
    'late but before the deadline: waits the rest, as on time',
    following({ leader: a4, maxTerm: 4, heardAt: 1400 }),
    tick(2900, 2000),
    following({ leader: a4, maxTerm: 4, heardAt: 1400 }),
    [{ type: 'startTimer', delayMs: 100 }],
  ],
  [
    'late while stealing: nothing',
    following({ lock: 'stealing' }),
    tick(9000, 2600),
    following({ lock: 'stealing' }),
    [],
  ],
  [
    'visible, long before the deadline: it looks again within a beat (a freeze over the silence shows as a late timer)',
    following({ leader: a4, maxTerm: 4, heardAt: 1400 }),
    { type: 'tick', now: 1500 },
    following({ leader: a4, maxTerm: 4, heardAt: 1400 }),
    [{ type: 'startTimer', delayMs: 500 }],
  ],
]

describe('electionTransition, a follower’s timer run late', () => {
  test.each(lateRows)('%s', (_name, from, event, to, effects) => {
    if (to !== 'steals') return expect(step(from, event)).toEqual([to, effects])
    const onTime = step(from, { type: 'tick', now: event.now })
    expect(onTime[0]).toMatchObject({ status: 'following', lock: 'stealing' })
    expect(step(from, event)).toEqual(onTime)
  })
})

/** Any sequence of events, at non-decreasing times. */
const events = fc.array(
  fc.tuple(
    fc.nat({ max: 2000 }),
    fc.oneof(
      fc.constant({ type: 'lockAcquired' as const }),
      fc.constant({ type: 'lockLost' as const }),
      fc.constant({ type: 'tick' as const }),
      // A timer the page ran late (it was busy or frozen).
      fc.record({ type: fc.constant('tick' as const), lateMs: fc.nat({ max: 3000 }) }),
      fc.constant({ type: 'confirm' as const }),
      fc.constant({ type: 'stop' as const }),
      fc.constant({ type: 'leave' as const }),
      fc.record({ type: fc.constant('start' as const), hidden: fc.boolean() }),
      fc.record({ type: fc.constant('visibilityChanged' as const), hidden: fc.boolean() }),
      fc.record({ type: fc.constant('heartbeatHeard' as const), from: fc.constantFrom('a', 'c'), term: fc.nat(6) }),
      fc.record({ type: fc.constant('resignHeard' as const), from: fc.constantFrom('a', 'c'), term: fc.nat(6) }),
    ),
  ),
  { maxLength: 60 },
)

describe('electionTransition over any sequence of events', () => {
  // A hidden wait short enough for the sequences (up to 120 s) to reach it.
  const HIDDEN_WAIT_MS = 4000
  const anyStep = electionTransition({
    tabId: 'b',
    heartbeatMs: 500,
    missedBeats: 3,
    staggerMs: 100,
    hiddenWaitMs: HIDDEN_WAIT_MS,
  })
  test('leadership is only lost with becomeFollower first; at most one lock request at a time; a follower steals only after its wait (the hidden one when hidden) and always waits on a timer', () => {
    fc.assert(
      fc.property(fc.boolean(), events, (startHidden, sequence) => {
        let state = anyStep(initialElectionState, { type: 'start', hidden: startHidden, now: 0 })[0]
        let requests = 1
        let now = 0
        /** The page's visibility as last told (at start, or by the page since). */
        let hidden = startHidden
        let timerArmed = true
        for (const [delay, body] of sequence) {
          now += delay
          if (body.type === 'visibilityChanged') hidden = body.hidden
          // The runner's start reads the page's visibility at that moment.
          if (body.type === 'start' && (state.status === 'idle' || state.status === 'aside')) hidden = body.hidden
          // A tick is the timer running out.
          if (body.type === 'tick') timerArmed = false
          const event = 'lateMs' in body ? { type: 'tick' as const, now, dueAt: now - body.lateMs } : { ...body, now }
          const [next, effects] = anyStep(state, event as ElectionEvent)
          for (const effect of effects) {
            if (effect.type === 'requestLock' && effect.steal) {
              const heardAt = state.status === 'following' ? state.heardAt : -Infinity
              expect(now - heardAt, 'stole before its wait').toBeGreaterThanOrEqual(
                (hidden ? HIDDEN_WAIT_MS : 1500) + 100,
              )
            }
            if (effect.type === 'startTimer') timerArmed = true
            if (effect.type === 'cancelTimer') timerArmed = false
          }
          // Without a timer a follower (hidden too) would never take the lock from a holder that hangs.
          if (next.status === 'following' && next.lock === 'queued')
            expect(timerArmed, 'a follower without a timer').toBe(true)
          const lost = state.status === 'leading' && (next.status === 'following' || next.status === 'aside')
          if (lost) expect(effects[0]).toEqual({ type: 'becomeFollower' })
          else expect(effects).not.toContainEqual({ type: 'becomeFollower' })
          const gained = state.status !== 'leading' && next.status === 'leading'
          expect(effects.some((e) => e.type === 'becomeLeader')).toBe(gained)
          // A grant was lost with the lock: the request it answered is gone.
          if (body.type === 'lockLost' && state.status === 'leading') requests--
          for (const effect of effects) {
            if (effect.type === 'releaseLock') requests = Math.max(0, requests - 1)
            if (effect.type === 'requestLock') requests++
            expect(requests).toBeLessThanOrEqual(1)
          }
          // A live election always has its one request (queued, stealing, or held); one aside or stopped has none.
          expect(requests).toBe(next.status === 'stopped' || next.status === 'aside' ? 0 : 1)
          // A beat only from a leader, with its own term.
          for (const effect of effects) {
            if (effect.type === 'post' && effect.message.kind === 'heartbeat') {
              expect(next).toMatchObject({ status: 'leading', term: effect.message.term })
            }
          }
          state = next
        }
      }),
      { numRuns: 500 },
    )
  })
})
