package readmodel

import (
	"strings"
	"unicode/utf8"
)

// Name limits.
const (
	MaxNameLen       = 64  // collection and index names
	MaxProjectionLen = 128 // projection names
	MaxPathLen       = 256 // dotted paths
	MaxPathDepth     = 16  // segments in a dotted path
	MaxIDLen         = 1024
	shadowSep        = "__"
)

// IDField is the key of a document's identity. It is a string, required,
// unique within the collection.
const IDField = "_id"

// ValidateCollection checks a collection name: [a-z][a-z0-9_]*, at most
// MaxNameLen bytes, not starting with "sqlite_". The separator "__" is
// reserved for shadow collections: a name holds it at most once, as
// <live>__<tag> (see ShadowName).
func ValidateCollection(name string) error {
	if err := validateIdent("collection", name); err != nil {
		return err
	}
	if strings.HasPrefix(name, "sqlite_") {
		return Invalidf("collection %q: the prefix sqlite_ is reserved", name)
	}
	if i := strings.Index(name, shadowSep); i >= 0 {
		live, tag := name[:i], name[i+len(shadowSep):]
		if strings.HasSuffix(live, "_") || tag == "" || strings.HasPrefix(tag, "_") || strings.Contains(tag, shadowSep) {
			return Invalidf("collection %q: \"__\" is reserved for shadows named <live>__<tag>", name)
		}
	}
	return nil
}

// ShadowName returns the shadow collection a rebuild of live writes, e.g.
// ShadowName("findings", "rebuild") = "findings__rebuild".
func ShadowName(live, tag string) (string, error) {
	if strings.Contains(live, shadowSep) {
		return "", Invalidf("collection %q is already a shadow", live)
	}
	name := live + shadowSep + tag
	if err := ValidateCollection(name); err != nil {
		return "", err
	}
	return name, nil
}

// LiveName returns the live collection a shadow name belongs to, and whether
// name is a shadow at all.
func LiveName(name string) (live string, shadow bool) {
	if i := strings.Index(name, shadowSep); i > 0 {
		return name[:i], true
	}
	return name, false
}

// ValidateIndexName checks an index name: [a-z][a-z0-9_]*, at most
// MaxNameLen bytes.
func ValidateIndexName(name string) error { return validateIdent("index", name) }

func validateIdent(what, name string) error {
	if name == "" || len(name) > MaxNameLen {
		return Invalidf("%s name %q: want 1 to %d characters", what, name, MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '_') {
			continue
		}
		return Invalidf("%s name %q: want [a-z][a-z0-9_]*", what, name)
	}
	return nil
}

// ValidateProjection checks a projection name (the checkpoint key): 1 to
// MaxProjectionLen characters from [A-Za-z0-9_.:@/-].
func ValidateProjection(name string) error {
	if name == "" || len(name) > MaxProjectionLen {
		return Invalidf("projection name %q: want 1 to %d characters", name, MaxProjectionLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_.:@/-", c) >= 0 {
			continue
		}
		return Invalidf("projection name %q: want [A-Za-z0-9_.:@/-]", name)
	}
	return nil
}

// ValidatePath checks a dotted field path used by filters, sorts, indexes
// and CountBy: segments [A-Za-z_][A-Za-z0-9_]* joined by ".", at most
// MaxPathDepth segments and MaxPathLen bytes. "_id" is allowed; any other
// top-level segment starting with "_" is reserved for the store. Paths never
// traverse arrays (a numeric segment is not an index).
func ValidatePath(path string) error {
	if path == "" || len(path) > MaxPathLen {
		return Invalidf("path %q: want 1 to %d characters", path, MaxPathLen)
	}
	if path == IDField {
		return nil
	}
	depth := 0
	for seg := range strings.SplitSeq(path, ".") {
		depth++
		if !validSegment(seg) {
			return Invalidf("path %q: segment %q: want [A-Za-z_][A-Za-z0-9_]*", path, seg)
		}
		if depth == 1 && seg[0] == '_' {
			return Invalidf("path %q: top-level fields starting with _ are reserved (only _id is addressable)", path)
		}
	}
	if depth > MaxPathDepth {
		return Invalidf("path %q: more than %d segments", path, MaxPathDepth)
	}
	return nil
}

func validSegment(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// validKey checks a document key (any level): non-empty valid UTF-8 with no
// "." and no leading "$" (MongoDB cannot address either) and no NUL.
func validKey(k string) bool {
	return k != "" && utf8.ValidString(k) && !strings.ContainsAny(k, ".\x00") && k[0] != '$'
}
