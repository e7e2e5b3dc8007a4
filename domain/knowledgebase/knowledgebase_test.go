package knowledgebase_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain"
	kb "github.com/cspm-es/cspm-es/domain/knowledgebase"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

type chunkWant struct {
	heading, text string
}

func chunkTexts(text string, spans []kb.ChunkSpan) []chunkWant {
	out := make([]chunkWant, len(spans))
	for i, s := range spans {
		out[i] = chunkWant{s.Heading, kb.ChunkText(text, s)}
	}
	return out
}

// Given a text, a format and the chunking, when it is split, then these
// are its chunks (heading, text), in order.
func TestSplit(t *testing.T) {
	t.Parallel()
	small := kb.Chunking{Max: 50, Overlap: 10}
	for _, tc := range []struct {
		name   string
		format kb.Format
		c      kb.Chunking
		text   string
		want   []chunkWant
	}{
		{"two short paragraphs pack into one chunk", kb.FormatText, kb.DefaultChunking, "alpha beta\n\ngamma delta",
			[]chunkWant{{"", "alpha beta\n\ngamma delta"}}},
		{"paragraphs that overflow Max start a new chunk", kb.FormatText, small,
			"first paragraph is thirty chars\n\nsecond paragraph is thirty char\n\nthird",
			[]chunkWant{{"", "first paragraph is thirty chars"}, {"", "second paragraph is thirty char\n\nthird"}}},
		{"markdown headings close a chunk and name the section (an empty one: no name)", kb.FormatMarkdown, kb.DefaultChunking,
			"# Intro\n\nhello\n\n## Rotate keys\nrotate every 90 days\n\n### \nempty heading",
			[]chunkWant{{"Intro", "hello"}, {"Rotate keys", "rotate every 90 days"}, {"", "empty heading"}}},
		{"plain text has no headings", kb.FormatText, kb.DefaultChunking, "# Intro\nhello",
			[]chunkWant{{"", "# Intro\nhello"}}},
		{"#word is not a heading", kb.FormatMarkdown, kb.DefaultChunking, "#hashtag\ntext",
			[]chunkWant{{"", "#hashtag\ntext"}}},
		{"blank and whitespace-only text has no chunks", kb.FormatText, kb.DefaultChunking, " \n\n\t\n", nil},
		{"a heading with nothing under it has no chunk", kb.FormatMarkdown, kb.DefaultChunking, "# Empty\n\n# Full\nbody",
			[]chunkWant{{"Full", "body"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			text := kb.Normalize(tc.text)
			spans := kb.Split(text, tc.format, tc.c)
			var got []chunkWant
			if len(spans) > 0 {
				got = chunkTexts(text, spans)
			}
			assert.Equal(t, tc.want, got)
			for i, s := range spans {
				assert.Equal(t, i, s.Index)
				assert.Equal(t, kb.TextHash(kb.ChunkText(text, s)), s.TextHash)
			}
		})
	}
}

// Given one paragraph longer than Max, when it is split, then windows of
// at most Max characters cover it, each overlapping the previous one,
// cut at a space when there is one, never inside a UTF-8 sequence.
func TestSplitLongParagraph(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		text string
	}{
		{"words", strings.Repeat("lorem ipsum dolor ", 40)},
		{"no spaces, multi-byte", strings.Repeat("é€😀a", 100)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := kb.Chunking{Max: 100, Overlap: 20}
			text := kb.Normalize(strings.TrimSpace(tc.text))
			spans := kb.Split(text, kb.FormatText, c)
			require.Greater(t, len(spans), 3)
			assert.Equal(t, 0, spans[0].Start)
			assert.Equal(t, len(text), spans[len(spans)-1].End)
			for i, s := range spans {
				body := kb.ChunkText(text, s)
				assert.True(t, utf8.ValidString(body), "chunk %d valid UTF-8", i)
				assert.LessOrEqual(t, utf8.RuneCountInString(body), c.Max, "chunk %d", i)
				if i > 0 {
					assert.Less(t, s.Start, spans[i-1].End, "chunk %d overlaps the previous one", i)
					assert.Greater(t, s.Start, spans[i-1].Start, "chunk %d moves on", i)
				}
				if tc.name == "words" && s.End < len(text) {
					assert.Equal(t, byte(' '), text[s.End], "chunk %d cut at a space", i)
				}
			}
		})
	}
}

