/**
 * The HTTP semantics suite again with `sc-server --proxy-splice false`: each request on its own tunnel stream,
 * parsed by the server (the path shared tunnels and upgrades always take).
 */
process.env['SLUICE_TEST_PROXY_SPLICE'] = 'false';
await import('./http-semantics.test.js');
