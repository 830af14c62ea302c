/**
 * An init script standing in for the Redux DevTools extension: it installs `__REDUX_DEVTOOLS_EXTENSION_COMPOSE__`,
 * which RTK's `configureStore` calls, and records every action that reaches the store's reducer (after the
 * middleware, as the extension does), with the path of the first value in it that is not plain serializable data.
 *
 * It runs in the page, so it must not reference anything outside itself.
 */
export function installRecordingDevTools(): void {
  interface Recorded {
    type: string
    problem: string | null
    json: string
  }
  const w = window as unknown as {
    __devtools: { actions: Recorded[]; options: unknown[] }
    __REDUX_DEVTOOLS_EXTENSION_COMPOSE__: unknown
  }
  const devtools = { actions: [] as Recorded[], options: [] as unknown[] }
  w.__devtools = devtools

  const isPlainObject = (v: object) => {
    const proto = Object.getPrototypeOf(v)
    return proto === Object.prototype || proto === null
  }
  const problemAt = (v: unknown, path: string, depth: number): string | null => {
    if (v === null || v === undefined || typeof v === 'string' || typeof v === 'boolean') return null
    if (typeof v === 'number') return Number.isFinite(v) ? null : path
    if (typeof v !== 'object' || depth > 30) return path
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const p = problemAt(v[i], `${path}[${i}]`, depth + 1)
        if (p) return p
      }
      return null
    }
    if (!isPlainObject(v)) return path
    for (const [k, child] of Object.entries(v)) {
      const p = problemAt(child, `${path}.${k}`, depth + 1)
      if (p) return p
    }
    return null
  }
  const record = (action: unknown) => {
    const a = action as { type?: unknown }
    let json = ''
    try {
      json = JSON.stringify(action)
    } catch {
      json = ''
    }
    devtools.actions.push({ type: String(a?.type), problem: problemAt(action, 'action', 0), json })
  }

  type Fn = (...args: unknown[]) => unknown
  const compose = (...fns: Fn[]): Fn =>
    fns.length === 0
      ? (x: unknown) => x
      : fns.reduce(
          (f, g) =>
            (...args: unknown[]) =>
              f(g(...args)),
        )
  const recorder =
    (createStore: Fn) =>
    (reducer: Fn, ...rest: unknown[]) =>
      createStore(
        (state: unknown, action: unknown) => {
          record(action)
          return reducer(state, action)
        },
        ...rest,
      )

  w.__REDUX_DEVTOOLS_EXTENSION_COMPOSE__ = (...args: unknown[]) => {
    // Like the extension: called with options it returns a compose; called with enhancers it composes them.
    if (args.length === 0 || typeof args[0] === 'object') {
      devtools.options.push(args[0] ?? null)
      return (...funcs: Fn[]) => compose(...funcs, recorder as Fn)
    }
    return compose(...(args as Fn[]), recorder as Fn)
  }
}

export interface RecordedAction {
  type: string
  problem: string | null
  json: string
}
