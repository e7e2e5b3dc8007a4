package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/commands"
	platformcmd "github.com/cspm-es/cspm-es/commands/platform"
	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/auth"
	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/datadir"
	"github.com/cspm-es/cspm-es/queries"
	platformquery "github.com/cspm-es/cspm-es/queries/platform"
)

// API keys in `cspm serve` (api role): the authenticator over the event
// store, the key routes' service, and the admin key of the first start.
// docs/api-keys.md describes the whole.

// adminKeyFile is where the first start writes the admin key, under the
// data directory; CLI commands that call the server read it from there.
const adminKeyFile = "admin.key"

// apiKeyEnv overrides the key CLI commands send to the server. It is read
// by the CLI only (not a server setting, so not in platform/config).
const apiKeyEnv = "CSPM_API_KEY"

// bannerOutput is where the first start prints the admin key (stdout of
// `cspm serve`; nowhere in tests). Never the log.
type bannerOutput struct{ io.Writer }

// newAuthenticator authenticates bearer keys from the event store.
func newAuthenticator(store eventstore.Store, codec *eventstore.Codec) *auth.Authenticator {
	return auth.New(store, codec, auth.Config{})
}

// authenticatorPort is the authenticator as the API server takes it.
func authenticatorPort(a *auth.Authenticator) api.Authenticator { return a }

// keyService serves the key routes: the command handlers, the key list
// query, and the authenticator, whose cache forgets a key revoked here at
// once (other processes notice within auth.DefaultTTL).
type keyService struct {
	cmds  *platformcmd.Handlers
	query *platformquery.Service
	auth  *auth.Authenticator
}

func newKeyService(cmds *platformcmd.Handlers, q *platformquery.Service, a *auth.Authenticator) api.KeyService {
	return &keyService{cmds: cmds, query: q, auth: a}
}

func (k *keyService) IssueKey(ctx context.Context, m commands.Meta, cmd platformcmd.IssueKey) (platformcmd.IssuedKey, error) {
	return k.cmds.IssueKey(ctx, m, cmd)
}

func (k *keyService) RevokeKey(ctx context.Context, m commands.Meta, cmd platformcmd.RevokeKey) (commands.Result, error) {
	res, err := k.cmds.RevokeKey(ctx, m, cmd)
	if err == nil {
		k.auth.Invalidate(cmd.KeyID)
	}
	return res, err
}

func (k *keyService) ListKeys(ctx context.Context, team string, p queries.Page) (platformquery.APIKeyList, error) {
	return k.query.ListKeys(ctx, team, p)
}

// bootstrapIdempotencyKey makes the first-start issue one command however
// many api processes start on an empty store at once: the first appends,
// the others get its result (without the key, which only the first shows).
const bootstrapIdempotencyKey = "first-start-admin-key"

// registerBootstrap issues the first admin key when the app starts on an
// empty event store (see bootstrapAdminKey). It runs before the API
// listens.
func registerBootstrap(lc fx.Lifecycle, cfg config.Config, store eventstore.Store, cmds *platformcmd.Handlers, log *slog.Logger, out bannerOutput) {
	lc.Append(fx.StartHook(func(ctx context.Context) error {
		return bootstrapAdminKey(ctx, cfg, store, cmds, log.With("component", "keys"), out)
	}))
}

// bootstrapAdminKey: on an empty event store (head position 0), issue an
// admin key for cfg.DefaultTeam, write it to <data-dir>/admin.key (mode
// 0600, atomically, never over an existing file) and print it once to out.
// The log says where the key is, never what it is.
//
// An empty store beside an existing admin.key is refused (the start
// fails): that key was issued by a store which is gone (deleted, moved, or
// another --data-dir, --db-prefix or MongoDB database), so events were lost
// or the configuration points at the wrong place. Issuing a new key there
// would overwrite the only trace of it.
func bootstrapAdminKey(ctx context.Context, cfg config.Config, store eventstore.Store, cmds *platformcmd.Handlers, log *slog.Logger, out io.Writer) error {
	head, err := store.HeadPosition(ctx)
	if err != nil {
		return fmt.Errorf("first start: read the event store head: %w", err)
	}
	if head > 0 {
		return nil
	}
	path := filepath.Join(cfg.DataDir, adminKeyFile)
	if err := checkNoStaleKey(ctx, store, path); err != nil {
		return err
	}
	k, err := cmds.IssueKey(ctx, commands.Meta{
		TeamID:         cfg.DefaultTeam,
		Actor:          "system:first-start",
		Route:          "serve first start",
		IdempotencyKey: bootstrapIdempotencyKey,
	}, platformcmd.IssueKey{Name: "first-start admin", Role: string(access.Admin)})
	if err != nil {
		return fmt.Errorf("first start: issue the admin API key: %w", err)
	}
	if k.Duplicate {
		log.Info("first start: another process issued the admin API key; it is in that process's data directory",
			"team", k.TeamID)
		return nil
	}
	werr := writeKeyFile(path, k.Key)
	printBanner(out, k, path, bannerURL(cfg.HTTPAddr), werr)
	if werr != nil {
		log.Error("first start: the admin API key could not be saved; it was printed on stdout, once",
			"file", path, "error", werr)
		return nil
	}
	log.Info("first start: admin API key created and saved",
		"team", k.TeamID, "file", path,
		"use", fmt.Sprintf("Authorization: Bearer $(cat %s)", path))
	return nil
}

