package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/commands"
	privacycmd "github.com/cspm-es/cspm-es/commands/privacy"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/privacy"
	"github.com/cspm-es/cspm-es/platform/secretbox"
	"github.com/cspm-es/cspm-es/projections"
	platformproj "github.com/cspm-es/cspm-es/projections/platform"
)

// Crypto-shredding in cspm (docs/privacy.md, decisions 91-93): the codec
// seals the personal fields under the subjects' keys, kept in a keyring
// outside the event store (<data-dir>/privacy, each key sealed with the
// master key <data-dir>/privacy.key); the forget route destroys a key,
// records the fact and rebuilds the projections that hold personal fields.

// The environment variables of crypto-shredding (read here, not in
// platform/config, like the integrations' key: docs/configuration.md).
const (
	envPrivacyKey     = "CSPM_PRIVACY_KEY"      // master keys inline (base64 or hex, comma-separated; the first seals)
	envPrivacyKeyFile = "CSPM_PRIVACY_KEY_FILE" // a file of master keys (default <data-dir>/privacy.key, created 0600)
	envPrivacyDir     = "CSPM_PRIVACY_DIR"      // the keyring's directory (default <data-dir>/privacy)
	privacyKeyFile    = "privacy.key"
	privacyDir        = "privacy"
)

// openKeyring opens the subjects' keyring; create says whether a missing
// master key file may be created (serve) or means "no keyring" (read-only
// commands: nil, nil).
func openKeyring(cfg config.Config, log *slog.Logger, create bool) (*privacy.Keyring, error) {
	dir := filepath.Join(cfg.DataDir, privacyDir)
	if v, ok := os.LookupEnv(envPrivacyDir); ok && v != "" {
		dir = v
	}
	var keys [][]byte
	if v, ok := os.LookupEnv(envPrivacyKey); ok && v != "" {
		k, err := secretbox.ParseKeys(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", envPrivacyKey, err)
		}
		keys = k
	} else {
		path := filepath.Join(cfg.DataDir, privacyKeyFile)
		if v, ok := os.LookupEnv(envPrivacyKeyFile); ok && v != "" {
			path = v
		}
		if !create {
			if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
				return nil, nil
			}
		}
		k, created, err := secretbox.LoadOrCreateFile(path)
		if err != nil {
			return nil, err
		}
		if created {
			log.Warn("privacy master key created: back it up apart from the databases (without it no personal field opens)",
				"component", "privacy", "path", path, "key_id", secretbox.KeyID(k[0]))
		}
		keys = k
	}
	box, err := secretbox.New(keys...)
	if err != nil {
		return nil, fmt.Errorf("privacy master key: %w", err)
	}
	if !create {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
	}
	return privacy.Open(dir, box)
}

// newDomainCodec is the domain codec sealing personal fields with the
// keyring (serve: the master key is created on the first start).
func newDomainCodec(cfg config.Config, log *slog.Logger) (*eventstore.Codec, *privacy.Keyring, error) {
	keys, err := openKeyring(cfg, log, true)
	if err != nil {
		return nil, nil, err
	}
	codec := eventstore.NewDomainCodec()
	codec.SetSubjectKeys(keys)
	return codec, keys, nil
}

// readCodec is the codec of the read-only commands (events replay): it
// opens personal fields when the data directory has a keyring, and shows
// them as sealed otherwise.
func readCodec(cfg config.Config, log *slog.Logger) (*eventstore.Codec, error) {
	codec := eventstore.NewDomainCodec()
	keys, err := openKeyring(cfg, log, false)
	if err != nil {
		return nil, err
	}
	if keys != nil {
		codec.SetSubjectKeys(keys)
	}
	return codec, nil
}

// noPersonalData are the projections that listen to personal events but
// keep none of their data (the audit log keeps the envelope only).
var noPersonalData = []string{platformproj.AuditLogName}

