//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

var oneShot = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

// get does one request on a fresh connection, without any retry.
func get(port int, path string) (int, string, error) {
	resp, err := oneShot.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// mustGet asserts a 200 with the given body (a newline is appended by the
// example).
func mustGet(t testing.TB, port int, path, wantBody string) {
	t.Helper()
	code, body, err := get(port, path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if code != 200 {
		t.Fatalf("GET %s: status %d, body %q", path, code, body)
	}
	if wantBody != "" && strings.TrimRight(body, "\n") != wantBody {
		t.Fatalf("GET %s: body %q, want %q", path, body, wantBody+"\n")
	}
}

// listenInodes returns the socket inodes listening on 127.0.0.1:port (or on
// the wildcard address) in this network namespace, which the containers share.
// The same inode before and after a restart proves the socket was handed
// over rather than bound again.
func listenInodes(port int) []string {
	var inodes []string
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			if strings.HasSuffix(fields[1], fmt.Sprintf(":%04X", port)) {
				inodes = append(inodes, fields[9])
			}
		}
		fh.Close()
	}
	return inodes
}
