/** Process exit codes of `sc`. Documented in docs/errors.md; scripts depend on them. */
export const ExitCode = {
  /** Clean stop (signal, tunnel deleted or replaced on the server). */
  OK: 0,
  /** Unexpected internal failure. */
  INTERNAL: 1,
  /** Invalid flags, env vars or config file. */
  CONFIG: 2,
  /** The server refused the credentials (401/403), or the Kerberos credentials do not work at start. */
  AUTH: 3,
  /** The server could not be reached (network, DNS, TLS) within the retry budget. */
  UNREACHABLE: 4,
  /** The server refused to create the tunnel for another reason (quota, role, bad request). */
  REFUSED: 5,
  /** `sc doctor`: at least one check failed (docs/doctor.md). */
  CHECK_FAILED: 6,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];
