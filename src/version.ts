/** The product version, shared by both programs (kept in step with package.json by a test). */
export const VERSION = '0.1.0';
export const GIT_COMMIT = process.env['SLUICE_GIT_COMMIT'] ?? 'unknown';
