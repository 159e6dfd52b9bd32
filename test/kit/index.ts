/**
 * The test kit: real sc-server and sc processes on loopback port 0, private-side apps, and helpers that talk to
 * the proxy entry like a browser. Call `after(cleanup)` in every test file that uses it.
 */
export * from './cleanup.js';
export * from './client.js';
export * from './origins.js';
export * from './process.js';
export * from './proxy.js';
export * from './rest.js';
export * from './server.js';
export * from './test-ca.js';
export * from './websocket.js';
export * from './faulty-relay.js';
export * from './streaming.js';
export * from './dns.js';
export * from './postgres.js';
export * from './cluster.js';
export * from './inspector.js';
export * from './doctor.js';
export * from './legacy.js';
export * from './silent-port.js';
export * from './kdc.js';
export * from './resign.js';
export * from './daemon.js';
