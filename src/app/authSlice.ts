import { createSlice, type PayloadAction } from '@reduxjs/toolkit'
import type { User } from '../contract'

export interface AuthState {
  token: string | null
  user: User | null
}

const initialState: AuthState = { token: null, user: null }

/**
 * Who is logged in. `auth/loggedIn` connects the socket by itself, `auth/loggedOut` ends everything of that user
 * (the realtime middleware is told these action creators through its options; it does not import the app).
 */
export const authSlice = createSlice({
  name: 'auth',
  initialState,
  reducers: {
    loggedIn: (_state, action: PayloadAction<{ token: string; user: User }>) => ({
      token: action.payload.token,
      user: action.payload.user,
    }),
    tokenRefreshed: (state, action: PayloadAction<{ token: string; user?: User }>) => {
      state.token = action.payload.token
      if (action.payload.user) state.user = action.payload.user
    },
    loggedOut: () => initialState,
  },
  selectors: {
    selectToken: (state) => state.token,
    selectUser: (state) => state.user,
  },
})

export const { loggedIn, tokenRefreshed, loggedOut } = authSlice.actions
export const { selectToken, selectUser } = authSlice.selectors
