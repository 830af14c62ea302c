import { useDispatch, useSelector, useStore } from 'react-redux'
import type { AppDispatch, AppStore, RootState } from './store'

/** `useDispatch` typed with the store's thunks and the socket middleware's extension. */
export const useAppDispatch = useDispatch.withTypes<AppDispatch>()
/** `useSelector` typed with `RootState`. */
export const useAppSelector = useSelector.withTypes<RootState>()
export const useAppStore = useStore.withTypes<AppStore>()
