package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/commands"
	kbcmd "github.com/cspm-es/cspm-es/commands/knowledgebase"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/progress"
)

// `cspm kb embed` is the knowledge base's maintenance job run by hand
// (docs/knowledge-base.md, "Embedding"; decision 81): it reads the event
// log for every team's current chunk texts (no read model, no projector
// needed), asks the embedding service for the vectors of those the cache
// has none of for the model, and records each as it comes. It is
// idempotent (a text with a vector of the model is never sent again: a
// second run has nothing to do and says so) and resumable (killed, it
// keeps every vector recorded so far; the next run starts with what is
// left). Another --embeddings-model re-embeds every text for that model;
// the other model's vectors stay. On the embedded store it takes the data
// directory's lock, so it runs while no server does; a server with
// --embeddings-url runs the same job every --embeddings-interval.

const kbLockHint = "stop it first, or let it embed: serve runs the same job every --embeddings-interval when --embeddings-url is set"

func kbCommand() *command {
	return &command{
		name:    "kb",
		summary: "knowledge-base maintenance",
		description: "Maintenance of the knowledge base (docs/knowledge-base.md): `embed` embeds the\n" +
			"chunks that have no vector of the configured model.",
		subs: []*command{kbEmbedCommand()},
	}
}

// kbEmbedResult is the --json output of `kb embed`.
type kbEmbedResult struct {
	Model    string `json:"model"`
	Texts    int64  `json:"texts"`    // distinct chunk texts of every team
	Before   int64  `json:"before"`   // of them, with a vector of the model before the run
	Embedded int64  `json:"embedded"` // vectors recorded by this run
	Skipped  int64  `json:"skipped"`  // found recorded meanwhile (another embedder)
	Calls    int64  `json:"calls"`    // requests to the service
}

func kbEmbedCommand() *command {
	return &command{
		name:    "embed",
		summary: "embed the knowledge base's chunks lacking a vector of the model (idempotent, resumable)",
		args:    "[--batch N] [--json]",
		description: "Sends every distinct chunk text of every team's documents that has no vector of\n" +
			"--embeddings-model to the service at --embeddings-url, and records each vector\n" +
			"in the embedding cache (one per model and text, whatever the team). A text\n" +
			"already embedded with the model is never sent again: run twice, the second run\n" +
			"does nothing and says so; killed, the next run goes on with what is left. With\n" +
			"another model, every text is embedded again for it. A progress bar shows on a\n" +
			"terminal. On the embedded store it is refused while a server owns the data\n" +
			"directory (that server embeds every --embeddings-interval).",
		groups: storeGroups | config.GroupEmbeddings,
		build: func(fs *flag.FlagSet) runFunc {
			batch := fs.Int("batch", 32, "texts per request to the service")
			asJSON := fs.Bool("json", false, "print {model, texts, before, embedded, skipped, calls}")
			return func(ctx context.Context, inv *invocation) error {
				if inv.cfg.EmbeddingsURL == "" {
					return usageError("--embeddings-url (CSPM_EMBEDDINGS_URL) is required: the embedding service")
				}
				if *batch < 1 || *batch > 2048 {
					return usageError("--batch: must be from 1 to 2048")
				}
				return kbEmbed(ctx, inv, *batch, *asJSON)
			}
		},
	}
}

func kbEmbed(ctx context.Context, inv *invocation, batch int, asJSON bool) error {
	emb, err := newEmbedder(inv.cfg)
	if err != nil {
		return usageError("%v", err)
	}
	store, auditKey, release, err := openEventStoreToWrite(ctx, inv, "cspm kb embed", kbLockHint)
	if err != nil {
		return err
	}
	defer release()
	codec := eventstore.NewDomainCodec()
	texts, err := kbcmd.LoadStoreTexts(ctx, store, codec)
	if err != nil {
		return err
	}
	model := inv.cfg.EmbeddingsModel
	total, before, err := texts.CountTexts(ctx, model)
	if err != nil {
		return err
	}
	res := kbEmbedResult{Model: model, Texts: total, Before: before}
	bar := progress.New(inv.stderr, "embedding with "+model, total-before)
	h := kbcmd.New(commands.NewKit(store, codec, time.Now))
	st, err := h.EmbedMissing(ctx, kbcmd.EmbedJob{Model: model, Batch: batch, Texts: texts, Embedder: emb,
		Progress: func(done, _ int64) { bar.Update(done, total-before) },
		Meta:     commands.Meta{Actor: cliActor, Route: "cli kb embed"}})
	bar.Finish()
	res.Embedded, res.Skipped, res.Calls = st.Embedded, st.Skipped, st.Calls
	if st.Embedded > 0 {
		takeCheckpoint(ctx, inv, store, auditKey)
	}
	if err != nil {
		return fmt.Errorf("kb embed: stopped after %d vector(s) recorded (run it again to go on): %w", st.Embedded, err)
	}
	if asJSON {
		return writeJSON(inv.stdout, res)
	}
	switch {
	case total == 0:
		fmt.Fprintf(inv.stdout, "nothing to embed: the knowledge base has no chunks\n")
	case st.Embedded == 0 && st.Skipped == 0:
		fmt.Fprintf(inv.stdout, "nothing to embed: all %d chunk texts have a vector of %s\n", total, model)
	default:
		fmt.Fprintf(inv.stdout, "embedded %d chunk texts with %s (%d requests); %d of %d had a vector before", st.Embedded, model, st.Calls, before, total)
		if st.Skipped > 0 {
			fmt.Fprintf(inv.stdout, ", %d recorded meanwhile by another embedder", st.Skipped)
		}
		fmt.Fprintln(inv.stdout)
	}
	return nil
}
