// Package drainctx carries the drain signal in a request's context: the
// server sets it, httpadapter.DrainStarted reads it.
package drainctx

import "context"

type key struct{}

// With returns ctx carrying c, closed when the drain begins.
func With(ctx context.Context, c <-chan struct{}) context.Context {
	return context.WithValue(ctx, key{}, c)
}

// Started returns the channel With put in ctx, or nil.
func Started(ctx context.Context) <-chan struct{} {
	c, _ := ctx.Value(key{}).(<-chan struct{})
	return c
}
