package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// Stdio is the standard streams of one invocation.
type Stdio struct {
	In       io.Reader
	Out, Err io.Writer
}

// Run runs the berth command line args (without the program name) and
// returns the process exit code: 0 on success, 1 when a command failed, 2 on
// a usage error. It reads BERTH_* and config-location variables from the
// process environment, and never exits the process. Cancelling ctx stops the
// running command.
func Run(ctx context.Context, stdio Stdio, args []string) int {
	return run(ctx, stdio, args, os.Getenv)
}

// run is Run with the environment lookup injected.
func run(ctx context.Context, stdio Stdio, args []string, getenv func(string) string) int {
	a := &app{stdio: stdio, getenv: getenv, now: time.Now}
	defer a.close()
	root := a.newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) || !a.ran {
		// Errors raised by cobra before a command ran (unknown command or
		// flag, bad flag value, missing required flag) are usage errors too.
		fmt.Fprintf(stdio.Err, "error: %v\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
		return 2
	}
	fmt.Fprintln(stdio.Err, errorMessage(err, a.errContext()))
	return 1
}

// app is one invocation: its streams, global flags and lazily opened connection.
type app struct {
	stdio  Stdio
	getenv func(string) string
	now    func() time.Time

	// Global flags; empty means not given.
	flagServer, flagToken, flagCA, flagConfig string
	output                                    string
	timeout                                   time.Duration

	ran      bool // a command's RunE started: later errors are not usage errors
	resolved *settings
	conn     *grpc.ClientConn
}

func (a *app) newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "berth",
		Short: "Manage sites, clients and nodes on a Berth control plane",
		Long: `berth talks to berthd, the Berth control plane, over gRPC with TLS.

Connection settings come from flags, then BERTH_SERVER / BERTH_TOKEN / BERTH_CA,
then the config file written by ` + "`berth login`" + `.`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.flagServer, "server", "", "berthd address, https://host:port or host:port (env BERTH_SERVER; default from the config file, else "+defaultServer+")")
	pf.StringVar(&a.flagToken, "token", "", "API token (env BERTH_TOKEN; default from the config file)")
	pf.StringVar(&a.flagCA, "ca", "", "PEM file with the CA to trust, e.g. berthd's DATA/ca.pem (env BERTH_CA; default: system roots)")
	pf.StringVar(&a.flagConfig, "config", "", "config file (env BERTH_CONFIG; default $XDG_CONFIG_HOME/berth/config.json or ~/.config/berth/config.json)")
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table or json")
	pf.DurationVar(&a.timeout, "timeout", 30*time.Second, "timeout of each API call (0 for none)")
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json"}, cobra.ShellCompDirectiveNoFileComp))

	root.AddCommand(
		a.loginCmd(), a.logoutCmd(), a.whoamiCmd(),
		a.clientCmd(), a.siteCmd(), a.nodeCmd(), a.userCmd(), a.tokenCmd(), a.auditCmd(),
		a.uptimeCmd(), a.incidentsCmd(), a.incidentCmd(), a.slaCmd(), a.maintenanceCmd(), a.alertCmd(),
		a.versionCmd(),
	)
	return root
}

// action wraps a command's work: it marks that the command ran (so its
// errors are not usage errors) and checks the global flags first.
func (a *app) action(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a.ran = true
		if a.output != "table" && a.output != "json" {
			return usageErrorf("invalid --output %q: want table or json", a.output)
		}
		if a.timeout < 0 {
			return usageErrorf("invalid --timeout %s: want 0 or more", a.timeout)
		}
		return fn(cmd, args)
	}
}

// group makes a command that only holds subcommands. Called bare it prints
// its help; with an unknown subcommand it is a usage error.
func group(use, short string, children ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	c.AddCommand(children...)
	return c
}

// argNames requires exactly the named positional arguments.
func argNames(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < len(names) {
			return usageErrorf("missing %s: usage: %s", names[len(args)], cmd.UseLine())
		}
		if len(args) > len(names) {
			return usageErrorf("unexpected argument %q: usage: %s", args[len(names)], cmd.UseLine())
		}
		return nil
	}
}

// configFile returns the config file's path and contents.
func (a *app) configFile() (string, fileConfig, error) {
	path, err := configPath(a.flagConfig, a.getenv)
	if err != nil {
		return "", fileConfig{}, err
	}
	c, err := loadConfig(path)
	return path, c, err
}

// settings resolves the connection settings once per invocation.
func (a *app) settings() (settings, error) {
	if a.resolved != nil {
		return *a.resolved, nil
	}
	_, file, err := a.configFile()
	if err != nil {
		return settings{}, err
	}
	s, err := resolveSettings(
		sources{Server: a.flagServer, Token: a.flagToken, CA: a.flagCA},
		sources{Server: a.getenv("BERTH_SERVER"), Token: a.getenv("BERTH_TOKEN"), CA: a.getenv("BERTH_CA")},
		file,
	)
	if err != nil {
		return settings{}, err
	}
	a.resolved = &s
	return s, nil
}

// dial returns the connection to berthd, opened on first use. With
// withToken, every call carries the configured token, and a missing token
// fails here, before dialing.
func (a *app) dial(withToken bool) (*grpc.ClientConn, error) {
	if a.conn != nil {
		return a.conn, nil
	}
	s, err := a.settings()
	if err != nil {
		return nil, err
	}
	if withToken && s.token == "" {
		return nil, errNoToken
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.ca != "" {
		pool, err := loadCA(s.ca)
		if err != nil {
			return nil, err
		}
		tlsConfig.RootCAs = pool
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)),
		grpc.WithUserAgent("berth/" + version()),
	}
	if withToken {
		opts = append(opts, grpc.WithPerRPCCredentials(bearerToken(s.token)))
	}
	conn, err := grpc.NewClient(s.server.target(), opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", s.server, err)
	}
	a.conn = conn
	return conn, nil
}

func loadCA(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA: %w (--ca / BERTH_CA)", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("CA %s: no PEM certificate in it: pass berthd's DATA/ca.pem", path)
	}
	return pool, nil
}

// bearerToken sends "authorization: Bearer <token>" with every call, and
// only over TLS.
type bearerToken string

func (t bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(t)}, nil
}

func (bearerToken) RequireTransportSecurity() bool { return true }

// callCtx bounds one API call by --timeout.
func (a *app) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if a.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, a.timeout)
}

// errContext describes the invocation for errorMessage.
func (a *app) errContext() errContext {
	ec := errContext{timeout: a.timeout, server: a.flagServer}
	if a.resolved != nil {
		ec.server = a.resolved.server.String()
		ec.ca = a.resolved.ca
	}
	return ec
}

func (a *app) close() {
	if a.conn != nil {
		a.conn.Close()
	}
}

// version is the module version berth was built from.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of berth",
		Args:  argNames(),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			goVersion := "unknown"
			if bi, ok := debug.ReadBuildInfo(); ok {
				goVersion = bi.GoVersion
			}
			_, err := fmt.Fprintf(a.stdio.Out, "berth %s (%s)\n", version(), goVersion)
			return err
		}),
	}
}
