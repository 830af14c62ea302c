import { describe, expect, test } from 'vitest'
import {
  answerResume,
  contiguousFrom,
  handshakeResume,
  ReplayBuffer,
  type BufferedEvent,
} from '../../../src/realtime/tabs/replayBuffer'
import type { RawEvent } from '../../../src/realtime/tabs/protocol'

const raw = (offset: number): RawEvent => ({ event: 'message:new', args: [{ id: `m${offset}` }, { offset }] })
const held = (...offsets: number[]): BufferedEvent[] => offsets.map((offset) => ({ offset, raw: raw(offset) }))
const caughtUp = (offset: number, epoch = 'e1'): RawEvent => ({ event: 'sync:caughtUp', args: [{ offset, epoch }] })
const gap = (offset: number, epoch = 'e1'): RawEvent => ({ event: 'sync:gap', args: [{ offset, epoch }] })

describe('answerResume: what a follower attaching from its offset gets (head at 10, epoch e1)', () => {
  const head = { offset: 10, epoch: 'e1' }
  test.each([
    {
      name: 'another epoch: a gap at the head, nothing replayed',
      resume: { offset: 9, epoch: 'e0' },
      buffer: held(8, 9, 10),
      replay: [],
      sync: gap(10),
    },
    {
      name: 'no offset (a fresh page): caught up at the head',
      resume: { offset: null, epoch: null },
      buffer: held(10),
      replay: [],
      sync: caughtUp(10),
    },
    {
      name: 'no offset even with a stale epoch: a gap, as the server would',
      resume: { offset: null, epoch: 'e0' },
      buffer: held(10),
      replay: [],
      sync: gap(10),
    },
    {
      name: 'at the head: caught up, nothing replayed',
      resume: { offset: 10, epoch: 'e1' },
      buffer: held(9, 10),
      replay: [],
      sync: caughtUp(10),
    },
    {
      name: 'at the head, events held above it (a hole) go along: posted before it attached, never again',
      resume: { offset: 10, epoch: 'e1' },
      buffer: held(10, 12),
      replay: [raw(12)],
      sync: caughtUp(10),
    },
    {
      name: 'no offset (a fresh page), events held above the head go along too',
      resume: { offset: null, epoch: null },
      buffer: held(9, 10, 12, 13),
      replay: [raw(12), raw(13)],
      sync: caughtUp(10),
    },
    {
      name: 'ahead of the head: a gap at the head, as the server answers a handshake ahead of its log (it went back)',
      resume: { offset: 12, epoch: 'e1' },
      buffer: held(10, 12, 13),
      replay: [],
      sync: gap(10),
    },
    {
      name: 'ahead of the head, nothing buffered above it: a gap at the head all the same',
      resume: { offset: 12, epoch: 'e1' },
      buffer: held(10),
      replay: [],
      sync: gap(10),
    },
    {
      name: 'behind, the buffer holds the stretch: replayed in order',
      resume: { offset: 7, epoch: 'e1' },
      buffer: held(5, 6, 7, 8, 9, 10),
      replay: [raw(8), raw(9), raw(10)],
      sync: caughtUp(10),
    },
    {
      name: 'behind without an epoch yet (null): same log, replayed',
      resume: { offset: 9, epoch: null },
      buffer: held(9, 10),
      replay: [raw(10)],
      sync: caughtUp(10),
    },
    {
      name: 'events held above the head (a hole) go along with the replay',
      resume: { offset: 8, epoch: 'e1' },
      buffer: held(9, 10, 12),
      replay: [raw(9), raw(10), raw(12)],
      sync: caughtUp(10),
    },
    {
      name: 'the first missed event was evicted: a gap',
      resume: { offset: 5, epoch: 'e1' },
      buffer: held(7, 8, 9, 10),
      replay: [],
      sync: gap(10),
    },
    {
      name: 'a hole inside the stretch: a gap',
      resume: { offset: 6, epoch: 'e1' },
      buffer: held(7, 8, 10),
      replay: [],
      sync: gap(10),
    },
    { name: 'an empty buffer: a gap', resume: { offset: 3, epoch: 'e1' }, buffer: held(), replay: [], sync: gap(10) },
  ])('$name', ({ resume, buffer, replay, sync }) => {
    expect(answerResume(resume, head, buffer)).toEqual({ replay, sync })
  })
})

