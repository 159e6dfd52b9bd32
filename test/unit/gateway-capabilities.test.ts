/** What the gateway reads from a new-session request and what it sends upstream (src/server/gateway/capabilities.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNewSession, upstreamNewSession } from '../../src/server/gateway/capabilities.js';
import { WebDriverError } from '../../src/server/gateway/w3c.js';

const inject = { proxy: 'gw.example:41000', spkis: ['AAAA', 'BBBB'] };
const invalid = (message: RegExp) => (err: unknown) =>
  err instanceof WebDriverError && err.error === 'invalid argument' && message.test(err.message);

describe('parseNewSession', () => {
  it('reads credentials and the tunnel from sauce:options, with the SC5 aliases, and strips them everywhere', () => {
    const r = parseNewSession({
      capabilities: {
        alwaysMatch: { browserName: 'chrome' },
        firstMatch: [
          {
            'sauce:options': {
              username: 'bob',
              accessKey: 'k',
              tunnelIdentifier: 'ci-1',
              parentTunnel: 'alice',
              name: 'a test',
            },
          },
          { 'sauce:options': { tunnelName: 'other' } },
        ],
      },
    });
    assert.deepEqual(r.sauce, { username: 'bob', accessKey: 'k', tunnelName: 'ci-1', tunnelOwner: 'alice' });
    assert.deepEqual(r.alwaysMatch, { browserName: 'chrome' });
    assert.deepEqual(r.firstMatch, [{}, {}]);
  });

  it('alwaysMatch wins; a missing firstMatch is [{}]', () => {
    const r = parseNewSession({ capabilities: { alwaysMatch: { 'sauce:options': { tunnelName: 'x' } } } });
    assert.equal(r.sauce.tunnelName, 'x');
    assert.equal(r.sauce.username, null);
    assert.deepEqual(r.firstMatch, [{}]);
  });

  it('refuses malformed requests with invalid argument', () => {
    assert.throws(() => parseNewSession([]), invalid(/JSON object/));
    assert.throws(() => parseNewSession({ desiredCapabilities: {} }), invalid(/expected \{"capabilities"/));
    assert.throws(() => parseNewSession({ capabilities: { alwaysMatch: [] } }), invalid(/alwaysMatch/));
    assert.throws(() => parseNewSession({ capabilities: { firstMatch: [1] } }), invalid(/firstMatch/));
    assert.throws(
      () => parseNewSession({ capabilities: { alwaysMatch: { 'sauce:options': 'x' } } }),
      invalid(/sauce:options must be an object/),
    );
    assert.throws(
      () => parseNewSession({ capabilities: { alwaysMatch: { 'sauce:options': { tunnelOwner: ['a'] } } } }),
      invalid(/tunnelOwner must be a user name/),
    );
  });
});

describe('upstreamNewSession', () => {
  it('without a tunnel adds nothing (no proxy, no arguments)', () => {
    const req = parseNewSession({
      capabilities: {
        alwaysMatch: { browserName: 'chrome', 'sauce:options': { username: 'a', accessKey: 'k' } },
      },
    });
    assert.deepEqual(upstreamNewSession(req, null), {
      capabilities: { alwaysMatch: { browserName: 'chrome' }, firstMatch: [{}] },
    });
  });

  it('with a tunnel: the proxy capability and Chrome arguments, after the user own arguments', () => {
    const req = parseNewSession({
      capabilities: {
        alwaysMatch: {
          browserName: 'chrome',
          'goog:chromeOptions': { args: ['--headless'], binary: '/usr/bin/chromium' },
          'sauce:options': { tunnelName: 't' },
        },
      },
    });
    const out = upstreamNewSession(req, inject) as { capabilities: { alwaysMatch: Record<string, unknown> } };
    assert.deepEqual(out.capabilities.alwaysMatch, {
      browserName: 'chrome',
      proxy: { proxyType: 'manual', httpProxy: 'gw.example:41000', sslProxy: 'gw.example:41000' },
      'goog:chromeOptions': {
        binary: '/usr/bin/chromium',
        args: [
          '--headless',
          '--proxy-bypass-list=<-loopback>',
          '--ignore-certificate-errors-spki-list=AAAA,BBBB',
        ],
      },
    });
  });

  it('puts Chromium arguments where the options are (firstMatch, Edge) and Chrome options in alwaysMatch otherwise', () => {
    const req = parseNewSession({
      capabilities: {
        alwaysMatch: { 'sauce:options': { tunnelName: 't' } },
        firstMatch: [{ 'goog:chromeOptions': {} }, { 'ms:edgeOptions': { args: ['--x'] } }],
      },
    });
    const out = upstreamNewSession(req, inject) as {
      capabilities: {
        alwaysMatch: Record<string, unknown>;
        firstMatch: Record<string, { args: string[] }>[];
      };
    };
    assert.equal(out.capabilities.alwaysMatch['goog:chromeOptions'], undefined);
    assert.equal(
      out.capabilities.firstMatch[0]!['goog:chromeOptions']!.args[0],
      '--proxy-bypass-list=<-loopback>',
    );
    assert.deepEqual(out.capabilities.firstMatch[1]!['ms:edgeOptions']!.args.slice(0, 2), [
      '--x',
      '--proxy-bypass-list=<-loopback>',
    ]);
    const bare = upstreamNewSession(
      parseNewSession({ capabilities: { alwaysMatch: { 'sauce:options': { tunnelName: 't' } } } }),
      {
        proxy: 'h:1',
        spkis: [],
      },
    ) as { capabilities: { alwaysMatch: Record<string, unknown> } };
    assert.deepEqual(bare.capabilities.alwaysMatch['goog:chromeOptions'], {
      args: ['--proxy-bypass-list=<-loopback>'],
    });
  });

  it('lets Firefox proxy localhost', () => {
    const req = parseNewSession({
      capabilities: { alwaysMatch: { browserName: 'firefox', 'sauce:options': { tunnelName: 't' } } },
    });
    const out = upstreamNewSession(req, inject) as { capabilities: { alwaysMatch: Record<string, unknown> } };
    assert.deepEqual(out.capabilities.alwaysMatch['moz:firefoxOptions'], {
      prefs: { 'network.proxy.allow_hijacking_localhost': true },
    });
  });

  it('refuses a proxy of the user own next to a tunnel', () => {
    const withProxy = parseNewSession({
      capabilities: { alwaysMatch: { proxy: { proxyType: 'direct' }, 'sauce:options': { tunnelName: 't' } } },
    });
    assert.throws(
      () => upstreamNewSession(withProxy, inject),
      invalid(/proxy capability cannot be combined/),
    );
    const withArg = parseNewSession({
      capabilities: {
        alwaysMatch: {
          'goog:chromeOptions': { args: ['--proxy-server=x:1'] },
          'sauce:options': { tunnelName: 't' },
        },
      },
    });
    assert.throws(() => upstreamNewSession(withArg, inject), invalid(/--proxy-server conflicts/));
    // Without a tunnel the user's own proxy is theirs to set.
    assert.doesNotThrow(() => upstreamNewSession(withProxy, null));
  });
});
