import { describe, expect, test } from 'vitest'
import { roomChanges, roomUnion } from '../../../src/realtime/tabs/roomUnion'

const tab = (visible: boolean, ...wants: string[]) => ({ visible, wants: new Set(wants) })

describe('roomUnion: the rooms of the visible tabs', () => {
  test.each([
    { name: 'no tabs', tabs: [], union: [] },
    { name: 'one visible tab', tabs: [tab(true, 'c1', 'c2')], union: ['c1', 'c2'] },
    { name: 'a hidden tab counts for nothing', tabs: [tab(false, 'c1')], union: [] },
    { name: 'visible and hidden', tabs: [tab(true, 'c1'), tab(false, 'c2')], union: ['c1'] },
    {
      name: 'two visible tabs, shared room once',
      tabs: [tab(true, 'c1', 'c2'), tab(true, 'c2', 'c3')],
      union: ['c1', 'c2', 'c3'],
    },
    { name: 'a room wanted by a hidden and a visible tab', tabs: [tab(false, 'c1'), tab(true, 'c1')], union: ['c1'] },
  ])('$name', ({ tabs, union }) => {
    expect([...roomUnion(tabs)].sort()).toEqual(union)
  })
})

describe('roomChanges: joins and leaves from the rooms the socket is in to the union', () => {
  test.each([
    { name: 'nothing to do', current: ['c1'], union: ['c1'], join: [], leave: [] },
    { name: 'a room enters', current: [], union: ['c1'], join: ['c1'], leave: [] },
    { name: 'a room goes', current: ['c1'], union: [], join: [], leave: ['c1'] },
    { name: 'both', current: ['c1', 'c2'], union: ['c2', 'c3'], join: ['c3'], leave: ['c1'] },
  ])('$name', ({ current, union, join, leave }) => {
    expect(roomChanges(current, new Set(union))).toEqual({ join, leave })
  })
})
