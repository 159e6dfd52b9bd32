/** The accounts module: keys, authentication, permissions and failure limiting. */
export { generateAccessKey, hashAccessKey } from './access-keys.js';
export { AccountService, ROLES, validUsername, type AccountServiceOptions } from './account-service.js';
export { AuthLimiter, type AuthLimiterOptions, type LimitDecision } from './auth-limiter.js';
export { loadOrCreateSecret } from './server-secret.js';
