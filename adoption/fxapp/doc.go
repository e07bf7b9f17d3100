// Package fxapp is the place for the fx half of the adoption test: the
// same application as plainapp, adopting sdlife through fxmodule, tested
// the same way. It is empty until fxmodule is rewritten as an adapter
// over the sdlife core.
package fxapp
