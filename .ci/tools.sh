#!/usr/bin/env bash
# Installs the tools the live node's tests use besides libvirtd (see
# libvirtd.sh): promtool, which lints the /metrics output, and ip and tc
# (iproute2), which the partition test uses to build network namespaces.
# Running it again only checks.
set -euo pipefail

missing=()
command -v promtool >/dev/null || missing+=(prometheus)
{ command -v ip >/dev/null && command -v tc >/dev/null; } || missing+=(iproute2)
[ ${#missing[@]} -eq 0 ] && exit 0

as_root=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "tools.sh: needs root or sudo to install ${missing[*]}" >&2; exit 1; }
	as_root=(sudo)
fi
command -v apt-get >/dev/null || { echo "tools.sh: no apt-get; install ${missing[*]}" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
if ! apt-cache show "${missing[0]}" >/dev/null 2>&1; then
	"${as_root[@]}" apt-get update -qq
fi
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
