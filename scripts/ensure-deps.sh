#!/usr/bin/env bash
# Installs what tether's tests and demo need when a fresh machine lacks it:
# PostgreSQL server binaries (Debian packages) and the npm packages of the
# jsforce conformance test. Safe to run again; does nothing when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

have_pg() {
  [ -n "${TETHER_PG_BIN:-}" ] && [ -x "$TETHER_PG_BIN/initdb" ] && return 0
  command -v initdb >/dev/null 2>&1 && return 0
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

if ! have_pg; then
  echo "ensure-deps: PostgreSQL server binaries missing; installing them with apt-get" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql postgresql-contrib >/dev/null
fi
if ! command -v psql >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql-client >/dev/null
fi

conf=upstream/salesforce/conformance
if [ -f "$conf/package.json" ]; then
  if command -v npm >/dev/null 2>&1; then
    if [ ! -d "$conf/node_modules/jsforce" ]; then
      echo "ensure-deps: installing the conformance test's npm packages" >&2
      ok=""
      for try in 1 2 3; do
        if (cd "$conf" && env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY npm ci --no-audit --no-fund --loglevel=error); then
          ok=1; break
        fi
        echo "ensure-deps: npm ci failed (try $try of 3)" >&2
        sleep $((try * 5))
      done
      [ -n "$ok" ] || { echo "ensure-deps: could not install the conformance test's npm packages" >&2; exit 1; }
    fi
  else
    echo "ensure-deps: node/npm missing; install Node 20 to run the jsforce conformance test" >&2
  fi
fi
