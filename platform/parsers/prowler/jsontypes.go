package prowler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// flexTime is a time Prowler writes as Unix seconds (OCSF time,
// created_time in 4.5+) or as an ISO 8601 string (time_dt, event_time,
// created_time in 4.0-4.4, v3 AssessmentStartTime). A value that is not a
// time is kept as an error for the converter to report with its field.
type flexTime struct {
	set bool
	t   time.Time
	err error
}

func (ft *flexTime) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*ft = flexTime{}
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil
	}
	ft.set = true
	if b[0] == '"' {
		s, err := unquote(b)
		if err != nil {
			ft.err = fmt.Errorf("%w: %v", ErrInvalidValue, err)
			return nil
		}
		if s == "" {
			ft.set = false
			return nil
		}
		ft.t, ft.err = parseTime(s)
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		ft.err = fmt.Errorf("%w: %s is not a time (want ISO 8601 or Unix seconds)", ErrInvalidValue, truncateForError(b))
		return nil
	}
	ft.t, ft.err = epochTime(f, string(b))
	return nil
}

// flexStrings is a list Prowler writes as a JSON array of strings (5.x) or
// as one " | "-joined string (4.x: unmapped.categories "logging |
// forensics-ready").
type flexStrings []string

func (fs *flexStrings) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*fs = nil
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil
	}
	if b[0] == '"' {
		s, err := unquote(b)
		if err != nil {
			return err
		}
		*fs = splitList(s)
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	*fs = list
	return nil
}

// flexTags is a tag set written as an object ({"k": "v"}), or as a list of
// {"Key": k, "Value": v} / {"key": k, "value": v} / {"k": "v"} objects
// (Prowler 3 JSON ResourceTags).
type flexTags map[string]string

func (ft *flexTags) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*ft = nil
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil
	}
	tags := map[string]string{}
	put := func(k string, v any) {
		if k == "" {
			return
		}
		switch x := v.(type) {
		case nil:
			tags[k] = ""
		case string:
			tags[k] = x
		default:
			tags[k] = fmt.Sprint(x)
		}
	}
	if b[0] == '{' {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		for k, v := range m {
			put(k, v)
		}
	} else {
		var list []map[string]any
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		for _, item := range list {
			key, hasKey := item["Key"]
			if !hasKey {
				key, hasKey = item["key"]
			}
			if hasKey {
				v, ok := item["Value"]
				if !ok {
					v = item["value"]
				}
				k, _ := key.(string)
				put(k, v)
				continue
			}
			for k, v := range item {
				put(k, v)
			}
		}
	}
	if len(tags) > 0 {
		*ft = tags
	}
	return nil
}

// unquote reads a JSON string the decoder has already validated; only
// strings with escapes need the full decoder.
func unquote(b []byte) (string, error) {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' && bytes.IndexByte(b, '\\') < 0 {
		return string(b[1 : len(b)-1]), nil
	}
	var s string
	err := json.Unmarshal(b, &s)
	return s, err
}

func truncateForError(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
