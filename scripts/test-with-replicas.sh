#!/usr/bin/env bash
# Runs the test suites with read replicas configured: a throwaway primary + 2 streaming replicas
# (`bazaar stack db --replicas 2 --fast`) in a temporary folder, its environment exported
# (DATABASE_URL, DATABASE_REPLICA_URLS; test/support/engines.ts then gives every test database
# its replica URLs), then `npm test`, or `node --test` on the files given; the stack is stopped
# and removed whatever happens. Needs PostgreSQL's server programs (installed when root).
#
#   scripts/test-with-replicas.sh                      # every suite (heavy: run it alone)
#   scripts/test-with-replicas.sh test/catalog.test.ts test/cart.test.ts
#
# BASE_PORT (default 29450) is the primary's port; the replicas take the next two.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

BASE_PORT="${BASE_PORT:-29450}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/bazaar-test-replicas-XXXXXX")"
chmod 755 "$WORK" # the postgres user must reach the stack's folder when we are root
STACK="$WORK/stack"
cleanup() {
  node src/apps/cli.ts stack db stop --dir "$STACK" --remove >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "test-with-replicas: building a primary and 2 replicas on ports $BASE_PORT-$((BASE_PORT + 2))"
ENV_LINES="$(node src/apps/cli.ts stack db --replicas 2 --fast --dir "$STACK" --base-port "$BASE_PORT" | grep '^export ')"
eval "$ENV_LINES"
echo "$ENV_LINES" | sed 's/^/test-with-replicas: /'
export DATABASE_URL DATABASE_REPLICA_URLS
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"

if [ "$#" -gt 0 ]; then
  node --test --test-concurrency=2 "$@"
else
  npm test
fi
