import type { Id } from '../../src/contract'

/** Every socket of a user joins this room: events for a user go here (so connection state recovery can replay them). */
export const userRoom = (userId: Id): string => `user:${userId}`
/** A socket that has joined a conversation ("is looking at it"). Only used to know who is reading; events go to user rooms. */
export const conversationRoom = (conversationId: Id): string => `conv:${conversationId}`
