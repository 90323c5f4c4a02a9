# Shared steps of start-ethash.sh and start-clique.sh; sourced, not run.
# shellcheck shell=bash

GETH=${GETH:-geth}
HTTP_PORT=${HTTP_PORT:-8545}
# --miner.gasprice in wei: the node refuses remote transactions paying a lower (tip) price.
# Keep PRIVNET_GAS_PRICE_GWEI in .env at or above it.
MINER_GAS_PRICE_WEI=${MINER_GAS_PRICE_WEI:-1000000000}

die() {
  echo "error: $*" >&2
  exit 1
}

# require_geth_version 1.11 -> the geth binary must be a 1.11.x release.
require_geth_version() {
  command -v "$GETH" >/dev/null || die "geth not found (set GETH=/path/to/geth)"
  local version
  version=$("$GETH" version | awk '/^Version:/ { print $2 }')
  [[ $version == "$1".* ]] || die "this chain needs Geth $1.x, found ${version:-unknown} ($GETH)"
}

require_operator_address() {
  [[ ${OPERATOR_ADDRESS:-} =~ ^0x[0-9a-fA-F]{40}$ ]] ||
    die "set OPERATOR_ADDRESS to the 0x address of the operator account to fund in genesis"
}

# render_genesis TEMPLATE OUT [SEALER]: the template plus 1,000,000 ether for OPERATOR_ADDRESS in
# alloc and, for Clique, the sealer in extraData (32 vanity bytes, signer, 65 signature bytes).
render_genesis() {
  node -e '
    const fs = require("fs");
    const [template, out, operator, sealer] = process.argv.slice(1);
    const genesis = JSON.parse(fs.readFileSync(template, "utf8"));
    genesis.alloc[operator.toLowerCase()] = { balance: "0xd3c21bcecceda1000000" };
    if (sealer) genesis.extraData = "0x" + "00".repeat(32) + sealer.slice(2).toLowerCase() + "00".repeat(65);
    fs.writeFileSync(out, JSON.stringify(genesis, null, 2) + "\n");
  ' "$1" "$2" "$OPERATOR_ADDRESS" "${3:-}"
}

# init_node DATADIR GENESIS: once; later runs reuse the chain (delete BASE_DIR to start over).
init_node() {
  [[ -d $1/geth/chaindata ]] || "$GETH" --datadir "$1" init "$2"
}

wait_for_ipc() {
  local attempt
  for attempt in $(seq 1 60); do
    [[ -S $1 ]] && return 0
    sleep 0.5
  done
  die "no IPC endpoint at $1 after ${attempt} tries: see the node's log"
}

# connect_peer NODE1_IPC NODE2_IPC: node 2 dials node 1 (discovery is off on both).
connect_peer() {
  local enode
  enode=$("$GETH" attach --exec admin.nodeInfo.enode "$1" | tr -d '"')
  [[ $enode == enode://* ]] || die "could not read node 1's enode (got: $enode)"
  "$GETH" attach --exec "admin.addPeer('$enode')" "$2" >/dev/null
  echo "node 2 peered with $enode"
}

# start_node LOG GETH_ARGS...: runs geth in the background; every node started is stopped when
# the calling script exits (Ctrl-C included).
NODE_PIDS=()
start_node() {
  local log=$1
  shift
  "$GETH" "$@" >"$log" 2>&1 &
  NODE_PIDS+=("$!")
  echo "started geth (pid $!), log: $log"
}

# start_two_nodes GENESIS NODE1_ARGS...: initializes both data directories once, starts node 1
# (the RPC endpoint) with the shared flags plus NODE1_ARGS (mining or sealing), then node 2, a
# full peer with IPC only on its own ports, and peers them. Uses BASE, NETWORK_ID and HTTP_PORT.
start_two_nodes() {
  local genesis=$1
  shift
  init_node "$BASE/node1" "$genesis"
  init_node "$BASE/node2" "$genesis"
  start_node "$BASE/node1.log" \
    --datadir "$BASE/node1" --networkid "$NETWORK_ID" --syncmode full \
    --port 30303 --nodiscover --authrpc.port 8551 \
    --http --http.addr 127.0.0.1 --http.port "$HTTP_PORT" --http.api eth,net,web3 \
    --miner.gasprice "$MINER_GAS_PRICE_WEI" "$@"
  wait_for_ipc "$BASE/node1/geth.ipc"
  start_node "$BASE/node2.log" \
    --datadir "$BASE/node2" --networkid "$NETWORK_ID" --syncmode full \
    --port 30304 --nodiscover --authrpc.port 8552
  wait_for_ipc "$BASE/node2/geth.ipc"
  connect_peer "$BASE/node1/geth.ipc" "$BASE/node2/geth.ipc"
}

stop_nodes() {
  ((${#NODE_PIDS[@]} == 0)) || kill "${NODE_PIDS[@]}" 2>/dev/null || true
  wait
}
trap stop_nodes EXIT
trap 'exit 130' INT TERM
