package main

import (
	"strings"
	"testing"
)

const stream = `{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"TestFast"}
{"Action":"output","Package":"p","Test":"TestFast","Output":"=== RUN   TestFast\n"}
{"Action":"pass","Package":"p","Test":"TestFast","Elapsed":0.5}
{"Action":"output","Package":"p","Test":"TestSlow","Output":"    slow_test.go:9: broke\n"}
{"Action":"output","Package":"p","Test":"TestSlow/sub","Output":"    slow_test.go:12: sub broke\n"}
{"Action":"fail","Package":"p","Test":"TestSlow/sub","Elapsed":60}
{"Action":"fail","Package":"p","Test":"TestSlow","Elapsed":61.25}
{"Action":"output","Package":"p","Test":"TestGone","Output":"    gone_test.go:3: needs the Docker engine\n"}
{"Action":"output","Package":"p","Test":"TestGone","Output":"--- SKIP: TestGone (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"TestGone","Elapsed":0}
{"Action":"output","Package":"p","Output":"FAIL\tp\t62s\n"}
{"Action":"fail","Package":"p","Elapsed":62}
{"Action":"output","Package":"q","Output":"ok  \tq\t1.0s\n"}
{"Action":"pass","Package":"q","Elapsed":1}
# r [r.test]
`

func TestReport(t *testing.T) {
	var out strings.Builder
	r := &report{out: &out, output: map[string]*strings.Builder{}}
	if err := r.read(strings.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	r.summary(2)
	got := out.String()
	for _, want := range []string{
		"slow_test.go:9: broke", "sub broke", "FAIL\tp\t62s", "ok  \tq\t1.0s", "# r [r.test]",
		"1 skipped:\n  p.TestGone: gone_test.go:3: needs the Docker engine",
		"slowest 2 of 3 tests:\n      61.2s  p TestSlow\n       0.5s  p TestFast\n",
		"2 failed:\n  p.TestSlow/sub\n  p.TestSlow\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "=== RUN   TestFast") {
		t.Errorf("report shows a passing test's output:\n%s", got)
	}
	if !r.pkgFail {
		t.Error("a failed package is not counted")
	}
}
