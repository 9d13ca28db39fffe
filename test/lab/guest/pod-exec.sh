#!/bin/sh
# pod-exec.sh DEVICE... -- COMMAND [ARG...]
# Runs COMMAND the way a container runtime runs a pod's process, as far as the
# devices go: in a private mount namespace whose /dev holds only the runtime's
# default nodes (null, zero, full, random, urandom, tty), the device nodes
# given (the DeviceSpecs of an Allocate response) and a hugetlbfs mount (a
# pod's HugePages emptyDir). Run it under `ip netns exec POD` for the pod's
# network namespace. Every DEVICE must be an existing /dev/... char device.
set -eu
devices=""
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
  case "$1" in
    /dev/*) ;;
    *) echo "pod-exec: not a /dev path: $1" >&2; exit 2 ;;
  esac
  case "$1" in
    *..*) echo "pod-exec: .. in $1" >&2; exit 2 ;;
  esac
  [ -c "$1" ] || { echo "pod-exec: not a char device: $1" >&2; exit 2; }
  devices="$devices $1:$(stat -c '%t:%T' "$1")"
  shift
done
[ "$#" -gt 1 ] || { echo "usage: pod-exec.sh DEVICE... -- COMMAND [ARG...]" >&2; exit 2; }
shift
defaults=""
for node in null zero full random urandom tty; do
  defaults="$defaults /dev/$node:$(stat -c '%t:%T' "/dev/$node")"
done

# ip netns exec already gave this process its own mount namespace (mounts made
# here stay here); unshare again so the script works without it too.
exec unshare -m sh -c '
  set -eu
  mount --make-rprivate / 2>/dev/null || true
  mount -t tmpfs -o mode=0755,size=64k pod-dev /dev
  for entry in $0; do
    node=${entry%%:*}; numbers=${entry#*:}
    mkdir -p "$(dirname "$node")"
    mknod -m 0666 "$node" c "$((0x${numbers%%:*}))" "$((0x${numbers#*:}))"
  done
  mkdir -p /dev/hugepages /dev/shm /dev/pts
  mount -t hugetlbfs -o pagesize=2M pod-hugepages /dev/hugepages
  mount -t tmpfs -o mode=1777 pod-shm /dev/shm
  exec "$@"
' "$defaults $devices" "$@"
