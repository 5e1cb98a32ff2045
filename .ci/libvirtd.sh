#!/usr/bin/env bash
# Brings up a libvirt daemon for provision's integration tests
# (DAGGER_LIBVIRT_TEST=1), which drive libvirt's test:///default driver
# through the daemon's socket, as the node drives qemu:///system: installs
# the daemon if missing, starts it if not running, and waits until it
# answers. Running it again only checks.
set -euo pipefail

sock=/var/run/libvirt/libvirt-sock
pidfile=/var/run/libvirtd.pid
# test+unix makes virsh go through the daemon's socket; plain test:///default
# would open the test driver inside virsh and prove nothing about the daemon.
probe_uri="test+unix:///default?socket=$sock"
wait_s_max=30

answers() { command -v virsh >/dev/null && virsh -q -c "$probe_uri" list >/dev/null 2>&1; }

if answers; then
	exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "libvirtd.sh: needs root or sudo to install and start libvirtd" >&2; exit 1; }
	as_root=(sudo)
fi

if ! command -v libvirtd >/dev/null || ! command -v virsh >/dev/null; then
	command -v apt-get >/dev/null || { echo "libvirtd.sh: libvirtd is missing and there is no apt-get; install libvirt-daemon and libvirt-clients" >&2; exit 1; }
	export DEBIAN_FRONTEND=noninteractive
	# A fresh image has no package lists; an update is only worth its time then.
	if ! apt-cache show libvirt-daemon >/dev/null 2>&1; then
		"${as_root[@]}" apt-get update -qq
	fi
	"${as_root[@]}" apt-get install -y -qq --no-install-recommends libvirt-daemon libvirt-clients >/dev/null
fi

# The daemon wants the qemu driver's user and its log directory, even when
# only the test driver is used.
getent passwd libvirt-qemu >/dev/null || "${as_root[@]}" useradd -r libvirt-qemu
"${as_root[@]}" mkdir -p /var/log/libvirt

if ! { [ -s "$pidfile" ] && "${as_root[@]}" kill -0 "$(cat "$pidfile")" 2>/dev/null; }; then
	"${as_root[@]}" libvirtd -d
fi

for _ in $(seq "$wait_s_max"); do
	if answers; then
		exit 0
	fi
	sleep 1
done
echo "libvirtd.sh: libvirtd does not answer on $sock after ${wait_s_max}s; try: virsh -c '$probe_uri' list, and see /var/log/libvirt" >&2
exit 1
