/**
 * The commit and time of this build. The file compiled from this one is replaced in dist/ at build time by
 * scripts/build-info.ts (run by `npm run build`); these values remain only where nothing stamped the build.
 */
export const BUILD_INFO: { readonly commit: string; readonly time: string } = {
  commit: 'unknown',
  time: 'unknown',
};
