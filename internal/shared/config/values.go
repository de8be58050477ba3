package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"
)

// Value is the Config field a setting fills and how its text is parsed:
// one of String, AddrOrOff, Duration, Int, Bool, Level, OneOf, List,
// Repeated and Pairs.
type Value interface {
	// target is the pointer to the field.
	target() any
	// text parses a default or an environment variable.
	text(s string) error
	// flags parses every occurrence of the flag, in order.
	flags(given []string) error
	// json parses the value in the JSON file.
	json(raw json.RawMessage) error
	// check reports a value out of its declared range; name is the
	// setting's name.
	check(name string) error
	// arg names the flag's argument in --help; "" for a boolean flag.
	arg() string
	isBool() bool
	// repeatable says the flag adds one item each time it is given, and
	// the environment variable separates items with commas.
	repeatable() bool
}

// scalar is the part of a Value whose flag, if repeated, keeps the last
// value.
type scalar struct{}

func (scalar) isBool() bool     { return false }
func (scalar) repeatable() bool { return false }

// last applies the last occurrence of a flag with text.
func last(text func(string) error, given []string) error { return text(given[len(given)-1]) }

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// String is a string setting.
func String(p *string) Value { return stringValue{p: p} }

type stringValue struct {
	scalar
	p *string
}

func (v stringValue) target() any                    { return v.p }
func (v stringValue) text(s string) error            { *v.p = s; return nil }
func (v stringValue) flags(given []string) error     { return last(v.text, given) }
func (v stringValue) json(raw json.RawMessage) error { return json.Unmarshal(raw, v.p) }
func (v stringValue) check(string) error             { return nil }
func (v stringValue) arg() string                    { return "string" }

// AddrOrOff is a listen address that Off ("off") or an empty value turns
// off; either way the field is set to off, the spelling the binary's code
// tests for.
func AddrOrOff(p *string, off string) Value { return addrValue{p: p, off: off} }

type addrValue struct {
	scalar
	p   *string
	off string
}

func (v addrValue) target() any { return v.p }
func (v addrValue) text(s string) error {
	if IsOff(s) {
		s = v.off
	}
	*v.p = s
	return nil
}
func (v addrValue) flags(given []string) error { return last(v.text, given) }
func (v addrValue) json(raw json.RawMessage) error {
	s := *v.p
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	return v.text(s)
}
func (v addrValue) check(string) error { return nil }
func (v addrValue) arg() string        { return "host:port|off" }

// Duration is a time.Duration written as a Go duration string ("30s",
// "720h") in the JSON file.
type Duration time.Duration

// UnmarshalJSON parses a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// DurationValue is a duration setting; see Duration.
type DurationValue struct {
	scalar
	p        *Duration
	min, max time.Duration
	why      string
}

// DurationOf is a duration setting with no bounds until AtLeast or Within
// sets them.
func DurationOf(p *Duration) *DurationValue { return &DurationValue{p: p} }

// AtLeast makes Check reject durations below min.
func (v *DurationValue) AtLeast(min time.Duration) *DurationValue { v.min = min; return v }

// Within makes Check reject durations outside min to max.
func (v *DurationValue) Within(min, max time.Duration) *DurationValue {
	v.min, v.max = min, max
	return v
}

// Because adds the reason for the bound to Check's message.
func (v *DurationValue) Because(why string) *DurationValue { v.why = why; return v }

func (v *DurationValue) target() any { return v.p }
func (v *DurationValue) text(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q: want a duration such as 30s or 10m", s)
	}
	*v.p = Duration(d)
	return nil
}
func (v *DurationValue) flags(given []string) error { return last(v.text, given) }
func (v *DurationValue) json(raw json.RawMessage) error {
	if isNull(raw) {
		return nil
	}
	return v.p.UnmarshalJSON(raw)
}
func (v *DurationValue) check(name string) error {
	d := time.Duration(*v.p)
	var err error
	switch {
	case v.max != 0 && (d < v.min || d > v.max):
		err = fmt.Errorf("%s %s: want %s to %s", name, d, short(v.min), short(v.max))
	case v.max == 0 && d < v.min:
		err = fmt.Errorf("%s %s: at least %s", name, d, short(v.min))
	}
	if err != nil && v.why != "" {
		err = fmt.Errorf("%w, %s", err, v.why)
	}
	return err
}
func (v *DurationValue) arg() string { return "duration" }

// short writes d without trailing zero units: "1m", "24h", "10s".
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// IntValue is a whole-number setting.
type IntValue struct {
	scalar
	p        *int
	min, max int
	bounded  bool
	unit     string
}

// Int is a whole-number setting with no bounds until Within sets them.
func Int(p *int) *IntValue { return &IntValue{p: p} }

// Within makes Check reject numbers outside min to max.
func (v *IntValue) Within(min, max int) *IntValue {
	v.min, v.max, v.bounded = min, max, true
	return v
}

// Of names what the number counts, for parse errors: "minutes".
func (v *IntValue) Of(unit string) *IntValue { v.unit = unit; return v }

func (v *IntValue) target() any { return v.p }
func (v *IntValue) text(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		if v.unit != "" {
			return fmt.Errorf("%q: want a whole number of %s", s, v.unit)
		}
		return fmt.Errorf("%q: want a whole number", s)
	}
	*v.p = n
	return nil
}
func (v *IntValue) flags(given []string) error     { return last(v.text, given) }
func (v *IntValue) json(raw json.RawMessage) error { return json.Unmarshal(raw, v.p) }
func (v *IntValue) check(name string) error {
	if v.bounded && (*v.p < v.min || *v.p > v.max) {
		return fmt.Errorf("%s %d: want %d to %d", name, *v.p, v.min, v.max)
	}
	return nil
}
func (v *IntValue) arg() string { return "n" }

