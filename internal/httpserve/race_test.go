//go:build race

package httpserve

const raceEnabled = true
