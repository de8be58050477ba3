// Package configtest checks a binary's settings table against its --help
// output and its README table.
package configtest

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/fixaroo/berth/internal/shared/config"
)

// Readme checks that the table under the "## heading" section of the
// Markdown file at path, with columns flag | env | default | meaning, has
// one row per setting, with the setting's flag, environment variable and
// default (as Setting.Shown; "—" for none), and no other rows.
func Readme(t testing.TB, path, heading string, settings []config.Setting) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := table(string(b), heading)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	want := make(map[string]config.Setting, len(settings))
	for _, s := range settings {
		want["--"+s.Flag] = s
	}
	seen := make(map[string]bool)
	for _, r := range rows {
		flag, env, def := unquote(r[0]), unquote(r[1]), unquote(r[2])
		s, ok := want[flag]
		switch {
		case !ok:
			t.Errorf("%s, %q: row %q is not a setting", path, heading, flag)
			continue
		case seen[flag]:
			t.Errorf("%s, %q: %s has two rows", path, heading, flag)
		}
		seen[flag] = true
		if env != s.Env {
			t.Errorf("%s, %q: %s: env %q, want %q", path, heading, flag, env, s.Env)
		}
		if def == "—" {
			def = ""
		}
		if def != s.Shown() {
			t.Errorf("%s, %q: %s: default %q, want %q", path, heading, flag, def, s.Shown())
		}
	}
	for _, s := range settings {
		if !seen["--"+s.Flag] {
			t.Errorf("%s, %q: no row for --%s (env %s, default %q)", path, heading, s.Flag, s.Env, s.Shown())
		}
	}
}

// table returns the cells of the body rows of the first table in the
// section "## heading", which must have four columns.
func table(md, heading string) ([][]string, error) {
	_, section, ok := strings.Cut(md, "\n## "+heading+"\n")
	if !ok {
		return nil, fmt.Errorf("no section %q", heading)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var rows [][]string
	inTable := false
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			continue
		}
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cells) != 4 {
			return nil, fmt.Errorf("section %q: row %q: want 4 columns: flag | env | default | meaning", heading, line)
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if !inTable { // the header
			inTable = true
			if cells[0] != "flag" || cells[1] != "env" || cells[2] != "default" {
				return nil, fmt.Errorf("section %q: header %q: want flag | env | default | meaning", heading, line)
			}
			continue
		}
		if strings.HasPrefix(cells[0], "---") {
			continue
		}
		rows = append(rows, cells)
	}
	if !inTable {
		return nil, fmt.Errorf("section %q has no table", heading)
	}
	return rows, nil
}

// unquote drops the backticks of a Markdown cell.
func unquote(cell string) string { return strings.ReplaceAll(cell, "`", "") }

// Help runs load with --help and checks that it returns flag.ErrHelp and
// that what it writes shows every setting's flag with its environment
// variable and default, and no other flag but --config. It returns what
// --help wrote.
func Help(t testing.TB, load func(args []string, stderr io.Writer) error, settings []config.Setting) string {
	t.Helper()
	var out strings.Builder
	if err := load([]string{"--help"}, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help = %v, want flag.ErrHelp", err)
	}
	help := out.String()
	blocks := make(map[string]string) // flag → its lines
	var flag string
	for _, line := range strings.Split(help, "\n") {
		if rest, ok := strings.CutPrefix(line, "  --"); ok {
			flag, _, _ = strings.Cut(rest, " ")
			if _, dup := blocks[flag]; dup {
				t.Errorf("--help shows --%s twice", flag)
			}
		}
		if flag != "" {
			blocks[flag] += line + "\n"
		}
	}
	for _, s := range settings {
		block, ok := blocks[s.Flag]
		if !ok {
			t.Errorf("--help does not show --%s", s.Flag)
			continue
		}
		delete(blocks, s.Flag)
		def := "no default"
		if d := s.Shown(); d != "" {
			def = "default " + d
		}
		if !strings.Contains(block, "env "+s.Env+";") || !strings.Contains(block, def+"\n") {
			t.Errorf("--help shows --%s as\n%s\nwant env %s and %s", s.Flag, block, s.Env, def)
		}
	}
	delete(blocks, "config")
	for f := range blocks {
		t.Errorf("--help shows --%s, which is not a setting", f)
	}
	return help
}