// personalProjections are the projections that hold personal fields: those
// listening to an event type with personal fields (decision 93).
func personalProjections(ps []projections.Projection, codec *eventstore.Codec) []string {
	personal := codec.PersonalFields()
	var out []string
	for _, p := range ps {
		if slices.Contains(noPersonalData, p.Name()) {
			continue
		}
		for _, t := range p.EventTypes() {
			if _, ok := personal[t]; ok {
				out = append(out, p.Name())
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// manyRebuilder starts one rebuild job over several projections (the
// in-process runtime's rebuilds).
type manyRebuilder interface {
	startMany(ctx context.Context, names []string) (api.RebuildStarted, error)
}

// startMany starts one job rebuilding names one after another; a name
// already rebuilding is api.ErrRebuildInProgress.
func (r *rebuilds) startMany(ctx context.Context, names []string) (api.RebuildStarted, error) {
	rebuilding := map[string]bool{}
	for _, s := range r.rt.Status(ctx) {
		rebuilding[s.Name] = s.State == projections.StateRebuilding
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return api.RebuildStarted{}, api.ErrProjectorUnavailable
	}
	for _, n := range names {
		if r.jobs[n] != nil || rebuilding[n] {
			return api.RebuildStarted{}, fmt.Errorf("%w: %s", api.ErrRebuildInProgress, n)
		}
	}
	now := time.Now().UTC()
	jctx, cancel := context.WithCancel(context.Background())
	job := &rebuildJob{names: slices.Clone(names), cancel: cancel}
	for _, n := range names {
		r.jobs[n] = job
		r.last[n] = api.RebuildProgress{Phase: api.RebuildQueued, StartedAt: now}
	}
	r.log.Info("rebuild requested", "projections", names, "reason", "data subject forgotten")
	r.wg.Go(func() { r.run(jctx, job) })
	return api.RebuildStarted{Projections: slices.Clone(names), RequestedAt: now}, nil
}

func (a *runtimeAdmin) startMany(ctx context.Context, names []string) (api.RebuildStarted, error) {
	return a.rebuilds.startMany(ctx, names)
}

// privacyService is api.PrivacyService: the forget command, then the
// rebuild of the projections holding personal fields when this process
// runs the projector (else they are reported as to rebuild).
type privacyService struct {
	h        *privacycmd.Handlers
	personal []string
	rebuild  manyRebuilder // nil without the projector role
	log      *slog.Logger
}

type privacyParams struct {
	fx.In
	Kit         *commands.Kit
	Keys        *privacy.Keyring
	Codec       *eventstore.Codec
	Projections []projections.Projection
	ReadSide    ReadSide
	Logger      *slog.Logger
}

func newPrivacyService(p privacyParams) *privacyService {
	s := &privacyService{h: privacycmd.New(p.Kit, p.Keys), personal: personalProjections(p.Projections, p.Codec),
		log: p.Logger.With("component", "privacy")}
	if r, ok := p.ReadSide.Admin.(manyRebuilder); ok {
		s.rebuild = r
	}
	return s
}

// Forget forgets the subject, then rebuilds. The log names the subject id,
// never the subject.
func (s *privacyService) Forget(ctx context.Context, m commands.Meta, cmd privacycmd.Forget) (api.ForgetResult, error) {
	f, err := s.h.Forget(ctx, m, cmd)
	if err != nil {
		return api.ForgetResult{}, err
	}
	s.log.Info("data subject forgotten", "team", m.TeamID, "subject_id", f.SubjectID, "key_existed", f.KeyExisted, "position", f.Position)
	if f.Duplicate {
		return api.NewForgetResult(f, api.RebuildStarted{}, nil), nil
	}
	if s.rebuild == nil {
		return api.NewForgetResult(f, api.RebuildStarted{}, s.personal), nil
	}
	started, err := s.rebuild.startMany(context.WithoutCancel(ctx), s.personal)
	if err != nil {
		s.log.Warn("rebuild after forget not started: rebuild these projections", "projections", s.personal, "err", err)
		return api.NewForgetResult(f, api.RebuildStarted{}, s.personal), nil
	}
	return api.NewForgetResult(f, started, nil), nil
}

var privacyModule = fx.Module("privacy",
	fx.Provide(newPrivacyService),
)
