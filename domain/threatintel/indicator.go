package threatintel

import (
	"encoding/hex"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// Indicators of compromise are a team's own (stream "indicator-<id>"):
// a type, a value normalised by its type (the correlation key), a
// confidence, a source and a validity window. An indicator past its
// valid_until is expired by a scheduled command (IndicatorExpired, in its
// history); a re-observation extends it (and revives an expired one); a
// revocation ends it for good.

// IndicatorType is the kind of value an indicator holds.
type IndicatorType string

// The indicator types.
const (
	TypeIPv4   IndicatorType = "ipv4"
	TypeIPv6   IndicatorType = "ipv6"
	TypeCIDR   IndicatorType = "cidr"
	TypeDomain IndicatorType = "domain"
	TypeURL    IndicatorType = "url"
	TypeMD5    IndicatorType = "md5"
	TypeSHA1   IndicatorType = "sha1"
	TypeSHA256 IndicatorType = "sha256"
	TypeEmail  IndicatorType = "email"
)

// IndicatorTypes lists the types, in the order the API documents them.
var IndicatorTypes = []IndicatorType{TypeIPv4, TypeIPv6, TypeCIDR, TypeDomain, TypeURL, TypeMD5, TypeSHA1, TypeSHA256, TypeEmail}

var hashHexLen = map[IndicatorType]int{TypeMD5: 32, TypeSHA1: 40, TypeSHA256: 64}

// MaxIndicatorValue bounds an indicator's value (a URL is the longest).
const MaxIndicatorValue = 2048

// NormalizeIndicator returns the canonical form of value for type t, the
// form every correlation compares:
//   - ipv4, ipv6: net/netip's form (no leading zeros, RFC 5952 for IPv6;
//     an IPv4-mapped IPv6 address is an ipv6 value; zones refused);
//   - cidr: the prefix masked to its network (10.1.2.3/8 is 10.0.0.0/8);
//   - domain: lower case, no trailing dot, LDH labels of 1-63 bytes
//     (underscores allowed, internationalised names in their xn-- form);
//   - url: scheme and host lower case, the host's trailing dot and the
//     scheme's default port dropped, the path, query and fragment kept;
//   - md5, sha1, sha256: hex of the algorithm's length, lower case;
//   - email: lower case, its domain normalised as a domain.
func NormalizeIndicator(t IndicatorType, value string) (string, error) {
	v := strings.TrimSpace(value)
	fail := func(format string, args ...any) (string, error) {
		var val domain.Validator
		val.Add("value", format, args...)
		return "", val.Err()
	}
	if v == "" {
		return fail("is required")
	}
	if len(v) > MaxIndicatorValue {
		return fail("must be at most %d bytes", MaxIndicatorValue)
	}
	switch t {
	case TypeIPv4, TypeIPv6:
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" {
			return fail("%q is not an IP address", value)
		}
		if t == TypeIPv4 && !a.Is4() {
			return fail("%q is not an IPv4 address", value)
		}
		if t == TypeIPv6 && !a.Is6() {
			return fail("%q is not an IPv6 address", value)
		}
		return a.String(), nil
	case TypeCIDR:
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return fail("%q is not a CIDR prefix (address/bits)", value)
		}
		return p.Masked().String(), nil
	case TypeDomain:
		d, ok := normalizeDomain(v)
		if !ok {
			return fail("%q is not a domain name (LDH labels, xn-- for internationalised names)", value)
		}
		return d, nil
	case TypeURL:
		u, err := url.Parse(v)
		if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil && u.User.String() == "" {
			return fail("%q is not an absolute URL", value)
		}
		u.Scheme = strings.ToLower(u.Scheme)
		host, port := u.Hostname(), u.Port()
		if a, err := netip.ParseAddr(host); err == nil {
			host = a.String()
			if a.Is6() {
				host = "[" + host + "]"
			}
		} else if d, ok := normalizeDomain(host); ok {
			host = d
		} else {
			return fail("%q has no valid host", value)
		}
		if port != "" && !(u.Scheme == "http" && port == "80" || u.Scheme == "https" && port == "443") {
			host += ":" + port
		}
		u.Host = host
		return u.String(), nil
	case TypeMD5, TypeSHA1, TypeSHA256:
		h := strings.ToLower(v)
		if _, err := hex.DecodeString(h); err != nil || len(h) != hashHexLen[t] {
			return fail("%q is not a %s (%d hex digits)", value, t, hashHexLen[t])
		}
		return h, nil
	case TypeEmail:
		local, dom, ok := strings.Cut(v, "@")
		if !ok || local == "" || strings.ContainsAny(local, " @<>") {
			return fail("%q is not an e-mail address", value)
		}
		d, ok := normalizeDomain(dom)
		if !ok {
			return fail("%q has no valid domain", value)
		}
		return strings.ToLower(local) + "@" + d, nil
	}
	var val domain.Validator
	val.Add("type", "%q is not an indicator type", t)
	return "", val.Err()
}

