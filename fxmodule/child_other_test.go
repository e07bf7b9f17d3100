//go:build !linux

package fxmodule_test

const childEnv = "FXMODULE_TEST_CHILD"

func runChild(string) int { return 2 }
