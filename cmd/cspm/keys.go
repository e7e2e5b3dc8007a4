package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cspm-es/cspm-es/commands"
	platformcmd "github.com/cspm-es/cspm-es/commands/platform"
	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/eventstore"
)

// `cspm keys ...` manages API keys in the event store directly, like
// `cspm events`: it needs no running server and no key of its own (whoever
// can open the store is the operator). `create` and `revoke` append, so on
// the embedded store they take the data directory's lock and are refused
// while a server owns the directory (datadir.go); `list` only reads. A
// server notices a revocation made here within auth.DefaultTTL.

// cliActor is how events issued from the CLI name who sent them.
const cliActor = "cli"

func keysCommand() *command {
	return &command{
		name:    "keys",
		summary: "issue, list and revoke API keys",
		description: "Manage the API keys requests authenticate with (Authorization: Bearer <key>).\n" +
			"These commands work on the event store directly (--data-dir, --store).\n" +
			"create and revoke write to it: on the embedded store they are refused while\n" +
			"a server owns the data directory (use its API then); list works beside a\n" +
			"running server. A key is shown once, when it is created; only\n" +
			"a salted hash of its secret is stored. A revoked key is refused by every\n" +
			"server within a second.",
		subs: []*command{keysCreateCommand(), keysListCommand(), keysRevokeCommand()},
	}
}

// ---- create ----

// keyCreated is the --json output of `keys create`.
type keyCreated struct {
	commands.Result
	Key    string      `json:"key"`
	Name   string      `json:"name"`
	Role   access.Role `json:"role"`
	TeamID string      `json:"team_id"`
}

func keysCreateCommand() *command {
	return &command{
		name:    "create",
		summary: "issue an API key and print it, once",
		args:    "--team T --role viewer|analyst|admin [--name N]",
		description: "Issues an API key for a team with a role (viewer < analyst < admin) and\n" +
			"prints it once: the key alone on stdout (KEY=$(cspm keys create ...)), its\n" +
			"id, team and role on stderr; --json prints one JSON object instead. The key\n" +
			"cannot be shown again: store it now.",
		groups: storeGroups,
		build: func(fs *flag.FlagSet) runFunc {
			team := fs.String("team", "", "team the key belongs to (required)")
			role := fs.String("role", "", "viewer, analyst or admin (required)")
			name := fs.String("name", "", "what the key is for (default: \"<role> key (cli)\")")
			asJSON := fs.Bool("json", false, "print {id, key, name, role, team_id, stream_id, version, position, event_ids}")
			return func(ctx context.Context, inv *invocation) error {
				if *team == "" {
					return usageError("--team is required")
				}
				if *role == "" {
					return usageError("--role is required (viewer, analyst or admin)")
				}
				n := *name
				if n == "" {
					n = strings.ToLower(strings.TrimSpace(*role)) + " key (cli)"
				}
				return createKey(ctx, inv, platformcmd.IssueKey{Name: n, Role: *role, TeamID: *team}, *asJSON)
			}
		},
	}
}

func createKey(ctx context.Context, inv *invocation, cmd platformcmd.IssueKey, asJSON bool) error {
	store, auditKey, release, err := openEventStoreToWrite(ctx, inv, "cspm keys create")
	if err != nil {
		return err
	}
	defer release()
	h := platformcmd.New(commands.NewKit(store, eventstore.NewDomainCodec(), time.Now))
	k, err := h.IssueKey(ctx, commands.Meta{TeamID: cmd.TeamID, Actor: cliActor, Route: "cli keys create"}, cmd)
	if err != nil {
		return keyError(err)
	}
	takeCheckpoint(ctx, inv, store, auditKey)
	if asJSON {
		enc := json.NewEncoder(inv.stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(keyCreated{Result: k.Result, Key: k.Key, Name: k.Name, Role: k.Role, TeamID: k.TeamID})
	}
	fmt.Fprintln(inv.stdout, k.Key)
	fmt.Fprintf(inv.stderr, "API key %s created: team %s, role %s, name %q. It is shown this once; store it now.\n",
		k.ID, k.TeamID, k.Role, k.Name)
	return nil
}

// keyError makes a command's invalid input a usage error (exit 2) naming
// the fields.
func keyError(err error) error {
	var v *domain.ValidationError
	if errors.As(err, &v) {
		parts := make([]string, len(v.Fields))
		for i, f := range v.Fields {
			parts[i] = "--" + strings.ReplaceAll(strings.TrimSuffix(f.Field, "_id"), "_", "-") + ": " + f.Message
		}
		return usageError("%s", strings.Join(parts, "; "))
	}
	return err
}

// ---- list ----

func keysListCommand() *command {
	return &command{
		name:    "list",
		summary: "list API keys (never their secrets)",
		args:    "[--team T]",
		description: "Lists the API keys of every team, or of --team: id, name, team, role,\n" +
			"status (active or revoked), when they were issued and revoked. Secrets are\n" +
			"never stored, so never shown.",
		groups: storeGroups,
		build: func(fs *flag.FlagSet) runFunc {
			team := fs.String("team", "", "only this team's keys")
			asJSON := fs.Bool("json", false, "print a JSON array instead of a table")
			return func(ctx context.Context, inv *invocation) error {
				return listKeys(ctx, inv, *team, *asJSON)
			}
		},
	}
}

// keyListPage is how many streams one Streams call of `keys list` reads.
const keyListPage = 500

// storedKeys returns the state of every key in the store (of team, unless
// empty), most recently issued first.
func storedKeys(ctx context.Context, store eventstore.Store, team string) ([]access.APIKeyState, error) {
	codec := eventstore.NewDomainCodec()
	prefix := access.StreamID("")
	var out []access.APIKeyState
	after := prefix
	for {
		streams, err := store.Streams(ctx, after, keyListPage)
		if err != nil {
			return nil, fmt.Errorf("list key streams: %w", err)
		}
		for _, s := range streams {
			if !strings.HasPrefix(s.StreamID, prefix) {
				sortKeys(out)
				return out, nil
			}
			if s.StreamType != access.StreamType {
				continue
			}
			k, err := loadKey(ctx, store, codec, s.StreamID)
			if err != nil {
				return nil, err
			}
			if st := k.State(); team == "" || st.TeamID == team {
				out = append(out, st)
			}
		}
		if len(streams) < keyListPage {
			sortKeys(out)
			return out, nil
		}
		after = streams[len(streams)-1].StreamID
	}
}

// sortKeys puts the newest first, then orders by id (stable across runs).
func sortKeys(keys []access.APIKeyState) {
	slices.SortFunc(keys, func(a, b access.APIKeyState) int {
		if c := b.IssuedAt.Compare(a.IssuedAt); c != 0 {
			return c
		}
		return strings.Compare(a.KeyID, b.KeyID)
	})
}

// loadKey rebuilds the key of an ApiKey stream.
func loadKey(ctx context.Context, store eventstore.Store, codec *eventstore.Codec, streamID string) (*access.APIKey, error) {
	recorded, err := store.ReadStream(ctx, streamID, eventstore.ReadStreamOptions{})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", streamID, err)
	}
	events := make([]access.Event, 0, len(recorded))
	for _, r := range recorded {
		v, err := codec.Decode(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", streamID, err)
		}
		if e, ok := v.(access.Event); ok {
			events = append(events, e)
		}
	}
	return access.Rehydrate(events...), nil
}

