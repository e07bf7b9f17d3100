//go:build !unix

package main

import "io"

// devIno: no journal outside Unix.
func devIno(io.Writer) (dev, ino uint64, ok bool) { return 0, 0, false }
