#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks use. Safe to run again; skips what is present.
# Usage: scripts/setup-debian.sh [--bench]
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have curl || need+=(curl)
have promtool || need+=(prometheus)
# The packaging test checks the systemd units with systemd-analyze verify.
have systemd-analyze || need+=(systemd)
# Container images (npm run build:images) and their test: podman, with runc as its runtime.
have podman || need+=(podman)
have runc || need+=(runc)
# WebDriver gateway browser tests (test/browser/): Debian's Chromium and its chromedriver, and ip for netns.
have chromium || need+=(chromium)
have chromedriver || need+=(chromium-driver)
have ip || need+=(iproute2)
# Upstream proxy tests (test/integration/upstream/): squid and tinyproxy as HTTP proxies, dante as SOCKS5 proxy.
have squid || [ -x /usr/sbin/squid ] || need+=(squid)
have tinyproxy || need+=(tinyproxy-bin)
have danted || [ -x /usr/sbin/danted ] || need+=(dante-server)
# PostgreSQL store tests (test/integration/store/, test/kit/postgres.ts): Debian's server binaries; the kit runs
# initdb and pg_ctl itself on a temp dir, so the package's own cluster is not needed.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
# Kerberos tests (test/integration/kerberos/): an MIT KDC with a throwaway realm (krb5kdc, kdb5_util,
# kadmin.local), kinit/klist, and the headers the optional `kerberos` npm package compiles against (needed before
# `npm ci`). Squid's Negotiate helper /usr/lib/squid/negotiate_kerberos_auth ships with the squid package.
have krb5kdc || [ -x /usr/sbin/krb5kdc ] || need+=(krb5-kdc)
have kadmin.local || [ -x /usr/sbin/kadmin.local ] || need+=(krb5-admin-server)
have kinit || need+=(krb5-user)
[ -f /usr/include/gssapi/gssapi.h ] || need+=(libkrb5-dev)
if [ "${1:-}" = "--bench" ]; then
  have sshd || [ -x /usr/sbin/sshd ] || need+=(openssh-server)
  have ssh || need+=(openssh-client)
  have wrk || need+=(wrk)
  have tc || need+=(iproute2)
  # The 20 ms RTT workload's delay line on kernels without netem (bench/harness/delayline.py).
  have python3 || need+=(python3)
fi
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != "0" ]; then
  echo "setup-debian: missing ${need[*]}; run as root or install them yourself" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
