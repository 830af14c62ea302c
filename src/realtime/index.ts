// The realtime layer: a Redux Toolkit middleware that owns one Socket.IO client per store.
export {
  PREFIX,
  connect,
  disconnect,
  joinConversation,
  leaveConversation,
  sendMessage,
  retryMessage,
  discardMessage,
  connected,
  disconnected,
  reconnecting,
  connectFailed,
  joinFailed,
  eventRejected,
  sessionStarted,
  sessionEnded,
  sessionExpired,
  joined,
  sendConfirmed,
  sendFailed,
  sendRetryScheduled,
  internalError,
  outboxSaved,
  outboxKept,
  socketHolderRequested,
  outboxRestored,
  sendRejected,
  drainStarted,
  drainStopped,
  retryNow,
  catchUpStarted,
  syncCaughtUp,
  syncGap,
  resumeStalled,
  transportStalled,
  roleChanged,
  type EventActionMeta,
  shutdown,
  serverEventActions,
  serverEventOfType,
  ephemeralEventActions,
  sendTyping,
  typingExpired,
  newClientId,
  type ServerEventActions,
  type ConnectionError,
  type DisconnectReason,
  type ConnectionErrorCode,
  type SendError,
  type SendRejection,
} from './actions'
export {
  socketReducer,
  socketSlice,
  initialSocketState,
  selectConnection,
  selectIsConnected,
  selectPendingMessages,
  selectKeptUnsent,
  selectRooms,
  selectSendRejection,
  type Connection,
  type ConnectionStatus,
  type PendingMessage,
  type SocketState,
  type SocketRootState,
} from './socketSlice'
export { pendingCopy } from './outboxThread'
export { cacheWorkTable, cacheWorkFor, type CacheWork, type CacheView, type CacheWorkTable } from './cacheWork'
export { emitFor, type Emit } from './actionEmits'
export { bindSocket } from './bindSocket'
export { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff'
export { createSocketMiddleware, type SocketDispatchExtension } from './middleware'
export type { SocketMiddlewareOptions, RefreshOutcome, ActionMatcher } from './context'
export { createSocketHolder, type SocketHolder } from './socketHolder'
export { useSocket, type UseSocket } from './useSocket'
export type { AppSocket, CreateSocket, SocketFactoryOptions } from './types'
export { createTagCoalescer, type TagCoalescer, type Timers } from './coalescer'
export { createMemoryLock, createWebLock, createLeaseLock, defaultDrainLock, type DrainLock } from './drainLock'
export {
  createOutboxStorage,
  discardedStorageKey,
  droppedStorageKey,
  outboxStorageKey,
  type OutboxStorage,
  type StorageLike,
} from './outboxStorage'
export { browserRetryTriggers, manualRetryTriggers, type RetryTriggers, type RetryReason } from './triggers'
export {
  presenceReducer,
  presenceSlice,
  initialPresenceState,
  selectTyping,
  selectPresence,
  type PresenceEntry,
  type PresenceState,
  type PresenceRootState,
} from './presenceSlice'
export { TYPING_SEND_INTERVAL_MS, TYPING_SHOWN_MS } from './typingHandler'
export type { TabRole, TabChannel, TabLock, TabMessage, Visibility } from './tabs/protocol'
export { randomTabId, tabPageWatch, type TabsOptions, type WatchTab } from './tabs/tabsLink'
export { browserTabs } from './tabs/browserTabs'
export { documentVisibility, manualVisibility } from './tabs/visibility'
