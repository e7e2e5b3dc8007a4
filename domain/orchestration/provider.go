package orchestration

import "strings"

// Provider is the kind of environment a scan looks at: a closed set.
type Provider string

const (
	ProviderAWS        Provider = "aws"
	ProviderAzure      Provider = "azure"
	ProviderGCP        Provider = "gcp"
	ProviderKubernetes Provider = "kubernetes"
	ProviderOther      Provider = "other"
)

var providers = []Provider{ProviderAWS, ProviderAzure, ProviderGCP, ProviderKubernetes, ProviderOther}

// ParseProvider maps s (any case, surrounding space ignored) to a Provider;
// ok is false when s names none.
func ParseProvider(s string) (p Provider, ok bool) {
	p = Provider(strings.ToLower(strings.TrimSpace(s)))
	for _, known := range providers {
		if p == known {
			return p, true
		}
	}
	return "", false
}