// Given the same words spaced or broken differently, the text hash is
// the same; given another case or another model, it is not.
func TestHashes(t *testing.T) {
	t.Parallel()
	h := kb.TextHash("Rotate  the keys\n every 90 days ")
	for _, tc := range []struct {
		name string
		text string
		same bool
	}{
		{"white space runs", "Rotate the keys every 90 days", true},
		{"line breaks and tabs", "\tRotate\nthe keys\r\nevery 90 days", true},
		{"case is kept", "rotate the keys every 90 days", false},
		{"another word", "Rotate the keys every 30 days", false},
	} {
		assert.Equal(t, tc.same, kb.TextHash(tc.text) == h, tc.name)
	}
	assert.Len(t, h, 64)
	assert.Equal(t, kb.ContentHash("m1", h), kb.ContentHash("m1", kb.TextHash("Rotate the keys every 90 days")), "one entry per model and text")
	assert.NotEqual(t, kb.ContentHash("m1", h), kb.ContentHash("m2", h), "another model, another entry")
	assert.NotEqual(t, kb.ContentHash("m1", h), h)
}

// Given a document spec, when it is added, then it is accepted or refused
// naming the field.
func TestAddDocument(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		id     string
		spec   kb.DocumentSpec
		fields []string
	}{
		{"text", "d1", kb.DocumentSpec{Title: "Runbook", Text: "hello"}, nil},
		{"markdown, upper-case ids and CRLF", "d1", kb.DocumentSpec{Title: " Runbook ", Format: kb.FormatMarkdown, Text: "# A\r\nx\r\n"}, nil},
		{"at the size limit", "d1", kb.DocumentSpec{Title: "t", Text: strings.Repeat("a ", kb.MaxTextBytes/2)}, nil},
		{"no id", "", kb.DocumentSpec{Title: "t", Text: "x"}, []string{"document_id"}},
		{"no title", "d1", kb.DocumentSpec{Title: "  ", Text: "x"}, []string{"title"}},
		{"title too long", "d1", kb.DocumentSpec{Title: strings.Repeat("t", kb.MaxTitle+1), Text: "x"}, []string{"title"}},
		{"title with a line break", "d1", kb.DocumentSpec{Title: "a\nb", Text: "x"}, []string{"title"}},
		{"unknown format", "d1", kb.DocumentSpec{Title: "t", Format: "pdf", Text: "x"}, []string{"format"}},
		{"empty text", "d1", kb.DocumentSpec{Title: "t", Text: " \n "}, []string{"text"}},
		{"text over the size limit", "d1", kb.DocumentSpec{Title: "t", Text: strings.Repeat("a", kb.MaxTextBytes+1)}, []string{"text"}},
		{"text not UTF-8", "d1", kb.DocumentSpec{Title: "t", Text: "a\xffb"}, []string{"text"}},
		{"text with NUL", "d1", kb.DocumentSpec{Title: "t", Text: "a\x00b"}, []string{"text"}},
		{"too many chunks", "d1", kb.DocumentSpec{Title: "t", Text: strings.Repeat(strings.Repeat("x", 40)+"\n\n", kb.MaxChunks+1)}, []string{"text"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := kb.DefaultChunking
			if tc.name == "too many chunks" {
				c = kb.Chunking{Max: kb.MinChunkMax, Overlap: 0}
			}
			evs, err := kb.AddDocument(tc.id, tc.spec, c, t0)
			if tc.fields == nil {
				require.NoError(t, err)
				require.Len(t, evs, 1)
				e := evs[0].(kb.DocumentAdded)
				assert.Equal(t, strings.TrimSpace(tc.spec.Title), e.Title)
				assert.NotContains(t, e.Text, "\r")
				assert.NotEmpty(t, e.Chunks)
				if tc.spec.Format == "" {
					assert.Equal(t, kb.FormatText, e.Format)
				}
				return
			}
			var ve *domain.ValidationError
			require.ErrorAs(t, err, &ve)
			var got []string
			for _, f := range ve.Fields {
				got = append(got, f.Field)
			}
			assert.Equal(t, tc.fields, got)
			assert.Nil(t, evs)
		})
	}
}

