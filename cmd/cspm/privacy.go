package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/cspm-es/cspm-es/api"
)

// `cspm privacy forget SUBJECT` asks a running server to forget a data
// subject (crypto-shredding, docs/privacy.md): the server destroys the
// subject's key, records the fact and rebuilds the projections that hold
// personal fields, which this command follows to the end. It talks HTTP
// like `cspm projections`: the key ring and the live projectors are the
// server's.

func privacyCommand() *command {
	return &command{
		name:    "privacy",
		summary: "crypto-shredding: forget a data subject",
		description: "Personal fields of events (owners, approvers, assignees and what they\n" +
			"wrote; docs/privacy.md) are stored encrypted under a key per data subject,\n" +
			"held outside the event store. `forget` destroys a subject's key through a\n" +
			"running `cspm serve` (--server, by default http://<--http-addr>).",
		subs: []*command{privacyForgetCommand()},
	}
}

func privacyForgetCommand() *command {
	return &command{
		name:    "forget",
		summary: "forget a data subject of the key's team: its personal data reads as erased",
		args:    "SUBJECT",
		maxArgs: 1,
		groups:  projectionGroups,
		description: "Forgets SUBJECT (an email or a name as the events hold it; matched\n" +
			"trimmed, spaces collapsed, case-insensitively) in the team of the admin\n" +
			"key used (CSPM_API_KEY, else <data-dir>/admin.key): its key is destroyed,\n" +
			"DataSubjectForgotten is recorded (with the subject's keyed id only), and\n" +
			"every read, replay and export shows its personal fields as [erased];\n" +
			"`cspm events verify` still passes. The server rebuilds the read models\n" +
			"holding personal fields: this command follows them with progress until\n" +
			"done (--wait=false returns at once). Exits 1 if a rebuild fails or one\n" +
			"must be started by hand (`cspm projections rebuild NAME`).",
		build: func(fs *flag.FlagSet) runFunc {
			cf := addClientFlags(fs)
			wait := fs.Bool("wait", true, "follow the rebuild of the read models until it is done")
			return func(ctx context.Context, inv *invocation) error {
				if len(inv.args) == 0 || strings.TrimSpace(inv.args[0]) == "" {
					return usageError("whom? give the SUBJECT (an email or a name)")
				}
				c, err := cf.client(inv)
				if err != nil {
					return err
				}
				var res api.ForgetResult
				path := "/api/v1/privacy/subjects/" + url.PathEscape(inv.args[0]) + "/forget"
				if err := c.do(ctx, http.MethodPost, path, nil, &res); err != nil {
					return err
				}
				fmt.Fprintf(inv.stdout, "forgotten: subject id %s (key destroyed: %t), position %d\n", res.SubjectID, res.KeyExisted, res.Position)
				if len(res.RebuildRequired) > 0 {
					return &exitError{code: exitFailure, err: fmt.Errorf("the server did not rebuild %s: run `cspm projections rebuild NAME` for each",
						strings.Join(res.RebuildRequired, ", "))}
				}
				if !*wait || len(res.Rebuilding) == 0 {
					return nil
				}
				return followRebuild(ctx, inv, c, api.RebuildStarted{Projections: res.Rebuilding, RequestedAt: res.RebuildRequestedAt}, "the forget", nil)
			}
		},
	}
}
