/**
 * The English catalogue: every word the SPA shows, as ICU messages (`{count, plural, …}`, `{name}`). It is the
 * reference: its keys are the `MessageId` type, so a component naming an unknown id, or a catalogue missing one, does
 * not compile. The connection badge's words are the contract's and end-to-end tests read them: keep them exactly.
 *
 * @example intl.formatMessage({ id: 'count.unreadMessages' }, { count: 3 }) // "3 unread messages"
 */
export const en = {
  // Frame
  'layout.skipToContent': 'Skip to content',
  'page.crashed': 'This page could not be shown. Try again, or go to another page.',
  'page.tryAgain': 'Try again',
  'layout.nav': 'Main',
  'layout.logOut': 'Log out',
  'layout.logInAgain': 'Log in again',
  'layout.logOutConfirm':
    '{count, plural, one {# message has not been sent yet. Log out anyway and discard it?} other {# messages have not been sent yet. Log out anyway and discard them?}}',
  'layout.language': 'Language',
  'nav.messages': 'Messages',
  'nav.lessons': 'Lessons',
  'nav.contactRequests': 'Contact requests',
  'nav.contactRequests.short': 'Requests',
  'count.unreadMessages': '{count, plural, one {# unread message} other {# unread messages}}',
  'count.toConfirm': '{count, plural, one {# awaiting your confirmation} other {# awaiting your confirmation}}',
  'count.toAnswer': '{count, plural, one {# awaiting your answer} other {# awaiting your answer}}',
  'role.student': 'student',
  'role.tutor': 'tutor',
  'role.students': 'Students',
  'role.tutors': 'Tutors',
  'people.you': 'You',
  // Someone the page cannot name (not in the people's list, or its read failed), where the word stands alone (a heading,
  // a conversation in the list) or starts a sentence ("Someone: …"); inside a sentence, in lower case ("A
  // message to someone was not sent."): `People.nameOf` and `People.nameInSentence`.
  'people.someone': 'Someone',
  'people.someoneInSentence': 'someone',

  // Connection badge (the contract's words) and what screen readers hear when it changes
  'connection.online': 'online',
  'connection.reconnecting': 'reconnecting…',
  'connection.offline': 'offline',
  'connection.sessionExpired': 'session expired',
  'connection.overHttp': 'messages go over HTTP',
  'connection.announce.back': 'Connection back: online.',
  'connection.announce.lost': 'Connection lost. Reconnecting; messages go over HTTP meanwhile.',
  'connection.announce.cannotConnect': 'Could not connect. Trying again; messages go over HTTP meanwhile.',
  'connection.announce.offline': 'You are offline. Messages go over HTTP.',
  'connection.announce.expired': 'Your session expired. Log in again.',

  // Notifications
  'toasts.region': 'Notifications',
  // The close button of each toast, named by what it closes (several may be on screen).
  'toasts.dismiss': 'Dismiss: {toast}',
  // A lesson's news names the other person too: a tutor's students may book the same subject.
  'toast.lessonRequested': 'New lesson request from {name}: {subject}',
  'toast.lessonStatus':
    'Lesson “{subject}” ({name}) {status, select, pending {is pending} confirmed {was confirmed} cancelled {was cancelled} completed {was completed} other {changed}}',
  // A request's news names the other person: a tutor's requests come from several students, a student's answers from
  // several tutors (an answer's toast says it as the requests page does, `requests.statusSaid`).
  'toast.contactRequested': 'New contact request from {name}',

  // Errors: the SPA's own words for each code (the server's messages are English and for developers)
  'error.UNAUTHORIZED': 'Your session has ended. Log in again.',
  'error.FORBIDDEN': 'You are not allowed to do that.',
  'error.NOT_FOUND': 'That is no longer there.',
  'error.INVALID': 'That was not accepted. Check what you entered.',
  'error.RATE_LIMITED': 'Too many requests; wait a moment and try again.',
  'error.INTERNAL': 'The server ran into a problem. Please try again.',
  'error.NETWORK': 'Could not reach the server. Check your connection.',
  'error.OUTBOX_FULL': 'Too many messages are waiting to be sent. Your text is kept: send it once they have gone.',
  'error.UNKNOWN': 'Something went wrong. Please try again.',
  'controls.tryAgain': 'Try again',
  'controls.retrying': 'Trying again…',
  'controls.tutor': 'Tutor',
  'controls.chooseTutor': 'Choose a tutor…',
  // What a field that holds its form back says (the browser would say it in its own language)
  'form.fill': 'Fill in this field.',
  'form.choose': 'Choose an item in the list.',
  'form.email': 'Enter an email address, such as name@example.com.',
  // A date and time typed in part (the browser's `badInput`): it has no value, but it is not empty either.
  'form.incompleteDate': 'Date and time: incomplete; fill in every part of it.',

  // Login
  'login.pageTitle': 'Log in',
  'login.heading': 'Log in to Talemy',
  'login.lead': 'Log in to message your tutors and students, book lessons and answer requests.',
  'login.email': 'Email',
  'login.password': 'Password',
  'login.submit': 'Log in',
  'login.submitting': 'Logging in…',
  'login.wrongCredentials': 'Wrong email or password.',
  'login.failed': 'Could not log in. Please try again.',
  'login.tooManyAttempts':
    'Too many failed attempts. You can try again {today, select, yes {at {time}} other {on {day} at {time}}}.',
  'login.demoTitle': 'Demo accounts',
  'login.demoHint': 'Password {password} for all. Pick one to fill the form.',

  // Messages
  'messages.title': 'Messages',
  'messages.loading': 'Loading conversations…',
  'messages.empty': 'No conversations yet. Start one above.',
  'messages.lastFromMe': 'You: {content}',
  'messages.noMessagesYet': 'No messages yet',
  'messages.notSent': 'Not sent',
  'messages.notSentTo':
    '{count, plural, one {A message to {name} was not sent.} other {# messages to {name} were not sent.}}',
  'messages.notSentInMany':
    '{count, plural, one {# message} other {# messages}} in {conversations, plural, one {# conversation} other {# conversations}} {count, plural, one {was} other {were}} not sent.',
  'messages.choose': 'Choose a conversation, or start a new one.',
  'messages.conversation': 'Conversation',
  'messages.writeTo': 'Write to',
  'messages.choosePerson': 'Choose a person…',
  'messages.start': 'Start',
  'messages.personGone': 'Write to: {name} can no longer be written to here; choose someone else.',
  'messages.unsaved':
    'Your unsent messages could not be saved on this device. Keep this page open until they are sent.',

  // Thread
  'thread.back': 'All conversations',
  'thread.log': 'Messages with {name}',
  'thread.loadEarlier': 'Load earlier messages',
  'thread.loadingEarlier': 'Loading…',
  'thread.loading': 'Loading messages…',
  'thread.empty': 'No messages yet. Say hello!',
  'thread.sender': '{name}:',
  'thread.senderYou': 'You:',
  'thread.sending': 'Sending…',
  'thread.waitingForLogin': 'Not sent yet: log in again',
  'thread.notSent': 'Not sent: {reason}',
  // Several of the open thread's sends refused together for the same reason: said once, with how many.
  'thread.notSentMany': '{count, plural, one {Not sent: {reason}} other {# messages not sent: {reason}}}',
  'thread.retry': 'Retry',
  'thread.discard': 'Discard',
  // Beside the composer after a Discard, with Undo, which puts the text back in the composer.
  'thread.discarded': 'Message discarded.',
  'thread.undo': 'Undo',
  // The open conversation refused for good mid-session (404: gone, a restore; 403: no longer the user's): said
  // on the composer, which takes no more messages.
  'thread.gone': 'This conversation no longer exists: nothing more can be sent or loaded in it.',
  'thread.forbidden': 'You no longer have access to this conversation: nothing more can be sent or loaded in it.',
  'thread.composerLabel': 'Message to {name}',
  'thread.composerPlaceholder': 'Write a message…',
  'thread.send': 'Send',
  'thread.tooLong': '{length, number} / {max, number} characters: too long; shorten it.',
  'thread.hint': 'Enter sends · Shift+Enter for a new line',
  'thread.hintTouch': 'Enter for a new line · Send sends',
  'thread.blank': 'Nothing to send: type a message; spaces alone are not sent.',
  'thread.unsendable':
    'This text holds an invisible character that cannot be sent (a control character, often pasted in with the text): delete it, or type that part again.',
  'thread.announceNew': 'New message from {name}: {content}',
  // More than a few at once (a replay after a reconnect): counted, not read out one after the other.
  'thread.announceMany': '{count, plural, one {# new message} other {# new messages}} from {name}',
  'thread.newBelow': '{count, plural, one {New message below} other {New messages below}}',
  'thread.seen': 'Seen',
  'thread.announceSeen': 'Your message was seen',
  // Several people may type at once: `names` is their list as the language writes one ("Bob and Carol"), `count` how
  // many they are, for the verb.
  'thread.typing': '{count, plural, one {{names} is typing…} other {{names} are typing…}}',
  // With nobody typing whom the page can name (not in the people's list): counted, not "Someone and someone".
  'thread.typingUnnamed': '{count, plural, one {Someone is typing…} other {# people are typing…}}',
  // Those typing whom the page cannot name, listed last after the names in `thread.typing`'s `names`: "Bob and
  // someone else", "Bob and 2 others".
  'thread.typingOthers': '{count, plural, one {someone else} other {# others}}',
  'presence.online': 'online',
  'presence.offline': 'offline',
  'presence.lastSeen': 'last seen {today, select, yes {at {time}} other {{day} at {time}}}',

  // Lessons
  'lessons.title': 'Lessons',
  'lessons.listStudent': 'Your lessons',
  'lessons.listTutor': 'Lessons with your students',
  'lessons.loading': 'Loading lessons…',
  'lessons.empty': 'No lessons yet.',
  'lessons.status.pending': 'pending',
  'lessons.status.confirmed': 'confirmed',
  'lessons.status.cancelled': 'cancelled',
  'lessons.status.completed': 'completed',
  'lessons.meta': 'with {name} · {when} · {minutes} min',
  'lessons.confirm': 'Confirm',
  'lessons.complete': 'Complete',
  'lessons.cancel': 'Cancel lesson',
  'lessons.cancelAsk': 'Cancel “{subject}” with {name}? This cannot be undone.',
  'lessons.cancelYes': 'Yes, cancel lesson',
  'lessons.cancelNo': 'Keep lesson',
  'lessons.completeAsk': 'Mark “{subject}” with {name} as completed? This cannot be undone.',
  'lessons.completeYes': 'Yes, mark completed',
  'lessons.completeNo': 'Not yet',
  'lessons.bookTitle': 'Book a lesson',
  'lessons.tutorGone': 'Tutor: {name} can no longer be booked here; choose another tutor.',
  'lessons.subject': 'Subject',
  'lessons.subjectBlank': 'Subject: type what the lesson is about; spaces alone are not a subject.',
  'lessons.subjectControl': 'Subject: remove the invisible control characters, often pasted in with the text.',
  'lessons.subjectTooLong': 'Subject: {length, number} characters, at most {max, number}; shorten it.',
  'lessons.when': 'Date and time',
  'lessons.whenPast': 'Date and time: choose a moment that has not passed yet.',
  'lessons.whenOutOfYears': 'Date and time: choose a moment no later than {day} at {time}.',
  'lessons.whenSkipped':
    'Date and time: the clocks go forward then, so that time does not exist on that day; choose another time.',
  'lessons.duration': 'Duration',
  'lessons.minutes': '{count, plural, one {# minute} other {# minutes}}',
  'lessons.book': 'Book lesson',
  'lessons.booking': 'Booking…',
  // A change answered NOT_FOUND: the server no longer has the lesson (a restore from an earlier copy).
  'lessons.gone': 'This lesson no longer exists; it can no longer be changed.',
  // Refused INVALID (another status than the card's), and the card could not be read again to show which.
  'lessons.notChangedUnread':
    'Not changed: this lesson had already changed, and it could not be read again to show it as it is now. Try again in a moment.',
  'lessons.changedMeanwhile': 'Not changed: this lesson had been changed meanwhile; it is shown as it is now.',
  'lessons.booked': 'Booked “{subject}”; waiting for the tutor to confirm.',

  // Contact requests
  'requests.title': 'Contact requests',
  'requests.listStudent': 'Requests you sent',
  'requests.listTutor': 'Requests from students',
  'requests.loading': 'Loading requests…',
  'requests.empty': 'No contact requests yet.',
  'requests.from': 'From {name}',
  'requests.to': 'To {name}',
  'requests.status.pending': 'pending',
  'requests.status.accepted': 'accepted',
  'requests.status.declined': 'declined',
  'requests.sent': 'Sent {when}',
  // Said on the requests page when a card's status changes: the name tells a student's several requests apart.
  'requests.statusSaid':
    'Contact request ({name}) {status, select, pending {pending} accepted {accepted} declined {declined} other {changed}}',
  'requests.accept': 'Accept',
  'requests.decline': 'Decline',
  'requests.declineAsk': 'Decline {name}’s request? This cannot be undone.',
  'requests.declineYes': 'Yes, decline',
  'requests.declineNo': 'Keep request',
  'requests.messageOther': 'Message {name}',
  'requests.messageOpening': 'Opening the conversation with {name}…',
  // "Message {name}" answered NOT_FOUND: the other person's account is gone.
  'requests.personGone': 'You can no longer write to {name} here.',
  'requests.sendTitle': 'Contact a tutor',
  'requests.message': 'Message',
  'requests.messageBlank': 'Message: write a few words to the tutor; spaces alone are not a message.',
  'requests.messageControl':
    'Message: remove the invisible control characters, often pasted in with the text; tabs and line breaks are fine.',
  'requests.messageTooLong': 'Message: {length, number} characters, at most {max, number}; shorten it.',
  'requests.placeholder': 'What would you like to learn?',
  'requests.gone': 'This request no longer exists; it can no longer be answered.',
  'requests.notChangedUnread':
    'Not changed: this request had already been answered, and it could not be read again to show it as it is now. Try again in a moment.',
  'requests.changedMeanwhile': 'Not changed: this request had been answered meanwhile; it is shown as it is now.',
  'requests.alreadyPending':
    'Tutor: your request to {name} is still waiting for an answer; you can ask again once it is answered.',
  'requests.tutorGone': 'Tutor: {name} can no longer be contacted here; choose another tutor.',
  'requests.send': 'Send request',
  'requests.sending': 'Sending…',
  'requests.done': 'Request sent.',
} as const satisfies Record<string, string>

/** Every message id; the French catalogue is typed by it. */
export type MessageId = keyof typeof en
export type Catalogue = Record<MessageId, string>
