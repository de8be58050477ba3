package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

func (a *app) loginCmd() *cobra.Command {
	var (
		email         string
		passwordStdin bool
	)
	cmd := &cobra.Command{
		Use:   "login --email EMAIL [--password-stdin]",
		Short: "Log in and save the session token in the config file",
		Long: `Log in with an email and password. The session token, the server and the CA
file are saved in the config file (mode 0600), so later commands need no flags.

The password is prompted for on a terminal; otherwise one line is read from stdin.`,
		Example: `  berth login --server https://berth.example.com:8443 --ca /var/lib/berthd/ca.pem --email ops@example.com
  printf '%s\n' "$PASSWORD" | berth login --email ops@example.com --password-stdin`,
		Args: argNames(),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			s, err := a.settings()
			if err != nil {
				return err
			}
			password, err := a.readPassword(cmd.Context(), passwordStdin, false)
			if err != nil {
				return err
			}
			conn, err := a.dial(false)
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := berthv1.NewAuthServiceClient(conn).Login(ctx, &berthv1.LoginRequest{Email: email, Password: password})
			if err != nil {
				return err
			}
			ca := s.ca
			if ca != "" {
				if ca, err = filepath.Abs(ca); err != nil {
					return fmt.Errorf("CA path: %w", err)
				}
			}
			path, _, err := a.configFile()
			if err != nil {
				return err
			}
			if err := writeConfig(path, fileConfig{Server: s.server.String(), Token: resp.GetToken(), CA: ca}); err != nil {
				return err
			}
			// The token is in the config file; keep it out of stdout.
			shown := &berthv1.LoginResponse{ExpireTime: resp.GetExpireTime(), User: resp.GetUser()}
			return a.printer().show(shown, func(w io.Writer, _ time.Time) error {
				u := resp.GetUser()
				who := cell(u.GetEmail())
				if u.GetEmail() == "" {
					who = email
				}
				_, err := fmt.Fprintf(w, "Logged in as %s (%s) — token expires at %s\n",
					who, strings.ToLower(cell(enumLabel(u.GetRole()))), cell(timestamp(resp.GetExpireTime())))
				return err
			})
		}),
	}
	cmd.Flags().StringVar(&email, "email", "", "your login email")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin, even on a terminal")
	_ = cmd.MarkFlagRequired("email")
	return cmd
}

func (a *app) logoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Revoke the session token and remove it from the config file",
		Args:  argNames(),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			conn, err := a.dial(true)
			if err != nil {
				return err
			}
			s, _ := a.settings()
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			_, callErr := berthv1.NewAuthServiceClient(conn).Logout(ctx, &berthv1.LogoutRequest{})
			// A token the server no longer accepts is as good as logged out:
			// still forget it.
			if callErr != nil && status.Code(callErr) != codes.Unauthenticated {
				return callErr
			}
			path, file, err := a.configFile()
			if err != nil {
				return err
			}
			if file.Token != "" && file.Token == s.token {
				file.Token = ""
				if err := writeConfig(path, file); err != nil {
					return err
				}
			}
			if a.output == "json" {
				return writeJSON(a.stdio.Out, &berthv1.LogoutResponse{})
			}
			if callErr != nil {
				_, err = fmt.Fprintln(a.stdio.Out, "Logged out (the server had already stopped accepting the token).")
				return err
			}
			_, err = fmt.Fprintln(a.stdio.Out, "Logged out.")
			return err
		}),
	}
}

func (a *app) whoamiCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show who the token acts as",
		Args:  argNames(),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			conn, err := a.dial(true)
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := berthv1.NewAuthServiceClient(conn).WhoAmI(ctx, &berthv1.WhoAmIRequest{})
			if err != nil {
				return err
			}
			s, _ := a.settings()
			return a.printer().show(resp, func(w io.Writer, _ time.Time) error {
				token := resp.GetTokenId()
				if resp.GetTokenName() != "" {
					token += " (" + resp.GetTokenName() + ")"
				}
				return writeFields(w, [][2]string{
					{"Server", s.server.String()},
					{"Email", resp.GetEmail()},
					{"Role", enumLabel(resp.GetRole())},
					{"Client", resp.GetClientId()},
					{"User", resp.GetUserId()},
					{"Token", token},
				})
			})
		}),
	}
}

// readPassword prompts for a password without echo when stdin is a terminal
// and fromStdin is false; otherwise it reads one line from stdin. With
// confirm, a prompted password is asked for twice.
func (a *app) readPassword(ctx context.Context, fromStdin, confirm bool) (string, error) {
	if f, ok := a.stdio.In.(*os.File); ok && !fromStdin && term.IsTerminal(int(f.Fd())) {
		pw, err := a.promptPassword(ctx, f, "Password: ")
		if err != nil {
			return "", err
		}
		if confirm {
			again, err := a.promptPassword(ctx, f, "Repeat password: ")
			if err != nil {
				return "", err
			}
			if again != pw {
				return "", errors.New("the passwords do not match")
			}
		}
		if pw == "" {
			return "", errors.New("empty password")
		}
		return pw, nil
	}
	line, err := bufio.NewReader(a.stdio.In).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("no password on stdin: pipe it in, e.g. printf '%s\\n' \"$PASSWORD\" | berth ... --password-stdin")
		}
		return "", fmt.Errorf("read password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("empty password on stdin")
	}
	return pw, nil
}

// promptPassword reads a password from terminal f without echo. On Ctrl-C
// (ctx done) it restores the terminal and gives up.
func (a *app) promptPassword(ctx context.Context, f *os.File, prompt string) (string, error) {
	fd := int(f.Fd())
	state, err := term.GetState(fd)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	fmt.Fprint(a.stdio.Err, prompt)
	type result struct {
		pw  []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		pw, err := term.ReadPassword(fd)
		done <- result{pw, err}
	}()
	select {
	case r := <-done:
		fmt.Fprintln(a.stdio.Err)
		if r.err != nil {
			return "", fmt.Errorf("read password: %w", r.err)
		}
		return string(r.pw), nil
	case <-ctx.Done():
		_ = term.Restore(fd, state)
		fmt.Fprintln(a.stdio.Err)
		return "", ctx.Err()
	}
}