func normalizeDomain(s string) (string, bool) {
	d := strings.TrimSuffix(strings.ToLower(s), ".")
	if d == "" || len(d) > 253 || !strings.Contains(d, ".") {
		return "", false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", false
			}
		}
	}
	return d, true
}

// Indicator limits.
const (
	MaxConfidence = 100
	MaxSource     = domain.MaxShortText
)

// IndicatorSpec is what a person says an indicator is.
type IndicatorSpec struct {
	Type        IndicatorType
	Value       string
	Confidence  int // 0..100
	Source      string
	Description string
	ValidFrom   time.Time // zero: from the command's time
	ValidUntil  time.Time // zero: no end
}

// IndicatorCreated: the team holds this indicator from CreatedAt.
type IndicatorCreated struct {
	IndicatorID string        `json:"indicator_id"`
	Type        IndicatorType `json:"type"`
	Value       string        `json:"value"`     // normalised
	RawValue    string        `json:"raw_value"` // as given
	Confidence  int           `json:"confidence"`
	Source      string        `json:"source"`
	Description string        `json:"description,omitempty"`
	ValidFrom   time.Time     `json:"valid_from"`
	ValidUntil  time.Time     `json:"valid_until,omitzero"`
	CreatedAt   time.Time     `json:"created_at"`
}

