// Package cloudassets is the cloud asset inventory: the identity rule that
// names an asset whichever tool saw it (an inventory row of Steampipe, the
// resource of a scanner's finding), the inventory import's events, and the
// discovery timeline (first seen, last seen, changed, removed only after a
// complete sync of the asset's scope that did not see it).
//
// Pure: no clock, no I/O. Times are passed in.
package cloudassets

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// IdentityRule names an asset identity rule: "asset/v<version>".
type IdentityRule string

// IdentityAssetV1 is the current asset identity rule (docs/assets.md,
// "Asset identity"). An asset's key is:
//   - its ARN, as written, when it has one ("arn:aws:s3:::logs");
//   - else an Azure resource id ("/subscriptions/..."), lower case (Azure
//     ids are case-insensitive); Steampipe's akas form of it
//     ("azure:///subscriptions/...") is the same id;
//   - else a GCP full resource name ("//compute.googleapis.com/..."), which
//     Steampipe's akas write "gcp://compute.googleapis.com/...";
//   - else provider, account, region, type and the provider's id of it,
//     joined by '|' (the type is the inventory table or the scanner's
//     resource type, so only rows of the same type meet).
//
// The asset id is "ast-" and 32 hex digits of a sha256 over the team, the
// rule and the key: per team, as finding ids are, so that an id says
// nothing about another team's assets. A new rule means new ids: a
// rebuild of the assets projection, never a rewrite of stored events.
const IdentityAssetV1 IdentityRule = "asset/v1"

// CurrentRule is the rule imports record.
const CurrentRule = IdentityAssetV1

// AssetIDPrefix starts every asset id.
const AssetIDPrefix = "ast-"

// Key is the key of a resource under rule v1: uid is the resource's id as
// the tool gave it (an ARN, an akas entry, a resource id, a name).
func Key(provider, account, region, typ, uid string) string {
	uid = strings.TrimSpace(uid)
	if rest, ok := cutPrefixFold(uid, "azure://"); ok {
		uid = rest
	} else if rest, ok := cutPrefixFold(uid, "gcp://"); ok {
		uid = "//" + rest
	}
	switch {
	case uid == "":
		return ""
	case strings.HasPrefix(uid, "arn:"):
		return uid
	case strings.HasPrefix(strings.ToLower(uid), "/subscriptions/"):
		return strings.ToLower(uid)
	case strings.HasPrefix(uid, "//"):
		return uid
	}
	return strings.Join([]string{strings.ToLower(provider), account, region, typ, uid}, "|")
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// IsGlobalKey reports a key that names the resource by itself (an ARN, an
// Azure or GCP resource id), not by its place.
func IsGlobalKey(key string) bool { return key != "" && !strings.Contains(key, "|") }

// AssetID is the id, in team, of the asset key names under rule.
func AssetID(team string, rule IdentityRule, key string) string {
	return AssetIDPrefix + digest(team, string(rule), key)
}

// ValidAssetID reports whether s has the shape of an asset id.
func ValidAssetID(s string) bool {
	if len(s) != len(AssetIDPrefix)+32 || !strings.HasPrefix(s, AssetIDPrefix) {
		return false
	}
	for _, c := range s[len(AssetIDPrefix):] {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ScopeID is the id of an inventory scope (provider, account, region,
// type) in team.
func (s Scope) ID(team string) string {
	return "isc-" + digest(team, s.Provider, s.Account, s.Region, s.Type)
}

// InventoryImportID is the id of an inventory import: the same content,
// table and sync mode imported again by the same team is the same import.
func InventoryImportID(team, contentHash, table, sync string) string {
	return "inv-" + digest(team, "inventory", contentHash, table, sync)
}

// digest hashes length-prefixed parts, so no two lists share an encoding.
func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(strconv.Itoa(len(p))))
		h.Write([]byte{':'})
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// ProviderOfARN is the provider an ARN names ("aws" for arn:aws:...,
// arn:aws-cn:..., arn:aws-us-gov:...), "" for anything else.
func ProviderOfARN(arn string) string {
	if !strings.HasPrefix(arn, "arn:aws") {
		return ""
	}
	return "aws"
}

// ARNParts returns an ARN's region and account ("" when absent or when s
// is not an ARN).
func ARNParts(s string) (region, account string) {
	if !strings.HasPrefix(s, "arn:") {
		return "", ""
	}
	p := strings.SplitN(s, ":", 6)
	if len(p) < 6 {
		return "", ""
	}
	return p[3], p[4]
}
