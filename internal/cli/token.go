package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

func (a *app) tokenCmd() *cobra.Command {
	return group("token", "Manage API tokens",
		a.tokenCreateCmd(), a.tokenListCmd(), a.tokenRevokeCmd())
}

func (a *app) tokenService() (berthv1.TokenServiceClient, error) {
	conn, err := a.dial(true)
	if err != nil {
		return nil, err
	}
	return berthv1.NewTokenServiceClient(conn), nil
}

func (a *app) tokenCreateCmd() *cobra.Command {
	var (
		name, role, clientID string
		expires              time.Duration
	)
	cmd := &cobra.Command{
		Use:   "create --name NAME [--role admin|client] [--client ID] [--expires 720h]",
		Short: "Make an API token; its secret is shown only once",
		Long: `Make an API token. The secret goes to stdout alone on a line (so it can be
captured by a script), and is never shown again. --role defaults to client
when --client is given, else to admin.`,
		Example: `  berth token create --name ci --expires 2160h
  berth token create --name acme-ci --client cl_123`,
		Args: argNames(),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			if role == "" {
				role = "admin"
				if clientID != "" {
					role = "client"
				}
			}
			r, err := parseRole(role, clientID)
			if err != nil {
				return err
			}
			if expires < 0 {
				return usageErrorf("invalid --expires %s: want 0 (never) or more", expires)
			}
			t := &berthv1.Token{Name: name, Role: r, ClientId: clientID}
			if expires > 0 {
				t.ExpireTime = timestamppb.New(a.now().Add(expires))
			}
			svc, err := a.tokenService()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := svc.CreateToken(ctx, &berthv1.CreateTokenRequest{Token: t})
			if err != nil {
				return err
			}
			tok := resp.GetToken()
			expiry := "never expires"
			if tok.GetExpireTime() != nil {
				expiry = "expires " + timestamp(tok.GetExpireTime())
			}
			fmt.Fprintf(a.stdio.Err, "Created token %s (%s, %s, %s). Copy the secret now: it is not shown again.\n",
				tok.GetId(), tok.GetName(), enumLabel(tok.GetRole()), expiry)
			return a.printer().show(resp, func(w io.Writer, _ time.Time) error {
				_, err := fmt.Fprintln(w, resp.GetSecret())
				return err
			})
		}),
	}
	cmd.Flags().StringVar(&name, "name", "", "what the token is for, e.g. ci")
	cmd.Flags().StringVar(&role, "role", "", "admin or client (default: client with --client, else admin)")
	cmd.Flags().StringVar(&clientID, "client", "", "the client a client token is bound to")
	cmd.Flags().DurationVar(&expires, "expires", 720*time.Hour, "lifetime of the token; 0 for a token that never expires")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.RegisterFlagCompletionFunc("role", cobra.FixedCompletions([]string{"admin", "client"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (a *app) tokenListCmd() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "list [--all]",
		Short: "List API tokens (without secrets)",
		Args:  argNames(),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			svc, err := a.tokenService()
			if err != nil {
				return err
			}
			tokens, _, err := listAll(true, func(pageToken string) ([]*berthv1.Token, string, error) {
				ctx, cancel := a.callCtx(cmd.Context())
				defer cancel()
				resp, err := svc.ListTokens(ctx, &berthv1.ListTokensRequest{PageToken: pageToken, IncludeRevoked: all})
				return resp.GetTokens(), resp.GetNextPageToken(), err
			})
			if err != nil {
				return err
			}
			return a.printer().show(&berthv1.ListTokensResponse{Tokens: tokens}, func(w io.Writer, now time.Time) error {
				return writeTokens(w, now, tokens...)
			})
		}),
	}
	cmd.Flags().BoolVar(&all, "all", false, "also list revoked and expired tokens")
	return cmd
}

func (a *app) tokenRevokeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Make a token unusable at once",
		Args:  argNames("ID"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			svc, err := a.tokenService()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := svc.RevokeToken(ctx, &berthv1.RevokeTokenRequest{Id: args[0]})
			if err != nil {
				return err
			}
			return a.printer().show(resp, func(w io.Writer, _ time.Time) error {
				_, err := fmt.Fprintf(w, "Revoked token %s\n", args[0])
				return err
			})
		}),
	}
}

func writeTokens(w io.Writer, now time.Time, tokens ...*berthv1.Token) error {
	rows := make([][]string, 0, len(tokens))
	for _, t := range tokens {
		status := "active"
		switch {
		case t.GetRevokeTime() != nil:
			status = "revoked " + age(t.GetRevokeTime(), now) + " ago"
		case t.GetExpireTime() != nil && !t.GetExpireTime().AsTime().After(now):
			status = "expired"
		}
		expires := age(t.GetExpireTime(), now)
		if t.GetExpireTime() == nil {
			expires = "never"
		}
		rows = append(rows, []string{
			t.GetId(), t.GetName(), enumLabel(t.GetRole()), t.GetClientId(), t.GetUserId(),
			age(t.GetCreateTime(), now), expires, age(t.GetLastUsedTime(), now), status,
		})
	}
	return writeTable(w, []string{"ID", "NAME", "ROLE", "CLIENT", "USER", "AGE", "EXPIRES", "LAST USED", "STATUS"}, rows)
}
