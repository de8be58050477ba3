// Package config loads a binary's configuration from one settings table.
//
// Each setting is declared once, as a [Setting]: its flag, its environment
// variable, its default, how its value is parsed and what it means. The
// setting's key in the JSON file is the json tag of the Config field it is
// bound to. [Loader.Load] then fills the Config from, in increasing order of
// precedence: the defaults, an optional JSON file (unknown keys are errors),
// the environment and the flags; [Loader.Usage] prints every setting with
// its environment variable and default for --help; [Check] runs the range
// and choice checks the table declares, for Validate.
//
// The package is shared by berthd and berth-agent and imports only the
// standard library.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
)

// Setting is one configuration setting of a binary.
type Setting struct {
	// Flag is the flag's name without dashes, such as "data-dir". The
	// setting is called by this name, dashes as spaces ("data dir"), in
	// error messages.
	Flag string
	// Env is the environment variable, such as "BERTH_DATA_DIR". An empty
	// variable counts as unset.
	Env string
	// Default is the value when nothing sets it, written as on the command
	// line or in the environment ("60s", "a,b", "k=v,k2=v2"); "" leaves the
	// field's zero value.
	Default string
	// Show is how --help and the README show the default when Default alone
	// would mislead (a default worked out at run time, or one that an empty
	// value stands for, such as "Let's Encrypt"). Empty means Default.
	Show string
	// Help says what the setting means, in a few words.
	Help string
	// Value is the Config field the setting fills and how its text is parsed.
	Value Value
}

// Name is the setting's name in error messages: the flag with spaces.
func (s Setting) Name() string { return strings.ReplaceAll(s.Flag, "-", " ") }

// Shown is the default as --help and the README show it; "" means none.
func (s Setting) Shown() string { return cmpOr(s.Show, s.Default) }

// Loader loads one binary's configuration.
type Loader struct {
	// Program is the binary's name, for usage and errors: "berthd".
	Program string
	// ConfigEnv is the environment variable naming the JSON file that the
	// --config flag also names: "BERTH_CONFIG".
	ConfigEnv string
}

// Defaults sets every field of the table to its setting's default. It
// panics if a default does not parse: the table is wrong.
func Defaults(settings []Setting) {
	for _, s := range settings {
		if s.Default == "" {
			continue
		}
		if err := s.Value.text(s.Default); err != nil {
			panic(fmt.Sprintf("config: default of --%s %q: %v", s.Flag, s.Default, err))
		}
	}
}

// Load fills cfg, a pointer to a Config struct whose fields the settings
// are bound to, from the defaults, the JSON file, the environment (getenv)
// and args (the flags, without the program name). It does not validate.
// For -h and --help it prints the usage to stderr and returns
// flag.ErrHelp.
func (l Loader) Load(cfg any, settings []Setting, args []string, getenv func(string) string, stderr io.Writer) error {
	keys := jsonKeys(cfg, settings)
	Defaults(settings)

	fs := flag.NewFlagSet(l.Program, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { l.usage(stderr, settings, keys) }
	configPath := fs.String("config", getenv(l.ConfigEnv), "")
	given := make([]*occurrences, len(settings))
	for i, s := range settings {
		given[i] = &occurrences{bool: s.Value.isBool()}
		fs.Var(given[i], s.Flag, s.Help)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: %s takes only flags", fs.Arg(0), l.Program)
	}

	if *configPath != "" {
		if err := loadFile(*configPath, settings, keys); err != nil {
			return err
		}
	}
	for _, s := range settings {
		if v := getenv(s.Env); v != "" {
			if err := s.Value.text(v); err != nil {
				return fmt.Errorf("%s %w (%s)", s.Name(), err, s.Env)
			}
		}
	}
	for i, s := range settings {
		if g := given[i]; len(g.values) > 0 {
			if err := s.Value.flags(g.values); err != nil {
				return fmt.Errorf("%s %w (--%s)", s.Name(), err, s.Flag)
			}
		}
	}
	return nil
}

// loadFile applies the JSON file at path. keys are the settings' JSON keys.
func loadFile(path string, settings []Setting, keys []string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	var file map[string]json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&file); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	byKey := make(map[string]json.RawMessage, len(file))
	var unknown []error
	for _, k := range slices.Sorted(maps.Keys(file)) {
		// Like encoding/json, a key matches its field exactly or else
		// ignoring case.
		i := slices.Index(keys, k)
		if i < 0 {
			i = slices.IndexFunc(keys, func(key string) bool { return strings.EqualFold(key, k) })
		}
		if i < 0 {
			unknown = append(unknown, fmt.Errorf("config file %s: json: unknown field %q", path, k))
			continue
		}
		byKey[keys[i]] = file[k]
	}
	if len(unknown) > 0 {
		return errors.Join(unknown...)
	}
	for i, s := range settings {
		raw, ok := byKey[keys[i]]
		if !ok {
			continue
		}
		if err := s.Value.json(raw); err != nil {
			return fmt.Errorf("config file %s: %s: %w", path, keys[i], err)
		}
	}
	return nil
}