// Given a document's history, when it is updated or removed, then the
// rule decides.
func TestDocumentLifecycle(t *testing.T) {
	t.Parallel()
	added, err := kb.AddDocument("d1", kb.DocumentSpec{Title: "t", Text: "one"}, kb.DefaultChunking, t0)
	require.NoError(t, err)
	removed := kb.DocumentRemoved{DocumentID: "d1", RemovedAt: t0}
	for _, tc := range []struct {
		name    string
		history []kb.Event
		act     func(d *kb.Document) ([]kb.Event, error)
		code    string
		want    string
	}{
		{"update a live document", added, func(d *kb.Document) ([]kb.Event, error) {
			return d.Update(kb.DocumentSpec{Title: "t2", Text: "two"}, kb.DefaultChunking, t0)
		}, "", "KnowledgeDocumentUpdated"},
		{"remove a live document", added, func(d *kb.Document) ([]kb.Event, error) { return d.Remove(t0) }, "", "KnowledgeDocumentRemoved"},
		{"update an unknown document", nil, func(d *kb.Document) ([]kb.Event, error) {
			return d.Update(kb.DocumentSpec{Title: "t", Text: "x"}, kb.DefaultChunking, t0)
		}, kb.CodeDocumentNotAdded, ""},
		{"remove a removed document", append(append([]kb.Event{}, added...), removed), func(d *kb.Document) ([]kb.Event, error) { return d.Remove(t0) },
			kb.CodeDocumentRemoved, ""},
		{"update a removed document", append(append([]kb.Event{}, added...), removed), func(d *kb.Document) ([]kb.Event, error) {
			return d.Update(kb.DocumentSpec{Title: "t", Text: "x"}, kb.DefaultChunking, t0)
		}, kb.CodeDocumentRemoved, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := tc.act(kb.RehydrateDocument(tc.history...))
			if tc.code != "" {
				var re *domain.RuleError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, tc.code, re.Code)
				return
			}
			require.NoError(t, err)
			require.Len(t, evs, 1)
			assert.Equal(t, tc.want, evs[0].EventType())
		})
	}
}

// Given a text, its BM25 terms are these.
func TestTokens(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"The S3 bucket is PUBLIC!", []string{"s3", "bucket", "public"}},
		{"s3_bucket_public_access failed", []string{"s3_bucket_public_access", "failed"}},
		{"CVE-2024-3094 in xz", []string{"cve", "2024", "3094", "xz"}},
		{"a I x of to", nil},
		{"Ünïcödé wörds, café", []string{"ünïcödé", "wörds", "café"}},
		{"__x__ _ab_", []string{"ab"}},
		{strings.Repeat("z", kb.MaxTermLen+1) + " ok", []string{"ok"}},
	} {
		assert.Equal(t, tc.want, kb.Tokens(tc.text), tc.text)
	}
	counts, n := kb.TermCounts("key key rotation the key")
	assert.Equal(t, map[string]int{"key": 3, "rotation": 1}, counts)
	assert.Equal(t, 4, n)
}

// Given tf, df, N and lengths, the BM25 contribution behaves as the
// formula says.
func TestBM25(t *testing.T) {
	t.Parallel()
	base := kb.BM25(1, 1, 10, 10, 10)
	assert.InDelta(t, 1.9924, base, 1e-3, "idf ln(1+9.5/1.5)·1")
	assert.Greater(t, kb.BM25(2, 1, 10, 10, 10), base, "more occurrences, more score")
	assert.Less(t, kb.BM25(2, 1, 10, 10, 10), 2*base, "saturating")
	assert.Less(t, kb.BM25(1, 5, 10, 10, 10), base, "a commoner term weighs less")
	assert.Less(t, kb.BM25(1, 1, 10, 20, 10), base, "a longer chunk weighs less")
	assert.Zero(t, kb.BM25(0, 1, 10, 10, 10))
	assert.Zero(t, kb.BM25(1, 0, 10, 10, 10))
	assert.Greater(t, kb.BM25(1, 1, 10, 10, 0), 0.0, "no average length: 1")
}