// IndicatorUpdated: the indicator's mutable fields are these from
// UpdatedAt (its type and value never change: another value is another
// indicator).
type IndicatorUpdated struct {
	IndicatorID string    `json:"indicator_id"`
	Confidence  int       `json:"confidence"`
	Source      string    `json:"source"`
	Description string    `json:"description,omitempty"`
	ValidFrom   time.Time `json:"valid_from"`
	ValidUntil  time.Time `json:"valid_until,omitzero"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// IndicatorObserved: the value was seen again at ObservedAt; the indicator
// is valid until ValidUntil (extended) and active.
type IndicatorObserved struct {
	IndicatorID string    `json:"indicator_id"`
	Source      string    `json:"source,omitempty"`
	ObservedAt  time.Time `json:"observed_at"`
	ValidUntil  time.Time `json:"valid_until,omitzero"`
}

// IndicatorExpired: the indicator's validity ended (the expiry scheduler).
type IndicatorExpired struct {
	IndicatorID string    `json:"indicator_id"`
	ExpiredAt   time.Time `json:"expired_at"` // its valid_until
}

// IndicatorRevoked: a person ended the indicator for good.
type IndicatorRevoked struct {
	IndicatorID string    `json:"indicator_id"`
	Reason      string    `json:"reason,omitempty"`
	RevokedAt   time.Time `json:"revoked_at"`
}

func (IndicatorCreated) EventType() string  { return "IndicatorCreated" }
func (IndicatorUpdated) EventType() string  { return "IndicatorUpdated" }
func (IndicatorObserved) EventType() string { return "IndicatorObserved" }
func (IndicatorExpired) EventType() string  { return "IndicatorExpired" }
func (IndicatorRevoked) EventType() string  { return "IndicatorRevoked" }

// Rule codes of indicators.
const (
	CodeIndicatorRevoked    = "INDICATOR_REVOKED"
	CodeIndicatorNotCreated = "INDICATOR_NOT_CREATED"
	CodeIndicatorNotDue     = "INDICATOR_NOT_EXPIRED"
	CodeIndicatorExpired    = "INDICATOR_EXPIRED"
)

// DefaultObservationExtension is how far a re-observation extends an
// indicator that has an end but whose window is empty.
const DefaultObservationExtension = 30 * 24 * time.Hour

func checkSpec(v *domain.Validator, s *IndicatorSpec, at time.Time) {
	s.Source, s.Description = strings.TrimSpace(s.Source), strings.TrimSpace(s.Description)
	v.Check(s.Confidence >= 0 && s.Confidence <= MaxConfidence, "confidence", "must be between 0 and %d", MaxConfidence)
	v.Check(s.Source != "", "source", "is required")
	v.Text("source", s.Source, MaxSource)
	v.MultilineText("description", s.Description, domain.MaxReason)
	if s.ValidFrom.IsZero() {
		s.ValidFrom = at
	}
	v.Check(s.ValidUntil.IsZero() || s.ValidUntil.After(s.ValidFrom), "valid_until", "must be after valid_from")
	v.Check(s.ValidUntil.IsZero() || s.ValidUntil.After(at), "valid_until", "must be in the future")
}

// CreateIndicator decides a new indicator with id at at.
func CreateIndicator(id string, s IndicatorSpec, at time.Time) ([]Event, error) {
	var v domain.Validator
	v.Check(id != "", "indicator_id", "is required")
	v.Check(!at.IsZero(), "at", "is required")
	value, err := NormalizeIndicator(s.Type, s.Value)
	if err != nil {
		return nil, err
	}
	checkSpec(&v, &s, at)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{IndicatorCreated{IndicatorID: id, Type: s.Type, Value: value, RawValue: strings.TrimSpace(s.Value),
		Confidence: s.Confidence, Source: s.Source, Description: s.Description, ValidFrom: s.ValidFrom,
		ValidUntil: s.ValidUntil, CreatedAt: at}}, nil
}

// IndicatorStatus is an indicator's status.
type IndicatorStatus string

// The statuses.
const (
	IndicatorActive   IndicatorStatus = "active"
	IndicatorInactive IndicatorStatus = "expired"
	IndicatorEnded    IndicatorStatus = "revoked"
)

// Indicator is an indicator's state. Build it with RehydrateIndicator.
type Indicator struct {
	created    bool
	id         string
	typ        IndicatorType
	value      string
	status     IndicatorStatus
	validFrom  time.Time
	validUntil time.Time
}

// RehydrateIndicator folds an indicator's events.
func RehydrateIndicator(events ...Event) *Indicator {
	in := &Indicator{}
	for _, e := range events {
		switch e := e.(type) {
		case IndicatorCreated:
			in.created, in.id, in.typ, in.value, in.status = true, e.IndicatorID, e.Type, e.Value, IndicatorActive
			in.validFrom, in.validUntil = e.ValidFrom, e.ValidUntil
		case IndicatorUpdated:
			in.validFrom, in.validUntil = e.ValidFrom, e.ValidUntil
		case IndicatorObserved:
			in.validUntil, in.status = e.ValidUntil, IndicatorActive
		case IndicatorExpired:
			in.status = IndicatorInactive
		case IndicatorRevoked:
			in.status = IndicatorEnded
		}
	}
	return in
}

// Status is the indicator's status.
func (in *Indicator) Status() IndicatorStatus { return in.status }

// Value is the normalised value.
func (in *Indicator) Value() string { return in.value }

// ValidUntil is the end of its validity (zero: none).
func (in *Indicator) ValidUntil() time.Time { return in.validUntil }

func (in *Indicator) live() error {
	switch {
	case !in.created:
		return domain.Rule(CodeIndicatorNotCreated, "the indicator does not exist")
	case in.status == IndicatorEnded:
		return domain.Rule(CodeIndicatorRevoked, "the indicator %s was revoked", in.id)
	}
	return nil
}

// Update decides new mutable fields at at (type and value are kept; a
// changed spec.Value or Type is refused).
func (in *Indicator) Update(s IndicatorSpec, at time.Time) ([]Event, error) {
	if err := in.live(); err != nil {
		return nil, err
	}
	var v domain.Validator
	if s.Type != "" || s.Value != "" {
		nv, err := NormalizeIndicator(in.typ, s.Value)
		v.Check(s.Type == "" || s.Type == in.typ, "type", "cannot change (create another indicator)")
		v.Check(s.Value == "" || err == nil && nv == in.value, "value", "cannot change (create another indicator)")
	}
	if s.ValidFrom.IsZero() {
		s.ValidFrom = in.validFrom
	}
	checkSpec(&v, &s, at)
	if err := v.Err(); err != nil {
		return nil, err
	}
	out := []Event{IndicatorUpdated{IndicatorID: in.id, Confidence: s.Confidence, Source: s.Source, Description: s.Description,
		ValidFrom: s.ValidFrom, ValidUntil: s.ValidUntil, UpdatedAt: at}}
	if in.status == IndicatorInactive {
		// An update giving a future end revives an expired indicator.
		out = append(out, IndicatorObserved{IndicatorID: in.id, ObservedAt: at, ValidUntil: s.ValidUntil})
	}
	return out, nil
}

// Observe decides a re-observation at at: the indicator is valid until
// until when given (after at), else its end moves to at plus its own
// window (valid_until - valid_from; DefaultObservationExtension when
// that is empty); an indicator without an end keeps none.
func (in *Indicator) Observe(source string, until, at time.Time) ([]Event, error) {
	if err := in.live(); err != nil {
		return nil, err
	}
	var v domain.Validator
	source = strings.TrimSpace(source)
	v.Text("source", source, MaxSource)
	v.Check(until.IsZero() || until.After(at), "valid_until", "must be in the future")
	if err := v.Err(); err != nil {
		return nil, err
	}
	next := in.validUntil
	switch {
	case !until.IsZero():
		next = until
	case !in.validUntil.IsZero():
		window := in.validUntil.Sub(in.validFrom)
		if window <= 0 {
			window = DefaultObservationExtension
		}
		next = at.Add(window)
	}
	if !in.validUntil.IsZero() && next.Before(in.validUntil) && in.status == IndicatorActive {
		next = in.validUntil // an observation never shortens
	}
	return []Event{IndicatorObserved{IndicatorID: in.id, Source: source, ObservedAt: at, ValidUntil: next}}, nil
}

// Revoke ends the indicator for good at at.
func (in *Indicator) Revoke(reason string, at time.Time) ([]Event, error) {
	if err := in.live(); err != nil {
		return nil, err
	}
	var v domain.Validator
	v.MultilineText("reason", strings.TrimSpace(reason), domain.MaxReason)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{IndicatorRevoked{IndicatorID: in.id, Reason: strings.TrimSpace(reason), RevokedAt: at}}, nil
}

// Expire ends an active indicator whose valid_until has passed at at,
// dated at its valid_until.
func (in *Indicator) Expire(at time.Time) ([]Event, error) {
	if err := in.live(); err != nil {
		return nil, err
	}
	switch {
	case in.status == IndicatorInactive:
		return nil, domain.Rule(CodeIndicatorExpired, "the indicator %s has expired already", in.id)
	case in.validUntil.IsZero() || in.validUntil.After(at):
		return nil, domain.Rule(CodeIndicatorNotDue, "the indicator %s is valid until %v", in.id, in.validUntil)
	}
	return []Event{IndicatorExpired{IndicatorID: in.id, ExpiredAt: in.validUntil}}, nil
}
