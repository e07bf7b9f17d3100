#!/usr/bin/env bash
# Build (once) and print the path of a cached Debian rootfs that boots systemd
# inside systemd-nspawn.
#
#   e2e/rootfs.sh SUITE        # e.g. forky (systemd 262), trixie (257), bookworm (252)
#
# Cache: ${SDLIFE_E2E_CACHE:-/var/cache/sdlife-e2e}/SUITE. The rootfs is built
# with debootstrap in a temporary directory next to it and renamed into place
# only when debootstrap succeeded, so an interrupted build never leaves a
# half-made cache behind. Containers are booted with --volatile=overlay, so the
# cache is never written to after it is built.
set -euo pipefail

suite=${1:?usage: rootfs.sh SUITE}
case $suite in
*[!a-z]*) echo "rootfs.sh: bad suite name: $suite" >&2; exit 2 ;;
esac
cache=${SDLIFE_E2E_CACHE:-/var/cache/sdlife-e2e}
dest=$cache/$suite

# Bump when the package list below changes, so stale caches are rebuilt.
recipe=1
if [[ -x $dest/lib/systemd/systemd && "$(cat "$dest/.sdlife-e2e-recipe" 2>/dev/null)" == "$recipe" ]]; then
	echo "$dest"
	exit 0
fi

mirror=${SDLIFE_E2E_MIRROR:-}
if [[ -z $mirror && -r /etc/apt/sources.list.d/debian.sources ]]; then
	mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
fi
if [[ -z $mirror && -r /etc/apt/sources.list ]]; then
	mirror=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list)
fi
# Ubuntu hosts have an Ubuntu mirror; Debian suites need a Debian one.
case $mirror in
*debian*) ;;
*) mirror=http://deb.debian.org/debian ;;
esac

# debootstrap knows a suite by its script; the current Debian suites are all
# symlinks to "sid". A debootstrap older than the suite (bookworm's has
# no "forky") gets that script by path, as a newer one would use it.
scripts=${DEBOOTSTRAP_DIR:-/usr/share/debootstrap}/scripts
script=()
if [[ ! -e $scripts/$suite && -e $scripts/sid ]]; then
	script=("$scripts/sid")
fi

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.build-$suite.XXXXXX")
cleanup() { rm -rf --one-file-system "$tmp" "$tmp.log"; }
trap cleanup EXIT

echo "rootfs.sh: debootstrap $suite from $mirror into $tmp (one-time, ~1 min)" >&2
start=$SECONDS
if ! debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,procps \
	"$suite" "$tmp" "$mirror" "${script[@]}" >"$tmp.log" 2>&1; then
	tail -n 30 "$tmp.log" >&2
	rm -f "$tmp.log"
	echo "rootfs.sh: debootstrap $suite failed" >&2
	exit 1
fi
rm -f "$tmp.log"
# Keep the image small and quiet: no apt caches, a fixed machine-id is not
# wanted (systemd creates a transient one on each volatile boot).
rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*
: >"$tmp/etc/machine-id"
echo "$recipe" >"$tmp/.sdlife-e2e-recipe"

rm -rf --one-file-system "$dest"
mv "$tmp" "$dest"
trap - EXIT
echo "rootfs.sh: $suite ready in $((SECONDS - start)) s" >&2
echo "$dest"
