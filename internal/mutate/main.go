// Command mutate checks that the unit tests pin the library's promises:
// it applies each mutation of a fixed table (a small deliberate breakage
// of one promise) to a copy of the repository, one at a time, runs the
// tests of the packages the mutation names, and fails if any mutation
// survives (the tests still pass), if a mutation's text is not found
// exactly once (the table rotted), or if a mutant does not build (the
// table is wrong). The repository itself is never modified.
//
//	go run ./internal/mutate            # every mutation (make mutate)
//	go run ./internal/mutate -list      # the table
//	go run ./internal/mutate -run drain # the mutations whose name matches
//
// It runs from the repository root. The copy holds the files git knows
// (tracked, or untracked and not ignored), so uncommitted tests count.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

func main() {
	var (
		list    = flag.Bool("list", false, "print the table and exit")
		run     = flag.String("run", "", "only the mutations whose name matches this regexp")
		timeout = flag.Duration("timeout", 3*time.Minute, "go test -timeout for each mutant")
		verbose = flag.Bool("v", false, "print the go test output of every mutant")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(mainErr(ctx, *list, *run, *timeout, *verbose))
}

func mainErr(ctx context.Context, list bool, run string, timeout time.Duration, verbose bool) int {
	sel, err := selectMutations(mutations, run)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		return 2
	}
	root, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		return 2
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		fmt.Fprintln(os.Stderr, "mutate: run from the repository root:", err)
		return 2
	}
	if list {
		for _, m := range sel {
			fmt.Printf("%-44s %s\n", m.name, strings.Join(m.pkgs, " "))
		}
		if err := checkTable(root, sel); err != nil {
			fmt.Fprintln(os.Stderr, "mutate:", err)
			return 2
		}
		return 0
	}
	dir, err := os.MkdirTemp("", "sdlife-mutate-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		return 2
	}
	defer os.RemoveAll(dir)
	if err := copyRepo(ctx, root, dir); err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		return 2
	}
	// Every old text must be found before anything runs: a rotted table
	// fails at once, not after minutes of tests.
	if err := checkTable(dir, sel); err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		return 2
	}

	start := time.Now()
	fmt.Printf("mutate: baseline (unmutated) tests of %s\n", strings.Join(allPkgs(sel), " "))
	if res := runTests(ctx, dir, allPkgs(sel), timeout); res.outcome != passed {
		fmt.Fprintf(os.Stderr, "mutate: the unmutated tests do not pass (%s):\n%s\n", res.outcome, res.output)
		return 2
	}
	fmt.Printf("mutate: baseline passed in %v\n", time.Since(start).Round(time.Second))

	var survived, broken []string
	killed := 0
	for i, m := range sel {
		if ctx.Err() != nil {
			fmt.Fprintln(os.Stderr, "mutate: interrupted")
			return 2
		}
		t0 := time.Now()
		res, err := m.try(ctx, dir, timeout)
		took := time.Since(t0).Round(100 * time.Millisecond)
		prefix := fmt.Sprintf("[%2d/%d] %-44s", i+1, len(sel), m.name)
		switch {
		case err != nil:
			fmt.Printf("%s ERROR %v\n", prefix, err)
			broken = append(broken, m.name)
			continue
		case res.outcome == passed:
			fmt.Printf("%s SURVIVED (%v)\n", prefix, took)
			survived = append(survived, m.name)
		case res.outcome == buildFailed:
			fmt.Printf("%s BROKEN: the mutant does not build (%v)\n%s\n", prefix, took, res.output)
			broken = append(broken, m.name)
		default:
			killed++
			fmt.Printf("%s killed (%v) by %s\n", prefix, took, res.evidence())
		}
		if verbose {
			fmt.Println(res.output)
		}
	}
	fmt.Printf("mutate: %d mutations: %d killed, %d survived, %d broken, in %v\n",
		len(sel), killed, len(survived), len(broken), time.Since(start).Round(time.Second))
	for _, n := range survived {
		fmt.Println("SURVIVED:", n)
	}
	for _, n := range broken {
		fmt.Println("BROKEN:", n)
	}
	if len(survived) > 0 || len(broken) > 0 {
		return 1
	}
	return 0
}

// edit replaces old, which must occur exactly once in file, by new.
type edit struct {
	file     string // slash-separated, relative to the repository root
	old, new string
}

// mutation is one breakage: its edits are applied together.
type mutation struct {
	name  string
	edits []edit
	pkgs  []string // go test patterns, e.g. "./internal/httpserve/"
}

