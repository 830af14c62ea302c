import { Component, type ReactNode } from 'react'
import { useT } from '../i18n'
import { focusAfterRemoval } from './focus'

interface Props {
  children: ReactNode
  fallback: (retry: () => void) => ReactNode
}

/**
 * What a page that throws while drawing leaves: a message in its place, and the frame (navigation, logout, status)
 * still working, where the whole app would otherwise go blank (React unmounts a tree whose render threw). Class
 * component: React has no hook for it.
 */
class Boundary extends Component<Props, { failed: boolean }> {
  override state = { failed: false }

  static getDerivedStateFromError(): { failed: boolean } {
    return { failed: true }
  }

  override render(): ReactNode {
    return this.state.failed ? this.props.fallback(() => this.setState({ failed: false })) : this.props.children
  }
}

/** "Try again" goes once the page is drawn: focus it had stays in the page. */
const keepFocus = focusAfterRemoval()

/**
 * The page in a boundary of its own; give it a `key` per route, so going elsewhere starts afresh.
 *
 * @example <PageBoundary key={route.page}><LessonsPage /></PageBoundary>
 */
export function PageBoundary({ children }: { children: ReactNode }) {
  const t = useT()
  return (
    <Boundary
      fallback={(retry) => (
        <div className="page-error" role="alert">
          <p>{t('page.crashed')}</p>
          <button ref={keepFocus} type="button" className="btn" onClick={retry}>
            {t('page.tryAgain')}
          </button>
        </div>
      )}
    >
      {children}
    </Boundary>
  )
}
