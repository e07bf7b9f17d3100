module github.com/sdlife/sdlife

go 1.26.0

require (
	go.uber.org/goleak v1.3.0
	golang.org/x/sys v0.49.0
)

require github.com/stretchr/testify v1.8.1 // indirect
