import { createSlice } from '@reduxjs/toolkit'
import { loggedIn, loggedOut, tokenRefreshed } from '../api/session'
import type { User } from '../contract'

export { loggedIn, loggedOut, tokenRefreshed }

export interface AuthState {
  token: string | null
  user: User | null
}

const initialState: AuthState = { token: null, user: null }

/**
 * Who is logged in. `auth/loggedIn` connects the socket by itself, `auth/loggedOut` ends everything of that user.
 * The actions are defined in `src/api/session.ts` (the api dispatches them and the realtime layer, which must not
 * import the app, is told about them through its options); this slice only reduces them.
 *
 * @example store.dispatch(loggedIn({ token, user })); selectUser(store.getState())
 */
export const authSlice = createSlice({
  name: 'auth',
  initialState,
  reducers: {},
  extraReducers: (builder) => {
    builder
      .addCase(loggedIn, (_state, action) => ({ token: action.payload.token, user: action.payload.user }))
      .addCase(tokenRefreshed, (state, action) => {
        state.token = action.payload.token
        if (action.payload.user) state.user = action.payload.user
      })
      .addCase(loggedOut, () => initialState)
  },
  selectors: {
    selectToken: (state) => state.token,
    selectUser: (state) => state.user,
  },
})

export const { selectToken, selectUser } = authSlice.selectors
