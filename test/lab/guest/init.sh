#!/bin/sh
# /init of the lab guest (run by dash; busybox provides the other tools).
# Mounts the basics and the two 9p shares, loads the module set, runs the job
# the host wrote into the results share, and powers off. The job's exit code
# in the share is how the host knows it finished; "ACCELNET-LAB:" lines on the
# serial console are the fallback when the share has nothing.
export PATH=/usr/sbin:/usr/bin HOME=/root TMPDIR=/tmp LANG=C.UTF-8

# Markers go through the kernel log (printk.devkmsg=on: not rate-limited): the
# kernel prints each one whole and in order with its own lines. Written to
# /dev/console they can be split by a kernel message, or still sit in the
# UART's queue when power-off comes right after.
mark() {
  if [ -w /dev/kmsg ]; then
    echo "ACCELNET-LAB: $*" > /dev/kmsg
  else
    echo "ACCELNET-LAB: $*" > /dev/console
  fi
}

# The initramfs root comes up world-writable (1777); a node's / is root's 0755: accelnet refuses a state
# dir below a directory others can write (README "Threat model"), and DPDK's EAL refuses to load its PMD
# plugins from under a world-writable directory.
chmod 0755 /
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mkdir -p /run/netns /dev/hugepages
mount -t hugetlbfs -o pagesize=2M hugetlbfs /dev/hugepages
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
# The exit code first: once it is in the share the host counts the job as finished.
echo "$code" > /results/exit-code
sync
mark "EXIT $code $(cut -d' ' -f1 /proc/uptime)"
poweroff -f
