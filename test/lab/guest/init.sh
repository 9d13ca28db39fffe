#!/bin/sh
# /init of the lab guest (run by dash; busybox provides the other tools).
# Mounts the basics and the two 9p shares, loads the module set, runs the job
# the host wrote into the results share, and powers off. Lines starting with
# "ACCELNET-LAB:" on the serial console are how the host follows progress
# when the results share cannot be read.
export PATH=/usr/sbin:/usr/bin HOME=/root TMPDIR=/tmp LANG=C.UTF-8

mark() { echo "ACCELNET-LAB: $*" > /dev/console; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mkdir -p /run/netns
exec < /dev/console > /dev/console 2>&1

release=$(uname -r)
while read -r module; do
  insmod "/lib/modules/$release/$module" || mark "MODULE-FAILED $module"
done < "/lib/modules/$release/accelnet-load-order"

mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=loose,ro repo /repo || mark "MOUNT-FAILED repo"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 results /results || mark "MOUNT-FAILED results"
ip link set lo up

mark "BOOTED $(cut -d' ' -f1 /proc/uptime)"
if [ -r /results/job.sh ]; then
  { dash /results/job.sh; echo $? > /tmp/job-exit; } 2>&1 | tee /results/guest.log
  code=$(cat /tmp/job-exit)
else
  echo "no /results/job.sh"
  code=125
fi
echo "$code" > /results/exit-code
sync
mark "EXIT $code $(cut -d' ' -f1 /proc/uptime)"
poweroff -f
