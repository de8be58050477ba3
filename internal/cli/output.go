package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// printer writes command results as tables (-o table) or protojson (-o json).
type printer struct {
	out  io.Writer
	json bool
	now  time.Time // for relative ages in tables
}

func (a *app) printer() printer {
	return printer{out: a.stdio.Out, json: a.output == "json", now: a.now()}
}

// show prints m as JSON, or else calls table to print it as text.
func (p printer) show(m proto.Message, table func(w io.Writer, now time.Time) error) error {
	if p.json {
		return writeJSON(p.out, m)
	}
	return table(p.out, p.now)
}

// writeJSON writes m as protojson with the .proto field names, indented two
// spaces. protojson varies its whitespace on purpose; encoding/json re-indents
// it so that the same message always prints the same bytes.
func writeJSON(w io.Writer, m proto.Message) error {
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	out.WriteByte('\n')
	_, err = out.WriteTo(w)
	return err
}

// writeTable writes aligned columns. Empty cells show as "-"; tabs and
// newlines in cells become spaces so they cannot break the alignment.
func writeTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = cell(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// writeFields writes "Label:  value" lines, aligned.
func writeFields(w io.Writer, fields [][2]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, f := range fields {
		fmt.Fprintf(tw, "%s:\t%s\n", f[0], cell(f[1]))
	}
	return tw.Flush()
}

func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// enumLabel returns an enum value's name without its type prefix, e.g.
// "RUNNING" for SITE_STATE_RUNNING, and "" for the zero value.
func enumLabel(e protoreflect.Enum) string {
	if e.Number() == 0 {
		return ""
	}
	d := e.Descriptor()
	v := d.Values().ByNumber(e.Number())
	if v == nil {
		return fmt.Sprint(e.Number())
	}
	return strings.TrimPrefix(string(v.Name()), screamingSnake(string(d.Name()))+"_")
}

// parseEnum finds the value of enum type d named by s, with or without its
// prefix, in any case: "running", "RUNNING" or "SITE_STATE_RUNNING". The
// zero value is never accepted.
func parseEnum(d protoreflect.EnumDescriptor, flag, s string) (protoreflect.EnumNumber, error) {
	prefix := screamingSnake(string(d.Name())) + "_"
	want := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), prefix)
	var names []string
	for i := 0; i < d.Values().Len(); i++ {
		v := d.Values().Get(i)
		if v.Number() == 0 {
			continue
		}
		name := strings.TrimPrefix(string(v.Name()), prefix)
		if name == want {
			return v.Number(), nil
		}
		names = append(names, strings.ToLower(name))
	}
	return 0, usageErrorf("invalid --%s %q: want %s", flag, s, orList(names))
}

func orList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// screamingSnake turns "SiteState" into "SITE_STATE".
func screamingSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// age is how long before now t was, e.g. "45s", "12m", "5h", "3d"; a time
// in the future shows as "in 5h", and an unset time as "".
func age(t *timestamppb.Timestamp, now time.Time) string {
	if t == nil {
		return ""
	}
	d := now.Sub(t.AsTime())
	if d < 0 {
		return "in " + roughDuration(-d)
	}
	return roughDuration(d)
}

func roughDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	case d < 2*365*24*time.Hour:
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	default:
		return fmt.Sprintf("%dy", int(d/(365*24*time.Hour)))
	}
}

// timestamp formats t for messages, in local time; "" when unset.
func timestamp(t *timestamppb.Timestamp) string {
	if t == nil {
		return ""
	}
	return t.AsTime().Local().Format("2006-01-02 15:04:05 MST")
}

// withAge formats t as a local time with its age, e.g.
// "2026-01-02 15:04:05 UTC (3d ago)"; "" when unset.
func withAge(t *timestamppb.Timestamp, now time.Time) string {
	if t == nil {
		return ""
	}
	a := age(t, now)
	if !strings.HasPrefix(a, "in ") {
		a += " ago"
	}
	return timestamp(t) + " (" + a + ")"
}

// listAll calls fetch for the first page and, with all, for every following
// page. It returns the items and the token of the page after the last one fetched.
func listAll[T any](all bool, fetch func(pageToken string) ([]T, string, error)) ([]T, string, error) {
	var items []T
	token := ""
	for {
		page, next, err := fetch(token)
		if err != nil {
			return nil, "", err
		}
		items = append(items, page...)
		if !all || next == "" {
			return items, next, nil
		}
		if next == token {
			return nil, "", fmt.Errorf("list: server returned the same page token %q twice", next)
		}
		token = next
	}
}
