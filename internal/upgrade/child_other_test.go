//go:build !linux

package upgrade

// runChild: upgrades need Linux; no test starts a new process elsewhere.
func runChild(mode string) int { return 2 }
