/**
 * Generators of bad command lines and config files: `sc run` flags of each type given values no parser may
 * accept, unknown and misspelt flags, broken YAML config files (syntax errors, wrong types, an alias bomb), and
 * `sc-server start` flags likewise. Every generated input is invalid for sure, so the only right outcome is exit
 * 2 with a message naming the culprit. Addresses are loopback or unparsable, never a name to resolve.
 */
import fc from 'fast-check';
import { RUN_FLAGS } from '../../src/options/run-flags.js';
import type { FlagDef } from '../../src/options/flag.js';

const badInt = fc.constantFrom('abc', '1.5', '', '0x10', '--', '99999999999999999999', '٣', '1 2');
const badDuration = fc.constantFrom('abc', '-5s', '5', '1x', '', 's', '1h-1m', '∞', '5 s');
const badBool = fc.constantFrom('maybe', '2', 'yes please', '', 'TRUE!', 'null');

/** A flag whose bad value is certain from its type alone. */
const typed = RUN_FLAGS.filter(
  (f) =>
    !f.hidden &&
    !f.unsupported &&
    (f.type === 'int' || f.type === 'duration' || (f.type === 'string' && f.values)),
);
const bools = RUN_FLAGS.filter((f) => !f.hidden && !f.unsupported && f.type === 'bool');

function badValue(f: FlagDef): fc.Arbitrary<string> {
  if (f.type === 'int') return badInt;
  if (f.type === 'duration') return badDuration;
  return fc.stringMatching(/^[a-z0-9-]{0,12}$/).filter((v) => !f.values!.includes(v));
}

export interface BadArgv {
  args: string[];
  /** A word the error message must contain (the flag's name). */
  names: string;
  label: string;
}

const withLabel = (b: Omit<BadArgv, 'label'>): BadArgv => {
  const label = b.args.join(' ').slice(0, 300);
  return { ...b, label, [fc.toStringMethod]: () => JSON.stringify(label) } as BadArgv;
};

export const scBadArgv: fc.Arbitrary<BadArgv> = fc.oneof(
  fc
    .constantFrom(...typed)
    .chain((f) => fc.tuple(fc.constant(f), badValue(f), fc.boolean()))
    .map(([f, v, eq]) => withLabel({ args: eq ? [`--${f.name}=${v}`] : [`--${f.name}`, v], names: f.name })),
  fc
    .tuple(fc.constantFrom(...bools), badBool)
    .map(([f, v]) => withLabel({ args: [`--${f.name}=${v}`], names: f.name })),
  fc
    .constantFrom('--no-such-flag', '--usernam', '--tunnel-nme', '---x', '--proxy-localhost-x', '--Region')
    .map((flag) => withLabel({ args: [flag, 'x'], names: flag.replace(/^-+/, '').split('=')[0]! })),
);

/**
 * sc YAML config files that are invalid for sure, and the word the error must name (the file, or its key).
 * `whole` files are broken as a whole; the others are one bad key, to be added to an otherwise valid file.
 */
export const scBadConfig: fc.Arbitrary<{ yaml: string; names: string; label: string; whole: boolean }> = fc
  .oneof(
    fc.constantFrom(
      { yaml: 'region: [unclosed\n', names: 'config' },
      { yaml: 'region:\n  - a\n - b\n', names: 'config' },
      { yaml: '\t- tab\n', names: 'config' },
      { yaml: '- just\n- a list\n', names: 'config' },
      { yaml: '"just a string"\n', names: 'config' },
      {
        yaml: 'a: &a [1,2,3,4,5,6,7,8,9]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n',
        names: 'config',
      },
      { yaml: 'region: !!binary AAAA\n', names: 'region' },
      { yaml: `${'['.repeat(3000)}${']'.repeat(3000)}\n`, names: 'config' },
      { yaml: 'key: "\\xZZ"\n', names: 'config' },
    ),
    fc
      .constantFrom(...typed)
      .chain((f) => fc.tuple(fc.constant(f), badValue(f)))
      .map(([f, v]) => ({ yaml: `${f.name}: ${JSON.stringify(v)}\n`, names: f.name })),
    fc.constantFrom(...typed).map((f) => ({ yaml: `${f.name}:\n  nested: {a: 1}\n`, names: f.name })),
    fc.constantFrom('no-such-key', 'usernam', 'Region').map((k) => ({ yaml: `${k}: x\n`, names: k })),
  )
  .map((c) => {
    const label = c.yaml.slice(0, 200);
    const whole = c.names === 'config';
    return { ...c, whole, label, [fc.toStringMethod]: () => JSON.stringify(label) };
  });

const serverDuration = [
  '--tunnel-keepalive-interval',
  '--tunnel-keepalive-timeout',
  '--tunnel-grace',
  '--queue-timeout',
];
const serverAddress = ['--rest-address', '--edge-address', '--proxy-address'];

export const serverBadArgv: fc.Arbitrary<BadArgv> = fc.oneof(
  fc
    .tuple(fc.constantFrom(...serverDuration), badDuration)
    .map(([f, v]) => withLabel({ args: [f, v], names: f.slice(2) })),
  fc
    .tuple(
      fc.constantFrom(...serverAddress),
      fc.constantFrom(
        '127.0.0.1:99999',
        '127.0.0.1:-1',
        '127.0.0.1',
        ':',
        '[::1',
        '127.0.0.1:abc',
        '',
        '1.2.3.4.5:80',
      ),
    )
    .map(([f, v]) => withLabel({ args: [f, v], names: f.slice(2) })),
  fc
    .tuple(
      fc.constantFrom('--max-header-size'),
      fc.constantFrom('abc', '1', '1023', '1048577', '-5', '', '1e4'),
    )
    .map(([f, v]) => withLabel({ args: [f, v], names: f.slice(2) })),
  fc
    .tuple(
      fc.constantFrom('--log-level', '--log-format', '--proxy-splice'),
      fc.constantFrom('', 'x', 'TRUE', 'debug2'),
    )
    .map(([f, v]) => withLabel({ args: [f, v], names: f.slice(2) })),
  fc
    .tuple(fc.constantFrom('--public-host'), fc.constantFrom('', 'a b', 'x/y', 'ä', 'a'.repeat(300)))
    .map(([f, v]) => withLabel({ args: [f, v], names: f.slice(2) })),
  fc
    .constantFrom('--no-such-flag', '--data-dirr', '-x')
    .map((flag) => withLabel({ args: [flag, 'x'], names: flag.replace(/^-+/, '') })),
);