// Bool is a true/false setting; the flag alone means true.
func Bool(p *bool) Value { return boolValue{p: p} }

type boolValue struct{ p *bool }

func (v boolValue) target() any { return v.p }
func (v boolValue) text(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%q: want true or false", s)
	}
	*v.p = b
	return nil
}
func (v boolValue) flags(given []string) error     { return last(v.text, given) }
func (v boolValue) json(raw json.RawMessage) error { return json.Unmarshal(raw, v.p) }
func (v boolValue) check(string) error             { return nil }
func (v boolValue) arg() string                    { return "" }
func (v boolValue) isBool() bool                   { return true }
func (v boolValue) repeatable() bool               { return false }

// Level is a log level: debug, info, warn or error, checked by Check.
func Level(p *string) Value { return levelValue{stringValue{p: p}} }

type levelValue struct{ stringValue }

func (v levelValue) check(name string) error {
	if _, err := ParseLevel(*v.p); err != nil {
		return fmt.Errorf("%s %q: want debug, info, warn or error", name, *v.p)
	}
	return nil
}
func (v levelValue) arg() string { return "level" }

// OneOf is a string that Check accepts only as one of choices.
func OneOf(p *string, choices ...string) Value {
	return oneOfValue{stringValue{p: p}, choices}
}

type oneOfValue struct {
	stringValue
	choices []string
}

func (v oneOfValue) check(name string) error {
	for _, c := range v.choices {
		if *v.p == c {
			return nil
		}
	}
	return fmt.Errorf("%s %q: want %s", name, *v.p, orList(v.choices))
}
func (v oneOfValue) arg() string { return strings.Join(v.choices, "|") }

// orList writes "a", "a or b", "a, b or c".
func orList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// List is a comma-separated list of names, split by SplitList. A repeated
// flag keeps the last list; the JSON file gives an array, taken as is.
func List(p *[]string) Value { return listValue{p: p} }

type listValue struct {
	scalar
	p *[]string
}

func (v listValue) target() any                    { return v.p }
func (v listValue) text(s string) error            { *v.p = SplitList(s); return nil }
func (v listValue) flags(given []string) error     { return last(v.text, given) }
func (v listValue) json(raw json.RawMessage) error { return json.Unmarshal(raw, v.p) }
func (v listValue) check(string) error             { return nil }
func (v listValue) arg() string                    { return "a,b,..." }

// Repeated is a list whose flag is repeated, one item each time; the
// environment variable separates items with commas and the JSON file gives
// an array. Items are taken as written.
func Repeated(p *[]string) Value { return repeatedValue{p: p} }

type repeatedValue struct{ p *[]string }

func (v repeatedValue) target() any         { return v.p }
func (v repeatedValue) text(s string) error { *v.p = strings.Split(s, ","); return nil }
func (v repeatedValue) flags(given []string) error {
	*v.p = append([]string(nil), given...)
	return nil
}
func (v repeatedValue) json(raw json.RawMessage) error { return json.Unmarshal(raw, v.p) }
func (v repeatedValue) check(string) error             { return nil }
func (v repeatedValue) arg() string                    { return "value" }
func (v repeatedValue) isBool() bool                   { return false }
func (v repeatedValue) repeatable() bool               { return true }

// PairsValue is a map of key=value pairs: the flag is repeated, one pair
// each time; the environment variable separates pairs with commas; the JSON
// file gives an object. Each source replaces the map of the sources before
// it, unless Merged.
type PairsValue struct {
	p     *map[string]string
	merge bool
}

// Pairs is a key=value map setting; see PairsValue.
func Pairs(p *map[string]string) *PairsValue { return &PairsValue{p: p} }

// Merged makes each source add to or replace single keys of the map
// instead of replacing the whole map.
func (v *PairsValue) Merged() *PairsValue { v.merge = true; return v }

func (v *PairsValue) set(m map[string]string) {
	if v.merge {
		m = mergeMaps(*v.p, m)
	}
	*v.p = m
}
func (v *PairsValue) target() any         { return v.p }
func (v *PairsValue) text(s string) error { return v.flags(strings.Split(s, ",")) }
func (v *PairsValue) flags(given []string) error {
	m := make(map[string]string, len(given))
	for _, p := range given {
		k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || k == "" {
			return fmt.Errorf("%q: want key=value", p)
		}
		m[k] = val
	}
	v.set(m)
	return nil
}
func (v *PairsValue) json(raw json.RawMessage) error {
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	if m == nil && v.merge {
		return nil
	}
	v.set(m)
	return nil
}
func (v *PairsValue) check(string) error { return nil }
func (v *PairsValue) arg() string        { return "key=value" }
func (v *PairsValue) isBool() bool       { return false }
func (v *PairsValue) repeatable() bool   { return true }

// mergeMaps returns a copy of base with over's entries added or replaced.
func mergeMaps(base, over map[string]string) map[string]string {
	m := maps.Clone(base)
	if m == nil {
		m = make(map[string]string, len(over))
	}
	maps.Copy(m, over)
	return m
}
