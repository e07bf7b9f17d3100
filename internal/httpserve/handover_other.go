//go:build !linux

package httpserve

import (
	"fmt"
	"os"

	"github.com/sdlife/sdlife/lifecycle"
)

// checkStoredConn: there is no fd store on this platform.
func checkStoredConn(*os.File) error {
	return fmt.Errorf("%w: %w", errNotHandoverable, lifecycle.ErrUnsupported)
}