// jsonKeys returns each setting's JSON key: the json tag of the field of
// *cfg that its Value fills. It panics if a setting fills no tagged field of
// cfg, or a tagged field has no setting: the table is wrong.
func jsonKeys(cfg any, settings []Setting) []string {
	v := reflect.ValueOf(cfg)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("config: want a pointer to a Config struct, not %T", cfg))
	}
	v = v.Elem()
	tags := make(map[uintptr]string)
	for i := range v.NumField() {
		tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		if tag != "" && tag != "-" {
			tags[v.Field(i).Addr().Pointer()] = tag
		}
	}
	keys := make([]string, len(settings))
	for i, s := range settings {
		addr := reflect.ValueOf(s.Value.target()).Pointer()
		if keys[i] = tags[addr]; keys[i] == "" {
			panic(fmt.Sprintf("config: --%s fills no json-tagged field of %T", s.Flag, cfg))
		}
		delete(tags, addr)
	}
	if len(tags) > 0 {
		panic(fmt.Sprintf("config: fields of %T with json keys %q have no setting", cfg, slices.Sorted(maps.Values(tags))))
	}
	return keys
}

// occurrences collects every occurrence of one flag, to apply after the file
// and the environment.
type occurrences struct {
	values []string
	bool   bool
}

func (o *occurrences) String() string {
	if o == nil {
		return ""
	}
	return strings.Join(o.values, ",")
}
func (o *occurrences) Set(v string) error { o.values = append(o.values, v); return nil }
func (o *occurrences) IsBoolFlag() bool   { return o.bool }

// usage writes --help: every setting with its flag, meaning, environment
// variable, JSON key and default.
func (l Loader) usage(w io.Writer, settings []Setting, keys []string) {
	fmt.Fprintf(w, "Usage: %s [flags]\n\n", l.Program)
	fmt.Fprintf(w, "Each setting comes from its default, then the JSON file named by --config,\n"+
		"then its environment variable, then its flag; later ones win.\n\n")
	fmt.Fprintf(w, "  --config file\n    \tJSON configuration file; unknown keys are errors\n    \tenv %s\n", l.ConfigEnv)
	for i, s := range settings {
		def := "no default"
		if d := s.Shown(); d != "" {
			def = "default " + d
		}
		name := "--" + s.Flag
		if a := s.Value.arg(); a != "" {
			name += " " + a
		}
		if s.Value.repeatable() {
			name += " (repeatable; comma-separated in env)"
		}
		fmt.Fprintf(w, "  %s\n    \t%s\n    \tenv %s; file key %s; %s\n", name, s.Help, s.Env, keys[i], def)
	}
}

// Check runs the checks the table declares (ranges, choices, log levels)
// on the fields' current values and reports every failure, each naming its
// setting, such as "uptime tick 2m0s: want 1s to 1m".
func Check(settings []Setting) error {
	var errs []error
	for _, s := range settings {
		if err := s.Value.check(s.Name()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Off turns a listen address off. An empty address means the same.
const Off = "off"

// IsOff reports whether a listen address is turned off: "off" or empty.
func IsOff(addr string) bool { return addr == Off || addr == "" }

// SplitList splits a comma-separated list of names: each is trimmed,
// lowercased and stripped of a leading dot (".example.com" is
// "example.com"); blank ones are dropped.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(p)), "."); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ParseLevel parses a log level: debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// NewLogger returns a logger writing to w at level ("info" if it does not
// parse) in format "json", or else "text".
func NewLogger(w io.Writer, level, format string) *slog.Logger {
	l, _ := ParseLevel(level)
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