describe('contiguousFrom', () => {
  test.each([
    { events: held(), from: 4, expected: 4 },
    { events: held(5, 6, 8), from: 4, expected: 6 },
    { events: held(3, 4, 5), from: 4, expected: 5 },
    { events: held(6, 7), from: 4, expected: 4 },
    { events: held(1, 2, 3), from: 0, expected: 3 },
  ])('from $from through $events.length events: $expected', ({ events, from, expected }) => {
    expect(contiguousFrom(events, from)).toBe(expected)
  })
})

describe('ReplayBuffer', () => {
  const offsets = (buffer: ReplayBuffer) => buffer.entries().map((e) => e.offset)

  test.each([
    { name: 'in order', add: [1, 2, 3], size: 5, kept: [1, 2, 3] },
    { name: 'out of order, sorted', add: [3, 1, 2], size: 5, kept: [1, 2, 3] },
    { name: 'a repeat is kept once', add: [1, 2, 2, 1], size: 5, kept: [1, 2] },
    { name: 'full: the lowest offsets go', add: [1, 2, 3, 4, 5], size: 3, kept: [3, 4, 5] },
    { name: 'full, a late low one goes at once', add: [4, 5, 6, 1], size: 3, kept: [4, 5, 6] },
    { name: 'full, a late one inside pushes the lowest out', add: [4, 6, 7, 5], size: 3, kept: [5, 6, 7] },
    {
      name: 'long past full (evicted ones are compacted away)',
      add: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      size: 3,
      kept: [8, 9, 10],
    },
    { name: 'a repeat of an evicted offset stays out', add: [1, 2, 3, 4, 5, 6, 7, 2], size: 3, kept: [5, 6, 7] },
  ])('$name', ({ add, size, kept }) => {
    const buffer = new ReplayBuffer(size)
    for (const offset of add) buffer.add(offset, raw(offset))
    expect(offsets(buffer)).toEqual(kept)
  })

  test('evicted events do not count towards a contiguous stretch', () => {
    const buffer = new ReplayBuffer(3)
    for (let offset = 1; offset <= 7; offset++) buffer.add(offset, raw(offset))
    expect(buffer.contiguousFrom(4)).toBe(7)
    expect(buffer.contiguousFrom(2)).toBe(2)
  })

  test('keeps the first event at an offset, and clear empties it', () => {
    const buffer = new ReplayBuffer(3)
    buffer.add(1, raw(1))
    buffer.add(1, { event: 'message:sent', args: [] })
    expect(buffer.entries()[0]!.raw).toEqual(raw(1))
    expect(buffer.contiguousFrom(0)).toBe(1)
    buffer.clear()
    expect(buffer.entries()).toEqual([])
  })
})

describe('handshakeResume: where the holder’s handshake resumes from, given the tabs waiting for the socket', () => {
  const at = (offset: number | null, epoch: string | null = offset === null ? null : 'e1') => ({ offset, epoch })
  test.each([
    { name: 'nobody waits: its own point', own: at(10), waiting: [], from: at(10) },
    { name: 'a fresh holder, nobody waits: none', own: at(null), waiting: [], from: at(null) },
    {
      name: 'a fresh holder: the lowest point asked for',
      own: at(null),
      waiting: [at(7), at(4), at(null)],
      from: at(4),
    },
    { name: 'a tab behind the holder: its point', own: at(10), waiting: [at(12), at(6)], from: at(6) },
    { name: 'a tab of another log: its point is no use', own: at(10), waiting: [at(2, 'e0')], from: at(10) },
    { name: 'further behind than the buffer keeps (5): its own', own: at(10), waiting: [at(4)], from: at(10) },
    { name: 'as far behind as the buffer keeps: that point', own: at(10), waiting: [at(5)], from: at(5) },
  ])('$name', ({ own, waiting, from }) => {
    expect(handshakeResume(own, waiting, 5)).toEqual(from)
  })
})
