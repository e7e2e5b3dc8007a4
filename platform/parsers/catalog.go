package parsers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/domain/assessments"
	"github.com/cspm-es/cspm-es/platform/parsers/cisoassistant"
	"github.com/cspm-es/cspm-es/platform/parsers/prowler"
)

// Catalog is what a catalogue file holds (assessments module): a framework
// version, requirement mapping sets, or both.
type Catalog struct {
	Catalogue *assessments.Catalogue
	Mappings  []assessments.MappingSet
}

// ParseCatalog reads a framework catalogue: a CISO Assistant library (an
// object with "objects") or a Prowler compliance framework (an object with
// "Framework" and "Requirements"). A file neither reads is a
// *domain.ValidationError naming field "file", with the parser's reason.
func (Registry) ParseCatalog(_ context.Context, r io.Reader) (Catalog, error) {
	b, err := io.ReadAll(io.LimitReader(r, cisoassistant.MaxLibraryBytes+1))
	if err != nil {
		return Catalog{}, fmt.Errorf("catalogue: read: %w", err)
	}
	head := b[:min(len(b), 64<<10)]
	bad := func(err error) (Catalog, error) {
		var v domain.Validator
		v.Add("file", "%s", err.Error())
		return Catalog{}, v.Err()
	}
	switch {
	case bytes.Contains(head, []byte(`"objects"`)):
		lib, err := cisoassistant.Parse(bytes.NewReader(b))
		var pe *cisoassistant.ParseError
		if errors.As(err, &pe) {
			return bad(err)
		}
		if err != nil {
			return Catalog{}, err
		}
		return Catalog{Catalogue: lib.Catalogue, Mappings: lib.Mappings}, nil
	case prowler.IsFramework(head):
		c, err := prowler.ParseFramework(bytes.NewReader(b))
		var fe *prowler.FrameworkError
		if errors.As(err, &fe) {
			return bad(err)
		}
		if err != nil {
			return Catalog{}, err
		}
		return Catalog{Catalogue: &c}, nil
	}
	return bad(errors.New("not a catalogue: neither a CISO Assistant library nor a Prowler compliance framework"))
}
