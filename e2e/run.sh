#!/usr/bin/env bash
# sdlife end-to-end tests against a real systemd, in one command:
#
#   sudo e2e/run.sh                 # everything
#   sudo e2e/run.sh -run TestStop   # extra arguments go to `go test`
#
# Needs root on Debian or Ubuntu and a Go toolchain. Installs debootstrap and
# systemd-container if missing, then runs the Go tests of ./e2e (build tag
# e2e), which build (once, cached) a Debian root filesystem per systemd
# version of the matrix (bookworm 252, trixie 257, forky 262) and boot one
# systemd-nspawn container per scenario and version. See e2e/README.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")

if [[ $EUID -ne 0 ]]; then
	echo "e2e/run.sh: needs root (systemd-nspawn, debootstrap): sudo $0 $*" >&2
	exit 1
fi
if ! command -v go >/dev/null; then
	echo "e2e/run.sh: no Go toolchain in PATH (sudo may reset PATH: sudo env PATH=\"\$PATH\" $0)" >&2
	exit 1
fi

need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v systemd-nspawn >/dev/null || need+=(systemd-container)
command -v nsenter >/dev/null || need+=(util-linux)
# Third-party clients the scenarios drive the example with: nginx and haproxy
# in front of it, h2load (nghttp2-client) and wrk as load generators.
command -v nginx >/dev/null || need+=(nginx)
command -v haproxy >/dev/null || need+=(haproxy)
command -v h2load >/dev/null || need+=(nghttp2-client)
command -v wrk >/dev/null || need+=(wrk)
if ((${#need[@]})); then
	echo "e2e/run.sh: installing ${need[*]}" >&2
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi

# The test binary builds (once, cached here) the root filesystem of every
# suite of its matrix (e2e/suites_test.go) with rootfs.sh, all in parallel.
export SDLIFE_E2E_CACHE=${SDLIFE_E2E_CACHE:-/var/cache/sdlife-e2e}

work=$(mktemp -d /tmp/sdlife-e2e.XXXXXX)
export SDLIFE_E2E_STATE=$work/state
# Test binaries and builds go here too, so a killed test leaves nothing behind.
export TMPDIR=$work
export SDLIFE_E2E_RESULTS=${SDLIFE_E2E_RESULTS:-$work/results.txt}
mkdir -p "$SDLIFE_E2E_STATE"

# The tests power off every container they boot, also on failure and on
# SIGINT/SIGTERM. This is the last line of defence if the test process itself
# was killed: every container still listed in the state directory goes down.
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
	local f nspawn pid1 i
	for f in "$SDLIFE_E2E_STATE"/*.pid; do
		[[ -e $f ]] || continue
		read -r nspawn pid1 <"$f" || continue
		if [[ "$(cat "/proc/$nspawn/comm" 2>/dev/null)" != systemd-nspawn ]]; then
			continue
		fi
		echo "e2e/run.sh: powering off leftover container (nspawn $nspawn)" >&2
		kill -s SIGRTMIN+4 "$pid1" 2>/dev/null || true
		for ((i = 0; i < 150; i++)); do
			[[ -d /proc/$nspawn ]] || break
			sleep 0.2
		done
		if [[ -d /proc/$nspawn ]]; then
			kill -s KILL -- "-$nspawn" "$pid1" 2>/dev/null || true
		fi
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cd "$repo"
start=$SECONDS
status=0
go test -tags e2e -count=1 -v -timeout 60m ./e2e "$@" || status=$?
echo "e2e/run.sh: tests took $((SECONDS - start)) s, exit status $status" >&2
if [[ -s $SDLIFE_E2E_RESULTS ]]; then
	echo "--- recorded results ($SDLIFE_E2E_RESULTS) ---"
	cat "$SDLIFE_E2E_RESULTS"
fi
exit "$status"
