/** `sc version` and the local API's /version: the same text and fields as `sc-server version`. */
export { versionInfo, versionText } from '../../version.js';
