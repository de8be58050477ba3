// Command testreport reads `go test -json` on stdin and prints what a person
// wants from a whole run: one line per package, the output of every failed
// test, the skipped tests, and at the end the slowest tests with their wall
// time, so that a new slow test is seen the day it lands. It exits non-zero
// when a test or a package failed.
//
//	go test -json ./... | go run ./internal/testenv/testreport -slowest 15
package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Time    time.Time
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

type result struct {
	pkg, test string
	elapsed   time.Duration
}

type report struct {
	out     io.Writer
	output  map[string]*strings.Builder // package/test → its output so far
	tests   []result                    // finished top-level tests
	skipped []string
	failed  []string
	pkgFail bool
}

func main() {
	slowest := flag.Int("slowest", 15, "how many of the slowest tests to list")
	flag.Parse()
	r := &report{out: os.Stdout, output: map[string]*strings.Builder{}}
	if err := r.read(os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	r.summary(*slowest)
	if r.pkgFail || len(r.failed) > 0 {
		os.Exit(1)
	}
}

func (r *report) read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// Not an event: go's own messages (build errors) pass through.
			fmt.Fprintf(r.out, "%s\n", line)
			continue
		}
		r.handle(e)
	}
	return sc.Err()
}

func (r *report) handle(e event) {
	key := e.Package + "\x00" + e.Test
	switch e.Action {
	case "output":
		b := r.output[key]
		if b == nil {
			b = &strings.Builder{}
			r.output[key] = b
		}
		b.WriteString(e.Output)
	case "pass", "fail", "skip":
		if e.Test == "" {
			r.packageDone(e)
			return
		}
		out := r.output[key]
		delete(r.output, key)
		switch e.Action {
		case "fail":
			r.failed = append(r.failed, e.Package+"."+e.Test)
			if out != nil {
				fmt.Fprint(r.out, out.String())
			}
		case "skip":
			r.skipped = append(r.skipped, fmt.Sprintf("%s.%s: %s", e.Package, e.Test, skipReason(out)))
		}
		if !strings.Contains(e.Test, "/") {
			r.tests = append(r.tests, result{e.Package, e.Test, time.Duration(e.Elapsed * float64(time.Second))})
		}
	}
}

// packageDone prints the package's line, and on failure whatever output
// no test claimed (a build error, a panic, a timeout).
func (r *report) packageDone(e event) {
	key := e.Package + "\x00"
	out := r.output[key]
	delete(r.output, key)
	if e.Action == "fail" {
		r.pkgFail = true
		if out != nil {
			fmt.Fprint(r.out, out.String())
		}
		return
	}
	// The package's summary line ("ok  pkg 1.2s", "?  pkg [no test files]").
	if out != nil {
		for line := range strings.Lines(out.String()) {
			if strings.HasPrefix(line, "ok ") || strings.HasPrefix(line, "?") {
				fmt.Fprint(r.out, line)
			}
		}
	}
}

// skipReason is the last line of a skipped test's output that says why.
func skipReason(out *strings.Builder) string {
	if out == nil {
		return "no reason given"
	}
	reason := "no reason given"
	for line := range strings.Lines(out.String()) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "=== ") || strings.HasPrefix(line, "--- SKIP") {
			continue
		}
		reason = line
	}
	return reason
}

func (r *report) summary(n int) {
	if len(r.skipped) > 0 {
		fmt.Fprintf(r.out, "\n%d skipped:\n", len(r.skipped))
		for _, s := range r.skipped {
			fmt.Fprintf(r.out, "  %s\n", s)
		}
	}
	slices.SortFunc(r.tests, func(a, b result) int { return cmp.Compare(b.elapsed, a.elapsed) })
	fmt.Fprintf(r.out, "\nslowest %d of %d tests:\n", min(n, len(r.tests)), len(r.tests))
	for _, t := range r.tests[:min(n, len(r.tests))] {
		fmt.Fprintf(r.out, "  %8.1fs  %s %s\n", t.elapsed.Seconds(), strings.TrimPrefix(t.pkg, "github.com/fixaroo/berth/"), t.test)
	}
	if len(r.failed) > 0 {
		fmt.Fprintf(r.out, "\n%d failed:\n", len(r.failed))
		for _, f := range r.failed {
			fmt.Fprintf(r.out, "  %s\n", f)
		}
	}
}
