package sdlife_test

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// README.md's Go code must be code that compiles. A block preceded by
// "<!-- file: PATH -->" is the whole of PATH, a program built with the
// rest of the module; one preceded by "<!-- excerpt: PATH -->" is lines of
// PATH, in order (spacing aside).
func TestReadmeCodeCompiles(t *testing.T) {
	blocks := readmeBlocks(t, "README.md")
	if len(blocks) == 0 {
		t.Fatal("README.md has no marked Go blocks")
	}
	for _, b := range blocks {
		t.Run(b.kind+" "+b.path, func(t *testing.T) {
			data, err := os.ReadFile(b.path)
			if err != nil {
				t.Fatal(err)
			}
			switch b.kind {
			case "file":
				if got, want := b.code, string(data); got != want {
					t.Errorf("README block differs from %s:\n--- README\n%s\n--- file\n%s", b.path, got, want)
				}
			case "excerpt":
				lines := nonBlank(string(data))
				i := 0
				for _, l := range nonBlank(b.code) {
					for i < len(lines) && lines[i] != l {
						i++
					}
					if i == len(lines) {
						t.Errorf("README line %q is not in %s (in this order)", l, b.path)
						return
					}
					i++
				}
			default:
				t.Errorf("unknown marker %q", b.kind)
			}
		})
	}
}

type readmeBlock struct{ kind, path, code string }

func readmeBlocks(t *testing.T, name string) []readmeBlock {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		blocks []readmeBlock
		marker []string // kind, path of the marker just seen
		cur    *readmeBlock
		code   strings.Builder
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case cur != nil && line == "```":
			cur.code = code.String()
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			code.WriteString(line + "\n")
		case strings.HasPrefix(line, "<!-- ") && strings.HasSuffix(line, " -->"):
			kind, path, ok := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(line, "<!-- "), " -->"), ": ")
			if ok && (kind == "file" || kind == "excerpt") {
				marker = []string{kind, path}
			}
		case line == "```go" && marker != nil:
			cur = &readmeBlock{kind: marker[0], path: marker[1]}
			code.Reset()
			marker = nil
		case line != "":
			marker = nil
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return blocks
}

func nonBlank(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			out = append(out, strings.Join(f, " ")) // gofmt may align differently
		}
	}
	return out
}
