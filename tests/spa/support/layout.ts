/**
 * Gives a scrolling box the layout jsdom lacks: its content `height()` px tall (read at each use, so it grows with
 * what is drawn) in a `windowPx` window, `scrollTop` kept within them as a browser keeps it.
 *
 * @example withLayout(list, () => 100 * list.querySelectorAll('[data-testid=message]').length)
 */
export function withLayout(el: HTMLElement, height: () => number, windowPx = 500): void {
  let top = 0
  Object.defineProperty(el, 'scrollHeight', { configurable: true, get: height })
  Object.defineProperty(el, 'clientHeight', { configurable: true, get: () => windowPx })
  Object.defineProperty(el, 'scrollTop', {
    configurable: true,
    get: () => top,
    set: (value: number) => {
      top = Math.max(0, Math.min(value, height() - windowPx))
    },
  })
}
