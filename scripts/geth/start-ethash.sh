#!/usr/bin/env bash
# Two-node private proof-of-work (ethash) chain, chain id 20190, for Geth 1.11.6: the last
# release that still mines. Node 1 mines and serves JSON-RPC on 127.0.0.1:8545 (eth, net, web3
# only); node 2 is a plain peer. No account is unlocked: every transaction is signed by the
# client (OPERATOR_PRIVATE_KEY or keystore in .env), and mining rewards need no key.
#
#   OPERATOR_ADDRESS=0x... scripts/geth/start-ethash.sh
#
# Environment: OPERATOR_ADDRESS (required: funded in genesis, receives mining rewards),
# GETH (binary, default geth), BASE_DIR (data, default ~/.grid-ledger/geth-ethash), HTTP_PORT (8545),
# MINER_GAS_PRICE_WEI (--miner.gasprice, default 1 gwei).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
source "$HERE/common.sh"

BASE=${BASE_DIR:-$HOME/.grid-ledger/geth-ethash}
NETWORK_ID=20190

require_geth_version 1.11
require_operator_address
mkdir -p "$BASE"

if [[ ! -f $BASE/genesis.json ]]; then
  render_genesis "$HERE/genesis-ethash.json" "$BASE/genesis.json"
fi
init_node "$BASE/node1" "$BASE/genesis.json"
init_node "$BASE/node2" "$BASE/genesis.json"

# Node 1: miner and RPC endpoint. The first blocks wait for the ethash DAG (about 1 GB, a few
# minutes); it is kept in --ethash.dagdir for later runs.
start_node "$BASE/node1.log" \
  --datadir "$BASE/node1" --networkid "$NETWORK_ID" --syncmode full \
  --port 30303 --nodiscover --authrpc.port 8551 \
  --http --http.addr 127.0.0.1 --http.port "$HTTP_PORT" --http.api eth,net,web3 \
  --mine --miner.threads 1 --miner.etherbase "$OPERATOR_ADDRESS" \
  --miner.gasprice "$MINER_GAS_PRICE_WEI" --ethash.dagdir "$BASE/ethash"
wait_for_ipc "$BASE/node1/geth.ipc"

# Node 2: a full peer without RPC over HTTP (IPC only), on its own ports.
start_node "$BASE/node2.log" \
  --datadir "$BASE/node2" --networkid "$NETWORK_ID" --syncmode full \
  --port 30304 --nodiscover --authrpc.port 8552
wait_for_ipc "$BASE/node2/geth.ipc"
connect_peer "$BASE/node1/geth.ipc" "$BASE/node2/geth.ipc"

echo "chain 20190 (ethash) at http://127.0.0.1:$HTTP_PORT; Ctrl-C stops both nodes"
wait
