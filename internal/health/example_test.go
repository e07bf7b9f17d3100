package health_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/sdlife/sdlife/internal/health"
)

func ExampleHealth() {
	h := health.NewHealth(nil,
		health.Check{Name: "db", Func: func(context.Context) error { return nil }},
		health.Check{Name: "cache", Func: func(context.Context) error { return errors.New("connection refused") }},
	)
	rep := h.Run(context.Background())
	fmt.Println("healthy:", rep.Healthy)
	for _, r := range rep.Results {
		fmt.Println(r.Name, r.Err)
	}
	// Output:
	// healthy: false
	// db <nil>
	// cache connection refused
}
