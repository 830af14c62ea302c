// The instants the database takes from `toISOString()`: only those with a four-digit year. Before year 1 and after
// 9999 the ISO form takes a sign (`-000001-…`, `+010000-…`), which it refuses (data exception 22009).
export const FIRST_DATE_MS = Date.parse('0001-01-01T00:00:00.000Z')
export const LAST_DATE_MS = Date.parse('9999-12-31T23:59:59.999Z')
