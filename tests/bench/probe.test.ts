import { configureStore, createSlice } from '@reduxjs/toolkit'
import { expect, test } from 'vitest'
import { ArrivalProbe } from '../../bench/lib/probe'

const counter = createSlice({
  name: 'counter',
  initialState: { n: 0 },
  reducers: { bump: (s) => void (s.n += 1), nothing: (s) => s },
})

function storeWith(probe: ArrivalProbe<{ counter: { n: number } }>) {
  return configureStore({
    reducer: { counter: counter.reducer },
    middleware: (gDM) => gDM().prepend(probe.middleware),
  })
}

test('the probe resolves at the first action after which the predicate holds', async () => {
  const probe = new ArrivalProbe<{ counter: { n: number } }>()
  const store = storeWith(probe)
  const arrival = probe.expect((s) => s.counter.n === 2)
  store.dispatch(counter.actions.bump())
  let resolved = false
  void arrival.inCache.then(() => {
    resolved = true
  })
  await Promise.resolve()
  expect(resolved).toBe(false)
  store.dispatch(counter.actions.bump())
  expect(typeof (await arrival.inCache)).toBe('number')
})

test('the predicate runs once per state: actions that leave the state as it was do not run it again', () => {
  const probe = new ArrivalProbe<{ counter: { n: number } }>()
  const store = storeWith(probe)
  let calls = 0
  probe.expect((s) => {
    calls++
    return s.counter.n === 5
  })
  store.dispatch(counter.actions.bump())
  expect(calls).toBe(1)
  for (let i = 0; i < 10; i++) store.dispatch(counter.actions.nothing())
  expect(calls).toBe(1)
  store.dispatch(counter.actions.bump())
  expect(calls).toBe(2)
  expect(probe.actions).toBe(12)
})

test('given the part of the state its predicate reads, the predicate runs only when that part changes', () => {
  const other = createSlice({ name: 'other', initialState: { n: 0 }, reducers: { tick: (s) => void (s.n += 1) } })
  type State = { counter: { n: number }; other: { n: number } }
  const probe = new ArrivalProbe<State>()
  const store = configureStore({
    reducer: { counter: counter.reducer, other: other.reducer },
    middleware: (gDM) => gDM().prepend(probe.middleware),
  })
  let calls = 0
  probe.expect(
    (s) => {
      calls++
      return s.counter.n === 5
    },
    (s) => s.counter,
  )
  store.dispatch(counter.actions.bump())
  expect(calls).toBe(1)
  // A change elsewhere (the layer's applied offset, at every logged event) is no news for the predicate.
  for (let i = 0; i < 10; i++) store.dispatch(other.actions.tick())
  expect(calls).toBe(1)
  store.dispatch(counter.actions.bump())
  expect(calls).toBe(2)
})
