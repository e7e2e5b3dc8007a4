package knowledgebase

import (
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// BM25 (docs/knowledge-base.md, "Lexical search"): the score of a chunk
// for a query is the sum over the query's distinct terms t of
//
//	idf(t) · tf·(k1+1) / (tf + k1·(1 − b + b·len/avglen))
//	idf(t) = ln(1 + (N − df + 0.5)/(df + 0.5))
//
// with N the team's chunks, df the team's chunks holding t, tf the
// term's count in the chunk, len the chunk's terms and avglen the team's
// mean; K1 = 1.2 and B = 0.75 (the usual values: Lucene's defaults).
const (
	K1 = 1.2
	B  = 0.75
)

// BM25 is one term's contribution.
func BM25(tf, df, n int, length, avgLength float64) float64 {
	if tf <= 0 || df <= 0 || n <= 0 {
		return 0
	}
	if avgLength <= 0 {
		avgLength = 1
	}
	idf := math.Log(1 + (float64(n)-float64(df)+0.5)/(float64(df)+0.5))
	t := float64(tf)
	return idf * t * (K1 + 1) / (t + K1*(1-B+B*length/avgLength))
}

// MaxTermLen: longer tokens are not terms.
const MaxTermLen = 64

var stopwords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`a an and are as at be but by for from has have if in into is it its of on or
		that the their then there these this to was were will with not no can do does`) {
		stopwords[w] = true
	}
}

// Tokens are the BM25 terms of text in order: lower-cased runs of letters
// and digits (an underscore joins them: a check id is one term), at least
// 2 and at most MaxTermLen bytes, common English words left out. No
// stemming.
func Tokens(text string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(text, func(r rune) bool { return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_') }) {
		f = strings.Trim(strings.ToLower(f), "_")
		if len(f) < 2 || len(f) > MaxTermLen || stopwords[f] {
			continue
		}
		out = append(out, f)
	}
	return out
}

// TermCounts are the distinct terms of text with their counts, and the
// number of terms.
func TermCounts(text string) (map[string]int, int) {
	toks := Tokens(text)
	m := make(map[string]int, len(toks))
	for _, t := range toks {
		m[t]++
	}
	return m, len(toks)
}

// Mention kinds.
const (
	MentionCVE         = "cve"
	MentionGHSA        = "ghsa"
	MentionFinding     = "finding"
	MentionCheck       = "check"
	MentionRequirement = "requirement"
)

// Mention is an id a text names.
type Mention struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// MaxMentions bounds the mentions kept per chunk.
const MaxMentions = 32

var (
	reCVE  = regexp.MustCompile(`(?i)\bCVE-\d{4}-\d{4,7}\b`)
	reGHSA = regexp.MustCompile(`(?i)\bGHSA(?:-[23456789cfghjmpqrvwx]{4}){3}\b`)
	// An imported finding's id: "fnd-" and 32 hex digits (the
	// cloudsecurity identity rule's).
	reFinding = regexp.MustCompile(`\bfnd-[0-9a-f]{32}\b`)
	// A Prowler check id: lower-case words joined by underscores, three
	// at least (s3_bucket_public_access); only ids the catalogue knows are
	// linked (queries).
	reCheck = regexp.MustCompile(`\b[a-z0-9]+(?:_[a-z0-9]+){2,}\b`)
	// A requirement id holding a letter and a digit: AC-2, CC6.1, A.5.1,
	// PR.AC-1, 1.2.3-a (only ids a framework knows are linked).
	reReq = regexp.MustCompile(`\b[A-Za-z]{1,4}(?:[.-][A-Za-z]{1,4})?[.-]?\d+(?:[.-]\d+)*(?:\(\d+\))?\b`)
)

// Mentions are the ids text names, in kind then id order, each once:
// CVE ids (upper case), GitHub advisory ids (GHSA- then lower case),
// imported findings' ids (fnd-…), candidate check ids and candidate requirement ids (the knowledge base
// links the candidates its catalogue knows).
func Mentions(text string) []Mention {
	seen := map[Mention]bool{}
	var out []Mention
	addm := func(m Mention) {
		if !seen[m] && len(out) < MaxMentions {
			seen[m] = true
			out = append(out, m)
		}
	}
	for _, s := range reCVE.FindAllString(text, -1) {
		addm(Mention{MentionCVE, strings.ToUpper(s)})
	}
	for _, s := range reGHSA.FindAllString(text, -1) {
		addm(Mention{MentionGHSA, "GHSA" + strings.ToLower(s[4:])})
	}
	for _, s := range reFinding.FindAllString(text, -1) {
		addm(Mention{MentionFinding, s})
	}
	for _, s := range reCheck.FindAllString(text, -1) {
		addm(Mention{MentionCheck, s})
	}
	for _, s := range reReq.FindAllString(text, -1) {
		if up := strings.ToUpper(s); strings.HasPrefix(up, "CVE") || strings.HasPrefix(up, "GHSA") || strings.HasPrefix(s, "fnd-") {
			continue
		}
		addm(Mention{MentionRequirement, s})
	}
	slices.SortFunc(out, func(a, b Mention) int {
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}