func selectMutations(all []mutation, run string) ([]mutation, error) {
	if run == "" {
		return all, nil
	}
	re, err := regexp.Compile(run)
	if err != nil {
		return nil, fmt.Errorf("-run: %w", err)
	}
	var sel []mutation
	for _, m := range all {
		if re.MatchString(m.name) {
			sel = append(sel, m)
		}
	}
	if len(sel) == 0 {
		return nil, fmt.Errorf("-run %q matches no mutation", run)
	}
	return sel, nil
}

func checkTable(dir string, ms []mutation) error {
	var errs []error
	seen := map[string]bool{}
	for _, m := range ms {
		if seen[m.name] {
			errs = append(errs, fmt.Errorf("%s: duplicate name", m.name))
		}
		seen[m.name] = true
		if len(m.edits) == 0 || len(m.pkgs) == 0 {
			errs = append(errs, fmt.Errorf("%s: no edits or no packages", m.name))
		}
		for _, e := range m.edits {
			b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(e.file)))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", m.name, err))
				continue
			}
			if n := bytes.Count(b, []byte(e.old)); n != 1 {
				errs = append(errs, fmt.Errorf("%s: %s: old text found %d times, want once: %q", m.name, e.file, n, e.old))
			}
		}
	}
	return errors.Join(errs...)
}

// try applies m to the copy in dir, runs its tests and restores the
// files, whatever happens.
func (m mutation) try(ctx context.Context, dir string, timeout time.Duration) (result, error) {
	orig := map[string][]byte{}
	defer func() {
		for path, b := range orig {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				fmt.Fprintln(os.Stderr, "mutate: restoring:", err)
				os.Exit(2) // every later result would be wrong
			}
		}
	}()
	for _, e := range m.edits {
		path := filepath.Join(dir, filepath.FromSlash(e.file))
		b, err := os.ReadFile(path)
		if err != nil {
			return result{}, err
		}
		if _, ok := orig[path]; !ok {
			orig[path] = b
		}
		if n := bytes.Count(b, []byte(e.old)); n != 1 {
			return result{}, fmt.Errorf("%s: old text found %d times, want once", e.file, n)
		}
		if err := os.WriteFile(path, bytes.Replace(b, []byte(e.old), []byte(e.new), 1), 0o644); err != nil {
			return result{}, err
		}
	}
	return runTests(ctx, dir, m.pkgs, timeout), nil
}

type outcome int

const (
	passed outcome = iota
	failed
	buildFailed
)

func (o outcome) String() string {
	switch o {
	case passed:
		return "passed"
	case failed:
		return "failed"
	}
	return "build failed"
}

type result struct {
	outcome outcome
	output  string
}

var failLine = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)|^panic: (test timed out[^\n]*)`)

// evidence names the failing tests, or the package line when no test
// failed on its own (TestMain, goleak).
func (r result) evidence() string {
	var names []string
	for _, m := range failLine.FindAllStringSubmatch(r.output, -1) {
		if m[1] != "" {
			names = append(names, m[1])
		} else {
			names = append(names, m[2])
		}
		if len(names) == 4 {
			names = append(names, "...")
			break
		}
	}
	if len(names) == 0 {
		for _, l := range strings.Split(r.output, "\n") {
			if strings.HasPrefix(l, "FAIL\t") {
				names = append(names, strings.TrimSpace(l))
			}
		}
	}
	if len(names) == 0 {
		return "go test failing"
	}
	return strings.Join(names, ", ")
}

func runTests(ctx context.Context, dir string, pkgs []string, timeout time.Duration) result {
	args := append([]string{"test", "-count=1", "-failfast", "-timeout", timeout.String()}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	s := string(out)
	switch {
	case err == nil:
		return result{passed, s}
	case strings.Contains(s, "[build failed]") || strings.Contains(s, "[setup failed]"):
		return result{buildFailed, s}
	}
	if !strings.Contains(s, "FAIL") {
		s += "\n" + err.Error()
	}
	return result{failed, s}
}

func allPkgs(ms []mutation) []string {
	seen := map[string]bool{}
	var all []string
	for _, m := range ms {
		for _, p := range m.pkgs {
			if !seen[p] {
				seen[p] = true
				all = append(all, p)
			}
		}
	}
	return all
}

// copyRepo copies the files git knows in root into dir.
func copyRepo(ctx context.Context, root, dir string) error {
	cmd := exec.CommandContext(ctx, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("git ls-files: %w", err)
	}
	for _, name := range strings.Split(string(out), "\x00") {
		if name == "" {
			continue
		}
		if err := copyFile(filepath.Join(root, name), filepath.Join(dir, name)); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // deleted in the work tree
			}
			return err
		}
	}
	return nil
}

func copyFile(from, to string) error {
	fi, err := os.Lstat(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(from)
		if err != nil {
			return err
		}
		return os.Symlink(target, to)
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
