#!/usr/bin/env bash
# Two-node private proof-of-authority (Clique) chain, chain id 20191, for Geth 1.13.x
# (1.13.15 at most: later releases cannot produce pre-merge blocks). Node 1 seals a block every
# 5 s and serves JSON-RPC on 127.0.0.1:8545 (eth, net, web3 only); node 2 is a plain peer.
#
#   OPERATOR_ADDRESS=0x... scripts/geth/start-clique.sh
#
# The one node-side unlocked key is the sealer's own: Clique signs every block header with it,
# so geth must hold it unlocked (--unlock, and --allow-insecure-unlock because HTTP is on).
# The script creates that key on first run with a random password kept beside it; the sealer is
# never funded (Clique pays fees to the zero address), so the unlocked key controls no ether.
# All market transactions are signed by the client (.env), never by the node.
#
# Environment: OPERATOR_ADDRESS (required: funded in genesis), GETH (binary, default geth),
# BASE_DIR (data, default ~/.grid-ledger/geth-clique), HTTP_PORT (8545), MINER_GAS_PRICE_WEI (1 gwei).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
source "$HERE/common.sh"

BASE=${BASE_DIR:-$HOME/.grid-ledger/geth-clique}
NETWORK_ID=20191

# create_sealer: a fresh key in node 1's keystore, its password file and address file.
create_sealer() {
  (umask 077 && head -c 32 /dev/urandom | base64 >"$BASE/sealer.password")
  "$GETH" account new --datadir "$BASE/node1" --password "$BASE/sealer.password" |
    grep -o '0x[0-9a-fA-F]\{40\}' | head -n 1 >"$BASE/sealer.address"
  [[ -s $BASE/sealer.address ]] || die "could not create the sealer account"
}

require_geth_version 1.13
require_operator_address
mkdir -p "$BASE"

if [[ ! -f $BASE/genesis.json ]]; then
  create_sealer
  render_genesis "$HERE/genesis-clique.json" "$BASE/genesis.json" "$(cat "$BASE/sealer.address")"
fi
SEALER=$(cat "$BASE/sealer.address")
# Node 1 seals and serves RPC; node 2 is a plain peer.
start_two_nodes "$BASE/genesis.json" \
  --mine --miner.etherbase "$SEALER" \
  --unlock "$SEALER" --password "$BASE/sealer.password" --allow-insecure-unlock

echo "chain 20191 (clique, sealer $SEALER) at http://127.0.0.1:$HTTP_PORT; Ctrl-C stops both nodes"
wait
