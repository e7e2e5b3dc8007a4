package threatintel

import (
	"net/netip"
	"slices"
	"strings"
)

// ObservedValue is a value found in a finding's text, normalised like an
// indicator's (its correlation key).
type ObservedValue struct {
	Type  IndicatorType
	Value string
}

// MaxValuesPerText bounds the values taken from one text (a resource uid
// with a hundred addresses in it is not a hundred sightings).
const MaxValuesPerText = 8

// ExtractValues finds the IP addresses and domain names in texts (a
// resource uid or ARN, a resource name): each text is split on the
// separators of URLs, ARNs and lists (/ : , ; = @ space quotes brackets),
// and each piece that is an IP address (IPv4, or IPv6 when the text is
// not split on colons inside it) or a domain name whose last label is
// alphabetic (a TLD) is kept, normalised, once. Sorted, at most
// MaxValuesPerText per text. ARN service names and account ids are not
// values: "arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc" yields
// nothing; "arn:aws:route53:::hostedzone/Z1/evil.example.com" yields the
// domain.
func ExtractValues(texts ...string) []ObservedValue {
	var out []ObservedValue
	seen := map[ObservedValue]bool{}
	add := func(v ObservedValue) {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	for _, text := range texts {
		n := 0
		// Whole text first: an IPv6 address holds colons.
		if a, err := netip.ParseAddr(strings.TrimSpace(text)); err == nil && a.Zone() == "" {
			add(addrValue(a))
			continue
		}
		for _, piece := range strings.FieldsFunc(text, func(r rune) bool {
			return strings.ContainsRune("/:,;=@ \t\"'()[]{}<>|?#&", r)
		}) {
			if n >= MaxValuesPerText {
				break
			}
			if a, err := netip.ParseAddr(piece); err == nil {
				add(addrValue(a))
				n++
				continue
			}
			if d, ok := normalizeDomain(piece); ok && tldLike(d) {
				add(ObservedValue{Type: TypeDomain, Value: d})
				n++
			}
		}
	}
	slices.SortFunc(out, func(a, b ObservedValue) int {
		if c := strings.Compare(string(a.Type), string(b.Type)); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
	return out
}

func addrValue(a netip.Addr) ObservedValue {
	if a.Is4() {
		return ObservedValue{Type: TypeIPv4, Value: a.String()}
	}
	return ObservedValue{Type: TypeIPv6, Value: a.String()}
}

// tldLike: the last label is 2-63 letters (not a version "1.2.3", not a
// file name "app.py" is still kept: a name is a name).
func tldLike(d string) bool {
	last := d[strings.LastIndexByte(d, '.')+1:]
	if len(last) < 2 {
		return false
	}
	for i := 0; i < len(last); i++ {
		if last[i] < 'a' || last[i] > 'z' {
			return false
		}
	}
	return true
}
