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
# Node 1 mines and serves RPC; node 2 is a plain peer. The first blocks wait for the ethash DAG
# (about 1 GB, a few minutes); it is kept in --ethash.dagdir for later runs.
start_two_nodes "$BASE/genesis.json" \
  --mine --miner.threads 1 --miner.etherbase "$OPERATOR_ADDRESS" --ethash.dagdir "$BASE/ethash"

echo "chain 20190 (ethash) at http://127.0.0.1:$HTTP_PORT; Ctrl-C stops both nodes"
wait
