import { fetchBaseQuery } from '@reduxjs/toolkit/query'

/**
 * The reference server's HTTP API for a bench client that is not the layer (the floor, the peer): `fetchBaseQuery`
 * under `${apiUrl}/api/`, every request with the user's bearer token.
 *
 * @example createApi({ reducerPath: 'api', baseQuery: bearerBaseQuery(url, token), endpoints })
 */
export function bearerBaseQuery(apiUrl: string, token: string) {
  return fetchBaseQuery({
    baseUrl: `${apiUrl}/api/`,
    prepareHeaders: (headers) => {
      headers.set('authorization', `Bearer ${token}`)
      return headers
    },
  })
}
