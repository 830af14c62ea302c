import type { Id } from '../../src/contract'
import type { Notifier, Presence } from '../services'
import { conversationRoom, userRoom } from './rooms'
import type { TalemyServer } from './types'

/** Emits through `io.to(room)` only: rooms are what an adapter carries to other nodes. */
export function createNotifier(io: TalemyServer): Notifier {
  return {
    messageStored(message, participantIds) {
      const others = participantIds.filter((id) => id !== message.senderId).map(userRoom)
      if (others.length > 0) io.to(others).emit('message:new', message)
      io.to(userRoom(message.senderId)).emit('message:sent', message)
    },
    conversationRead(userId, conversationId) {
      io.to(userRoom(userId)).emit('conversation:read', { conversationId, unreadCount: 0 })
    },
    lesson(event, lesson) {
      io.to([userRoom(lesson.tutorId), userRoom(lesson.studentId)]).emit(event, lesson)
    },
    contactRequest(event, request) {
      io.to([userRoom(request.tutorId), userRoom(request.studentId)]).emit(event, request)
    },
  }
}

/** Reads Socket.IO's own room membership. */
export function createPresence(io: TalemyServer): Presence {
  return {
    viewers(conversationId) {
      const namespace = io.of('/')
      const viewers = new Set<Id>()
      for (const socketId of namespace.adapter.rooms.get(conversationRoom(conversationId)) ?? []) {
        const userId = namespace.sockets.get(socketId)?.data.userId
        if (userId) viewers.add(userId)
      }
      return viewers
    },
  }
}