// Given a text, it mentions these ids (kind then id order, each once).
func TestMentions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		text string
		want []kb.Mention
	}{
		{"cve upper-cased, once", "cve-2024-3094 and CVE-2024-3094, CVE-2021-44228", []kb.Mention{
			{kb.MentionCVE, "CVE-2021-44228"}, {kb.MentionCVE, "CVE-2024-3094"}}},
		{"ghsa lower-cased", "see GHSA-JFH8-C2JP-5V3Q", []kb.Mention{{kb.MentionGHSA, "GHSA-jfh8-c2jp-5v3q"}}},
		{"check ids", "s3_bucket_public_access and iam_root_mfa_enabled but not two_words", []kb.Mention{
			{kb.MentionCheck, "iam_root_mfa_enabled"}, {kb.MentionCheck, "s3_bucket_public_access"}}},
		{"requirement ids", "NIST AC-2, SOC 2 CC6.1, ISO A.5.1 and PR.AC-1", []kb.Mention{
			{kb.MentionRequirement, "A.5.1"}, {kb.MentionRequirement, "AC-2"}, {kb.MentionRequirement, "CC6.1"}, {kb.MentionRequirement, "PR.AC-1"}}},
		{"a CVE is not a requirement", "CVE-2024-3094", []kb.Mention{{kb.MentionCVE, "CVE-2024-3094"}}},
		{"imported findings' ids", "see fnd-0123456789abcdef0123456789abcdef and fnd-12345678901234567890123456789012, not fnd-123", []kb.Mention{
			{kb.MentionFinding, "fnd-0123456789abcdef0123456789abcdef"}, {kb.MentionFinding, "fnd-12345678901234567890123456789012"}}},
		{"nothing", "rotate the keys", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, kb.Mentions(tc.text))
		})
	}
	var many strings.Builder
	for i := range 100 {
		many.WriteString("CVE-2024-" + strings.Repeat("1", 4) + string(rune('0'+i%10)) + string(rune('0'+i/10)) + " ")
	}
	assert.Len(t, kb.Mentions(many.String()), kb.MaxMentions, "bounded")
}

// Given a vector, it is recorded or refused naming the field; the entry's
// content hash is the model's and the text's.
func TestRecordEmbedding(t *testing.T) {
	t.Parallel()
	h := kb.TextHash("x")
	nan := float32(0)
	nan = nan / nan
	for _, tc := range []struct {
		name   string
		model  string
		hash   string
		vec    []float32
		fields []string
	}{
		{"ok", "m1", h, []float32{1, 0}, nil},
		{"no model", "", h, []float32{1}, []string{"model"}},
		{"bad hash", "m1", "abc", []float32{1}, []string{"text_hash"}},
		{"empty vector", "m1", h, nil, []string{"vector"}},
		{"too many dimensions", "m1", h, make([]float32, kb.MaxDimensions+1), []string{"vector"}},
		{"NaN", "m1", h, []float32{1, nan}, []string{"vector"}},
	} {
		evs, err := kb.RecordEmbedding(tc.model, tc.hash, tc.vec, t0)
		if tc.fields == nil {
			require.NoError(t, err, tc.name)
			e := evs[0].(kb.EmbeddingRecorded)
			assert.Equal(t, kb.ContentHash("m1", h), e.ContentHash)
			assert.Equal(t, 2, e.Dimensions)
			continue
		}
		var ve *domain.ValidationError
		require.ErrorAs(t, err, &ve, tc.name)
		assert.Equal(t, tc.fields[0], ve.Fields[0].Field, tc.name)
	}
	assert.InDelta(t, 1, kb.Cosine([]float32{1, 2}, []float32{2, 4}), 1e-9)
	assert.InDelta(t, 0, kb.Cosine([]float32{1, 0}, []float32{0, 1}), 1e-9)
	assert.Zero(t, kb.Cosine([]float32{1}, []float32{1, 2}), "lengths differ")
	assert.Zero(t, kb.Cosine([]float32{0, 0}, []float32{1, 2}), "zero vector")
}
