#!/usr/bin/env bash
# Builds the two Geth releases the market targets from Geth's own Go module, each into its own
# directory of a git-ignored cache, and skips a version whose binary is already there:
#   v1.11.6  the last release that mines ethash (the paper's proof of work)
#   v1.13.15 the last release that seals Clique
# Usage: scripts/geth/install.sh [--print-dir]
#   GETH_CACHE_DIR overrides .cache/geth; GO the go binary; GETH_VERSIONS="1.11.6 1.13.15" the versions.
# One line on failure: missing Go, or a failed build (its full output kept in a log file).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${GETH_CACHE_DIR:-$ROOT/.cache/geth}
read -r -a VERSIONS <<<"${GETH_VERSIONS:-1.11.6 1.13.15}"
export PATH="$PATH:/usr/local/go/bin"
GO=${GO:-go}

if [[ ${1:-} == --print-dir ]]; then
  echo "$CACHE"
  exit 0
fi

command -v "$GO" >/dev/null 2>&1 || {
  echo "error: Go is not installed ($GO not found on PATH or in /usr/local/go/bin): Geth cannot be built" >&2
  exit 1
}

# built VERSION: the cached binary exists and reports that version.
built() {
  local bin="$CACHE/v$1/geth" out
  # the output is taken whole: `geth version | grep -q` under pipefail fails when grep exits first
  [[ -x $bin ]] && out=$("$bin" version 2>/dev/null) && [[ $out == *"Version: $1-stable"* ]]
}

mkdir -p "$CACHE"
for version in "${VERSIONS[@]}"; do
  if built "$version"; then
    echo "geth $version: cached at $CACHE/v$version/geth"
    continue
  fi
  log="$CACHE/build-$version.log"
  start=$(date +%s)
  # -checklinkname=0: Go >= 1.23 refuses fjl/memsize's link to runtime.stopTheWorld
  # (go-ethereum issue 30100); memsize left Geth only in 1.14.8.
  if ! GOBIN="$CACHE/v$version" GOFLAGS=-mod=mod CGO_ENABLED=1 \
    "$GO" install -ldflags=-checklinkname=0 "github.com/ethereum/go-ethereum/cmd/geth@v$version" >"$log" 2>&1; then
    echo "error: building geth $version failed ($(tail -n 1 "$log" | sed "s/^[[:space:]]*//" | cut -c1-160)); full output: $log" >&2
    exit 1
  fi
  built "$version" || { echo "error: geth $version built but does not report version $version (see $log)" >&2; exit 1; }
  echo "geth $version: built in $(($(date +%s) - start)) s at $CACHE/v$version/geth"
done