func listKeys(ctx context.Context, inv *invocation, team string, asJSON bool) error {
	store, err := openEventStoreReadOnly(ctx, inv.cfg, inv.log)
	if err != nil {
		return err
	}
	defer closeStore(inv, store)
	keys, err := storedKeys(ctx, store, team)
	if err != nil {
		return err
	}
	if asJSON {
		if keys == nil {
			keys = []access.APIKeyState{}
		}
		enc := json.NewEncoder(inv.stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(keys)
	}
	tw := tabwriter.NewWriter(inv.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTEAM\tROLE\tSTATUS\tISSUED\tREVOKED\tNAME")
	for _, k := range keys {
		revoked := "-"
		if !k.RevokedAt.IsZero() {
			revoked = k.RevokedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.KeyID, k.TeamID, k.Role, k.Status,
			k.IssuedAt.UTC().Format(time.RFC3339), revoked, k.Name)
	}
	return tw.Flush()
}

// ---- revoke ----

func keysRevokeCommand() *command {
	return &command{
		name:    "revoke",
		summary: "revoke an API key, for good",
		args:    "ID [--reason R]",
		maxArgs: 1,
		description: "Revokes the API key ID (the id `cspm keys list` shows, the part between\n" +
			"cspm_ and the second _ of the key). Servers refuse it within a second.",
		groups: storeGroups,
		build: func(fs *flag.FlagSet) runFunc {
			reason := fs.String("reason", "", "why (recorded in the event)")
			return func(ctx context.Context, inv *invocation) error {
				if len(inv.args) != 1 {
					return usageError("give the id of the key to revoke")
				}
				return revokeKey(ctx, inv, inv.args[0], *reason)
			}
		},
	}
}

func revokeKey(ctx context.Context, inv *invocation, keyID, reason string) error {
	if !access.ValidKeyID(keyID) {
		if id, _, err := access.ParseToken(keyID); err == nil {
			keyID = id // a whole key was given: its id is enough
		} else {
			return usageError("%q is not a key id (%d characters of a-z and 2-7)", keyID, access.KeyIDLength)
		}
	}
	store, auditKey, release, err := openEventStoreToWrite(ctx, inv, "cspm keys revoke")
	if err != nil {
		return err
	}
	defer release()
	// The operator may revoke any team's key: act in the key's own team.
	first, err := store.ReadStream(ctx, access.StreamID(keyID), eventstore.ReadStreamOptions{ToVersion: 1})
	if err != nil {
		return fmt.Errorf("read key %s: %w", keyID, err)
	}
	if len(first) == 0 || first[0].StreamType != access.StreamType {
		return fmt.Errorf("no API key %s", keyID)
	}
	team := first[0].Metadata.TeamID
	h := platformcmd.New(commands.NewKit(store, eventstore.NewDomainCodec(), time.Now))
	res, err := h.RevokeKey(ctx, commands.Meta{TeamID: team, Actor: cliActor, Route: "cli keys revoke"},
		platformcmd.RevokeKey{KeyID: keyID, Reason: reason})
	if err != nil {
		return keyError(err)
	}
	takeCheckpoint(ctx, inv, store, auditKey)
	fmt.Fprintf(inv.stdout, "API key %s (team %s) revoked at position %d; servers refuse it within a second.\n", keyID, team, res.Position)
	return nil
}
