export * from './check'
export * from './entities'
export * from './errors'
export * from './events'
export * from './limits'
export * from './schemas'
export * from './serverEvents'
export * from './transitions'
// What the server accepts (`./requests`, valibot) is imported from there by the server alone.
