package dbregistry

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The shipped names cannot collide under any valid prefix; these cases prove
// the guard on declarations that could.
func TestNewRegistry_RejectsCollisions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prefix  string
		defs    []definition
		aliases map[string]Constant
		wantErr error
		wantMsg string
	}{
		{
			name:    "same default name twice",
			defs:    []definition{{"A", "db_a", Read, "a"}, {"B", "db_a", Read, "b"}},
			wantErr: ErrNameConflict,
			wantMsg: `"db_a" names both A and B`,
		},
		{
			name:    "prefixed name equals another default name",
			prefix:  "x_",
			defs:    []definition{{"A", "x_y", Read, "a"}, {"B", "y", Read, "b"}},
			wantErr: ErrNameConflict,
			wantMsg: `"x_y" names both B and A`,
		},
		{
			name:    "alias shadows a current name",
			defs:    []definition{{"A", "db_a", Read, "a"}, {"B", "db_b", Read, "b"}},
			aliases: map[string]Constant{"db_b": "A"},
			wantErr: ErrNameConflict,
			wantMsg: `"db_b" names both B and A`,
		},
		{
			name:    "constant declared twice",
			defs:    []definition{{"A", "db_a", Read, "a"}, {"A", "db_b", Read, "b"}},
			wantErr: ErrNameConflict,
			wantMsg: "constant A declared twice",
		},
		{
			name:    "alias to undeclared constant",
			defs:    []definition{{"A", "db_a", Read, "a"}},
			aliases: map[string]Constant{"old": "Z"},
			wantErr: ErrUnknownName,
			wantMsg: "undeclared constant Z",
		},
		{
			name:    "invalid default name",
			defs:    []definition{{"A", "Db.A", Read, "a"}},
			wantErr: ErrInvalidName,
			wantMsg: `default name "Db.A"`,
		},
		{
			name: "alias to its own constant is fine",
			defs: []definition{{"A", "db_a", Read, "a"}},
			aliases: map[string]Constant{
				"old_a": "A",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := newRegistry(tt.prefix, tt.defs, tt.aliases)
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.True(t, errors.Is(err, tt.wantErr), "error = %v; want %v", err, tt.wantErr)
			assert.Contains(t, err.Error(), tt.wantMsg)
		})
	}
}

func TestDefinitions_CoverEveryConstantOnce(t *testing.T) {
	t.Parallel()
	seen := map[Constant]bool{}
	for _, d := range definitions {
		assert.False(t, seen[d.constant], "%s declared twice", d.constant)
		seen[d.constant] = true
	}
	assert.Len(t, seen, 15, "14 module databases + the event store")
	reads := 0
	for _, d := range definitions {
		if d.side == Read {
			reads++
		}
	}
	assert.Equal(t, 14, reads)
}
