module github.com/sdlife/sdlife/bench

go 1.26.0

require github.com/sdlife/sdlife v0.0.0

require github.com/systemd/slog-journal v0.1.2 // indirect

require (
	github.com/coreos/go-systemd/v22 v22.7.0
	golang.org/x/sys v0.49.0 // indirect
)

replace github.com/sdlife/sdlife => ../
