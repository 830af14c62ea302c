import type { Id } from '../../src/contract'

/** Every socket of a user joins this room: events for a user go here. */
export const userRoom = (userId: Id): string => `user:${userId}`
/** A socket that has joined a conversation ("is looking at it"). Only used to know who is reading; events go to user rooms. */
export const conversationRoom = (conversationId: Id): string => `conv:${conversationId}`
/** The conversation of a `conversationRoom`, or undefined for any other room. */
export const conversationIdOfRoom = (room: string): Id | undefined =>
  room.startsWith('conv:') ? room.slice(5) : undefined
/** Every socket opened with (or renewed into) a session's token: a logout disconnects them all. */
export const sessionRoom = (sessionId: string): string => `session:${sessionId}`
