// Package e2e holds the end-to-end tests of sdlife against a real systemd.
//
// The tests are behind the build tag "e2e" and need root: each scenario boots
// a Debian rootfs with systemd-nspawn, installs examples/chi-server and the
// units from deploy/units in it, and asserts on what systemd itself reports
// (systemctl show, journalctl). Run them with one command:
//
//	sudo e2e/run.sh
//
// See e2e/README.md.
package e2e
