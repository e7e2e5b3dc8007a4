package knowledgebase

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Chunking (docs/knowledge-base.md, "Chunking"; decision 80):
//
//   - the text's line endings are normalised to "\n" first (Normalize);
//   - Markdown: a heading line ("#" to "######" then a space) closes the
//     chunk in progress and starts a section; a chunk never spans two
//     sections and carries its section's heading. Plain text has no
//     headings (a "#" line is text);
//   - within a section, paragraphs (separated by blank lines) are packed
//     whole into a chunk while it stays within Max characters;
//   - a paragraph longer than Max is cut into windows of at most Max
//     characters, each starting Overlap characters before the previous
//     one ended, cut at a space when there is one in the window's last
//     quarter (else between characters, never inside a UTF-8 sequence);
//   - chunks are the text's byte spans [Start, End): their text is
//     text[Start:End], trimmed of surrounding space, never empty.

// Chunking defaults.
const (
	DefaultChunkMax     = 1000 // characters
	DefaultChunkOverlap = 100  // characters
	MinChunkMax         = 50
)

// ChunkSpan is one chunk of a document's normalised text.
type ChunkSpan struct {
	Index    int    `json:"index"`
	Start    int    `json:"start"` // byte offset in the normalised text
	End      int    `json:"end"`
	Heading  string `json:"heading,omitempty"`
	TextHash string `json:"text_hash"` // TextHash of the chunk's text
}

// Chunking is the rule's parameters.
type Chunking struct {
	Max     int `json:"max"`
	Overlap int `json:"overlap"`
}

// DefaultChunking is Max 1000, Overlap 100.
var DefaultChunking = Chunking{Max: DefaultChunkMax, Overlap: DefaultChunkOverlap}

// Normalize is text with "\r\n" and "\r" line endings as "\n".
func Normalize(text string) string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	return strings.ReplaceAll(text, "\r", "\n")
}

// NormalizeChunk is the form of a chunk's text that is hashed: runs of
// white space as one space, trimmed. Case is kept (an embedding model
// may tell "IAM" from "iam").
func NormalizeChunk(s string) string { return strings.Join(strings.Fields(s), " ") }

// TextHash is the hex SHA-256 of the chunk's normalised text: what the
// per-team chunk rows reference.
func TextHash(chunk string) string {
	sum := sha256.Sum256([]byte(NormalizeChunk(chunk)))
	return hex.EncodeToString(sum[:])
}

// ContentHash is the embedding cache's key: the hex SHA-256 of the
// model and the text hash ("<model>\x00<text hash>"). One text embedded by
// two models has two cache entries; the same text in two documents or two
// teams, one.
func ContentHash(model, textHash string) string {
	sum := sha256.Sum256([]byte(model + "\x00" + textHash))
	return hex.EncodeToString(sum[:])
}

// ChunkText is the text of span s of the normalised text.
func ChunkText(normalized string, s ChunkSpan) string {
	if s.Start < 0 || s.End > len(normalized) || s.Start > s.End {
		return ""
	}
	return strings.TrimSpace(normalized[s.Start:s.End])
}

type para struct{ start, end int }

// Split chunks the normalised text by the rule above.
func Split(normalized string, format Format, c Chunking) []ChunkSpan {
	if c.Max < MinChunkMax {
		c.Max = MinChunkMax
	}
	if c.Overlap < 0 || c.Overlap >= c.Max/2 {
		c.Overlap = c.Max / 4
	}
	var out []ChunkSpan
	heading := ""
	var cur []para // paragraphs packed in the chunk in progress
	curLen := 0
	flush := func() {
		if len(cur) == 0 {
			return
		}
		add(&out, normalized, cur[0].start, cur[len(cur)-1].end, heading)
		cur, curLen = nil, 0
	}
	emitPara := func(p para) {
		n := utf8.RuneCountInString(strings.TrimSpace(normalized[p.start:p.end]))
		if n == 0 {
			return
		}
		if n > c.Max {
			flush()
			windows(&out, normalized, p, heading, c)
			return
		}
		if curLen > 0 && curLen+2+n > c.Max {
			flush()
		}
		if curLen > 0 {
			curLen += 2
		}
		cur = append(cur, p)
		curLen += n
	}
	pos := 0
	pStart := -1
	for pos <= len(normalized) {
		end := strings.IndexByte(normalized[pos:], '\n')
		lineEnd := len(normalized)
		if end >= 0 {
			lineEnd = pos + end
		}
		line := normalized[pos:lineEnd]
		switch {
		case format == FormatMarkdown && isHeading(line):
			if pStart >= 0 {
				emitPara(para{pStart, pos})
				pStart = -1
			}
			flush()
			heading = strings.TrimSpace(strings.TrimLeft(line, "#"))
		case strings.TrimSpace(line) == "":
			if pStart >= 0 {
				emitPara(para{pStart, pos})
				pStart = -1
			}
		default:
			if pStart < 0 {
				pStart = pos
			}
		}
		if end < 0 {
			break
		}
		pos = lineEnd + 1
	}
	if pStart >= 0 {
		emitPara(para{pStart, len(normalized)})
	}
	flush()
	for i := range out {
		out[i].Index = i
	}
	return out
}

func isHeading(line string) bool {
	n := 0
	for n < len(line) && line[n] == '#' {
		n++
	}
	return n >= 1 && n <= 6 && n < len(line) && (line[n] == ' ' || line[n] == '\t')
}

// add appends the span [start,end) trimmed of surrounding space.
func add(out *[]ChunkSpan, text string, start, end int, heading string) {
	for start < end && isSpaceByte(text[start]) {
		start++
	}
	for end > start && isSpaceByte(text[end-1]) {
		end--
	}
	if start >= end {
		return
	}
	*out = append(*out, ChunkSpan{Start: start, End: end, Heading: heading, TextHash: TextHash(text[start:end])})
}

func isSpaceByte(b byte) bool {
	return b == ' ' || b == '\n' || b == '\t' || b == '\r' || b == '\v' || b == '\f'
}

// windows cuts one long paragraph into overlapping windows.
func windows(out *[]ChunkSpan, text string, p para, heading string, c Chunking) {
	// Byte offsets of each character of the paragraph.
	var offs []int
	for i := range text[p.start:p.end] {
		offs = append(offs, p.start+i)
	}
	offs = append(offs, p.end)
	n := len(offs) - 1
	start := 0
	for start < n {
		end := min(start+c.Max, n)
		if end < n {
			// Cut at the last space in the window's last quarter.
			for j := end; j > end-c.Max/4 && j > start; j-- {
				r, _ := utf8.DecodeRuneInString(text[offs[j]:])
				if unicode.IsSpace(r) {
					end = j
					break
				}
			}
		}
		add(out, text, offs[start], offs[end], heading)
		if end >= n {
			break
		}
		next := end - c.Overlap
		if next <= start {
			next = end
		}
		start = next
	}
}