// errStaleAdminKey: the event store is empty but admin.key exists.
var errStaleAdminKey = errors.New("the event store is empty but an admin key of an earlier first start exists")

// checkNoStaleKey fails when path exists beside an empty store. Another
// api process that has just issued the first key (and written path) is
// told apart by reading the head again: it appended before writing.
func checkNoStaleKey(ctx context.Context, store eventstore.Store, path string) error {
	_, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("first start: %s: %w", path, err)
	}
	head, err := store.HeadPosition(ctx)
	if err != nil {
		return fmt.Errorf("first start: read the event store head: %w", err)
	}
	if head > 0 {
		return nil
	}
	return fmt.Errorf("first start refused: %w: %s. The store that key belongs to is gone (deleted or moved), "+
		"or this is not the configuration it was served with (--data-dir, --db-prefix, --store). "+
		"If events were lost, restore the event store from a backup; if you really mean to start "+
		"afresh, move %s away and start again (a new admin key is then issued)", errStaleAdminKey, path, path)
}

// printBanner shows the first-start admin key, once, on out.
func printBanner(out io.Writer, k platformcmd.IssuedKey, path, base string, werr error) {
	rule := strings.Repeat("=", 72)
	saved := fmt.Sprintf("It is saved in %s (mode 0600) and shown here this once.", path)
	if werr != nil {
		saved = fmt.Sprintf("It could NOT be saved in %s (%v): copy it now, it is shown this once.", path, werr)
	}
	fmt.Fprintf(out, "%s\ncspm first start: an admin API key was created for team %q.\n%s\n\n    %s\n\n"+
		"Send it as a bearer token, e.g.\n    curl -H \"Authorization: Bearer $(cat %s)\" %s/api/v1/keys\n"+
		"Create more keys with POST /api/v1/keys; revoke this one with POST /api/v1/keys/%s/revoke\n"+
		"(or `cspm keys create` / `cspm keys revoke` while the server is stopped).\n%s\n",
		rule, k.TeamID, saved, k.Key, path, base, k.ID, rule)
}

// bannerURL is where the server will listen, for the banner's example
// (the port is not known yet when it is 0).
func bannerURL(addr string) string {
	if strings.HasSuffix(addr, ":0") {
		return "http://<listen address>"
	}
	return serverURL(addr)
}

// writeKeyFile writes key to path, readable by the owner only, and never
// over an existing file: the key goes to a temporary file (os.CreateTemp:
// mode 0600, so it is never readable by others, not even for a moment),
// which is synced and then hard-linked to path; the link fails if path
// exists. The directory is created if needed.
func writeKeyFile(path, key string) (err error) {
	dir := filepath.Dir(path)
	if err := datadir.MkdirAll(dir); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}()
	if _, err := io.WriteString(f, key+"\n"); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Link(f.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s exists already: not overwritten", path)
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// cliAPIKey is the key CLI commands send to the server: CSPM_API_KEY if
// set, else the admin key the server's first start wrote to
// <data-dir>/admin.key.
func cliAPIKey(inv *invocation) (string, error) {
	if inv.env != nil {
		if v, ok := inv.env(apiKeyEnv); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v), nil
		}
	}
	path := filepath.Join(inv.cfg.DataDir, adminKeyFile)
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("no API key: set %s, or run against the data directory whose %s the server wrote on first start "+
			"(%s does not exist; --data-dir / CSPM_DATA_DIR); `cspm keys create --team T --role admin` issues a new key",
			apiKeyEnv, adminKeyFile, path)
	case err != nil:
		return "", fmt.Errorf("read the API key: %w (or set %s)", err, apiKeyEnv)
	}
	key := strings.TrimSpace(string(raw))
	if key == "" {
		return "", fmt.Errorf("%s is empty: set %s, or issue a key with `cspm keys create`", path, apiKeyEnv)
	}
	return key, nil
}
