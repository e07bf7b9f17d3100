module github.com/sdlife/sdlife

go 1.26.0

require (
	github.com/go-chi/chi/v5 v5.5.0
	github.com/systemd/slog-journal v0.1.2
	go.uber.org/fx v1.24.0
	go.uber.org/goleak v1.3.0
	golang.org/x/net v0.62.0
	golang.org/x/sys v0.49.0
)

require (
	go.uber.org/dig v1.19.0 // indirect
	go.uber.org/multierr v1.10.0 // indirect
	go.uber.org/zap v1.26.0 // indirect
	golang.org/x/text v0.43.0 // indirect
)
