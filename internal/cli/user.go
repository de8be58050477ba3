package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

func (a *app) userCmd() *cobra.Command {
	return group("user", "Manage the people who log in",
		a.userCreateCmd(), a.userListCmd(), a.userGetCmd(), a.userDeleteCmd())
}

func (a *app) userService() (berthv1.UserServiceClient, error) {
	conn, err := a.dial(true)
	if err != nil {
		return nil, err
	}
	return berthv1.NewUserServiceClient(conn), nil
}

// parseRole parses --role and checks it against --client: a client user or
// token needs its client, an admin has none.
func parseRole(role, clientID string) (berthv1.Role, error) {
	n, err := parseEnum(berthv1.Role(0).Descriptor(), "role", role)
	if err != nil {
		return 0, err
	}
	r := berthv1.Role(n)
	switch {
	case r == berthv1.Role_ROLE_CLIENT && clientID == "":
		return 0, usageErrorf("--role client needs --client ID: the client it is bound to")
	case r == berthv1.Role_ROLE_ADMIN && clientID != "":
		return 0, usageErrorf("--client is only for --role client: admins see every client")
	}
	return r, nil
}

func (a *app) userCreateCmd() *cobra.Command {
	var (
		email, role, clientID string
		passwordStdin         bool
	)
	cmd := &cobra.Command{
		Use:   "create --email EMAIL --role admin|client [--client ID] [--password-stdin]",
		Short: "Add a user who logs in with a password",
		Long: `Add a user. The password (at least 12 characters) is prompted for twice on a
terminal; otherwise one line is read from stdin.`,
		Example: `  berth user create --email ops@agency.test --role admin
  berth user create --email jane@acme.test --role client --client cl_123`,
		Args: argNames(),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			r, err := parseRole(role, clientID)
			if err != nil {
				return err
			}
			svc, err := a.userService()
			if err != nil {
				return err
			}
			password, err := a.readPassword(cmd.Context(), passwordStdin, true)
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := svc.CreateUser(ctx, &berthv1.CreateUserRequest{
				User:     &berthv1.User{Email: email, Role: r, ClientId: clientID},
				Password: password,
			})
			if err != nil {
				return err
			}
			return a.printer().show(resp, func(w io.Writer, now time.Time) error {
				return writeUsers(w, now, resp.GetUser())
			})
		}),
	}
	cmd.Flags().StringVar(&email, "email", "", "login email")
	cmd.Flags().StringVar(&role, "role", "", "admin (agency ops) or client (one client's sites)")
	cmd.Flags().StringVar(&clientID, "client", "", "the client a client user is bound to")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin, even on a terminal")
	_ = cmd.MarkFlagRequired("email")
	_ = cmd.MarkFlagRequired("role")
	_ = cmd.RegisterFlagCompletionFunc("role", cobra.FixedCompletions([]string{"admin", "client"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (a *app) userListCmd() *cobra.Command {
	var clientID string
	cmd := &cobra.Command{
		Use:   "list [--client ID]",
		Short: "List users",
		Args:  argNames(),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			svc, err := a.userService()
			if err != nil {
				return err
			}
			users, _, err := listAll(true, func(pageToken string) ([]*berthv1.User, string, error) {
				ctx, cancel := a.callCtx(cmd.Context())
				defer cancel()
				resp, err := svc.ListUsers(ctx, &berthv1.ListUsersRequest{PageToken: pageToken, ClientId: clientID})
				return resp.GetUsers(), resp.GetNextPageToken(), err
			})
			if err != nil {
				return err
			}
			return a.printer().show(&berthv1.ListUsersResponse{Users: users}, func(w io.Writer, now time.Time) error {
				return writeUsers(w, now, users...)
			})
		}),
	}
	cmd.Flags().StringVar(&clientID, "client", "", "only this client's users")
	return cmd
}

func (a *app) userGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show a user",
		Args:  argNames("ID"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			svc, err := a.userService()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := svc.GetUser(ctx, &berthv1.GetUserRequest{Id: args[0]})
			if err != nil {
				return err
			}
			return a.printer().show(resp, func(w io.Writer, now time.Time) error {
				return writeUsers(w, now, resp.GetUser())
			})
		}),
	}
}

func (a *app) userDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a user and revoke its sessions and tokens",
		Args:  argNames("ID"),
		RunE: a.action(func(cmd *cobra.Command, args []string) error {
			svc, err := a.userService()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx(cmd.Context())
			defer cancel()
			resp, err := svc.DeleteUser(ctx, &berthv1.DeleteUserRequest{Id: args[0]})
			if err != nil {
				return err
			}
			return a.printer().show(resp, func(w io.Writer, _ time.Time) error {
				_, err := fmt.Fprintf(w, "Deleted user %s\n", args[0])
				return err
			})
		}),
	}
}

func writeUsers(w io.Writer, now time.Time, users ...*berthv1.User) error {
	rows := make([][]string, 0, len(users))
	for _, u := range users {
		rows = append(rows, []string{u.GetId(), u.GetEmail(), enumLabel(u.GetRole()), u.GetClientId(), age(u.GetCreateTime(), now)})
	}
	return writeTable(w, []string{"ID", "EMAIL", "ROLE", "CLIENT", "AGE"}, rows)
}
