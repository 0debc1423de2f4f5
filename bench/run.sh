#!/usr/bin/env bash
# Runs the benches against dist/mailroom: bench/http.ts (auth path, start-up, memory; args go to it),
# bench/broadcasts.ts (fan-out of 100k recipients, statistics), bench/broadcast-delivery.ts (a broadcast
# to a sink vs raw nodemailer, transactionals during it), bench/delivery.ts (the send path: accept,
# delivery, lanes, whoami under delivery, RSS), bench/webhooks.ts (dispatch, events feed,
# reputation), bench/inbound.ts (DSNs to the inbound bounce listener, whoami during them),
# bench/sequences.ts (100k enrollments due in one minute through the scheduler) and
# bench/forms.ts (hosted form submissions).
#   bash bench/run.sh                 full run (~15 min)
#   bash bench/run.sh --seconds 3 --cold-runs 3   quicker HTTP part
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bench: installing wrk" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
  else
    echo "bench: wrk is required (apt-get install wrk)" >&2
    exit 1
  fi
fi
if [ ! -x "${MAILROOM_BIN:-dist/mailroom}" ]; then
  echo "bench: building dist/mailroom" >&2
  bun run build
fi
bun bench/http.ts "$@"
bun bench/broadcasts.ts
bun bench/broadcast-delivery.ts
bun bench/delivery.ts
bun bench/webhooks.ts
bun bench/inbound.ts
bun bench/sequences.ts
exec bun bench/forms.ts
