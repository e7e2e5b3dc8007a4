package steampipe

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cadomain "github.com/cspm-es/cspm-es/domain/cloudassets"
)

func parseFile(t *testing.T, name, table string) ([]cadomain.Record, Summary) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var recs []cadomain.Record
	sum, err := Parse(context.Background(), bytes.NewReader(raw), table, func(r cadomain.Record) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return recs, sum
}

// tableOf is the table a sample's name says.
func tableOf(name string) string {
	name = strings.TrimPrefix(name, "steampipe_")
	if i := strings.Index(name, "_test-"); i > 0 {
		return name[:i]
	}
	return ""
}

func TestEverySampleParses(t *testing.T) {
	want := map[string]struct {
		rows  int
		shape string
	}{
		"steampipe_aws_s3_bucket_test-list.json":       {1, ShapeArray},
		"steampipe_aws_s3_bucket_test-hydrate.json":    {1, ShapeArray},
		"steampipe_aws_ec2_instance_test-get.json":     {1, ShapeArray},
		"steampipe_aws_ec2_instance_test-hydrate.json": {1, ShapeArray},
		"steampipe_aws_iam_role_test-get.json":         {1, ShapeArray},
		"steampipe_aws_rds_db_instance_test-get.json":  {1, ShapeArray},
		"steampipe_aws_vpc_test-get.json":              {1, ShapeArray},
		"ours_envelope_aws_s3_bucket.json":             {3, ShapeEnvelope},
		"ours_envelope_zero_rows.json":                 {0, ShapeEnvelope},
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	if len(files) != len(want) {
		t.Fatalf("%d samples, %d expected", len(files), len(want))
	}
	for _, f := range files {
		name := filepath.Base(f)
		table := tableOf(name)
		if strings.HasPrefix(name, "ours_envelope_aws_s3") {
			table = "aws_s3_bucket"
		}
		recs, sum := parseFile(t, name, table)
		w, ok := want[name]
		if !ok {
			t.Fatalf("no expectation for %s", name)
		}
		if sum.Rows != w.rows || len(recs) != w.rows || sum.Shape != w.shape {
			t.Errorf("%s: %d rows (%d records), shape %s; want %d, %s", name, sum.Rows, len(recs), sum.Shape, w.rows, w.shape)
		}
		for _, r := range recs {
			if r.Key == "" || r.AssetID != "" || r.Hash == "" || r.Type != table || r.Provider != "aws" || len(r.Raw) == 0 {
				t.Errorf("%s: record %+v", name, r)
			}
		}
	}
}

func TestRecordMapping(t *testing.T) {
	recs, sum := parseFile(t, "ours_envelope_aws_s3_bucket.json", "aws_s3_bucket")
	if len(sum.Columns) != 8 || sum.Columns[0] != "name" {
		t.Fatalf("columns %v", sum.Columns)
	}
	r := recs[0]
	if r.Key != "arn:aws:s3:::acme-logs" || r.Account != "111122223333" || r.Region != "us-east-1" || r.Name != "acme-logs" ||
		r.Tags["env"] != "prod" || r.AssetID != "" {
		t.Fatalf("record %+v", r)
	}
	if bytes.Contains(r.Raw, []byte("_ctx")) {
		t.Fatal("steampipe's own columns are not the asset's")
	}
	// Early versions' jsonb as strings
	if old := recs[2]; old.Tags["env"] != "dev" || old.Key != "arn:aws:s3:::acme-old" {
		t.Fatalf("record %+v", old)
	}
	// akas, then the table's id column, then the name
	ec2, _ := parseFile(t, "steampipe_aws_ec2_instance_test-hydrate.json", "aws_ec2_instance")
	if ec2[0].Key != "aws|||aws_ec2_instance|{{ output.resource_aka.value }}" || ec2[0].Name != "{{ resourceName }}" {
		t.Fatalf("ec2 %+v", ec2[0])
	}
	s3, _ := parseFile(t, "steampipe_aws_s3_bucket_test-hydrate.json", "aws_s3_bucket")
	if s3[0].Key != "aws||us-east-2|aws_s3_bucket|{{ resourceName }}" || s3[0].Region != "us-east-2" {
		t.Fatalf("s3 %+v", s3[0])
	}
	role, _ := parseFile(t, "steampipe_aws_iam_role_test-get.json", "aws_iam_role")
	if role[0].Account != "{{ output.account_id.value }}" || role[0].Tags["name"] != "{{resourceName}}" {
		t.Fatalf("role %+v", role[0])
	}
	vpc, _ := parseFile(t, "steampipe_aws_vpc_test-get.json", "aws_vpc")
	if vpc[0].Account != "{{ output.account_id.value}}" || vpc[0].Tags["Name"] != "{{resourceName}}" {
		t.Fatalf("vpc %+v", vpc[0])
	}
}

func TestHashIgnoresColumnOrder(t *testing.T) {
	a, err := Record([]byte(`{"arn":"arn:aws:s3:::x","region":"r","tags":{"a":"1"}}`), "aws_s3_bucket")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Record([]byte(`{"tags":{"a":"1"},"region":"r","arn":"arn:aws:s3:::x","_ctx":{"connection_name":"other"}}`), "aws_s3_bucket")
	c, _ := Record([]byte(`{"tags":{"a":"2"},"region":"r","arn":"arn:aws:s3:::x"}`), "aws_s3_bucket")
	if a.Hash != b.Hash || a.Hash == c.Hash || a.AssetID != c.AssetID {
		t.Fatalf("hashes %s %s %s", a.Hash, b.Hash, c.Hash)
	}
}

func TestBrokenReportsAreRejected(t *testing.T) {
	for in, want := range map[string]error{
		"":                          ErrEmptyReport,
		"   ":                       ErrEmptyReport,
		"[":                         ErrTruncated,
		`[{"arn":"arn:aws:s3:::x"}`: ErrTruncated,
		"[1]":                       ErrMalformed,
		"[null]":                    ErrMalformed,
		`"rows"`:                    ErrMalformed,
		`{"columns":[]}`:            ErrMissingField,
		`{"rows":{}}`:               ErrMalformed,
		`[{"region":"x"}]`:          ErrMissingField,
		`[] []`:                     ErrMalformed,
		`{"rows":[],"rows":[]}`:     ErrMalformed,
		`[{"arn":"` + strings.Repeat("a", MaxIdentifierBytes+1) + `"}]`: ErrInvalidValue,
	} {
		_, err := Parse(context.Background(), strings.NewReader(in), "aws_s3_bucket", func(cadomain.Record) error { return nil })
		var pe *ParseError
		if !errors.Is(err, want) || !errors.As(err, &pe) {
			t.Errorf("%.40q: %v, want %v", in, err, want)
		}
	}
}

func TestLimits(t *testing.T) {
	big := `[{"arn":"arn:aws:s3:::x","blob":"` + strings.Repeat("x", MaxRowBytes) + `"}]`
	_, err := Parse(context.Background(), strings.NewReader(big), "t_x", func(cadomain.Record) error { return nil })
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("%v", err)
	}
	mid := `[{"arn":"arn:aws:s3:::x","blob":"` + strings.Repeat("x", MaxRawBytes) + `"}]`
	var got cadomain.Record
	if _, err := Parse(context.Background(), strings.NewReader(mid), "t_x", func(r cadomain.Record) error { got = r; return nil }); err != nil {
		t.Fatal(err)
	}
	if !got.RawTruncated || got.Raw != nil || got.Hash == "" {
		t.Fatalf("a large row keeps its hash, not its raw: %+v", got.RawTruncated)
	}
	var sb strings.Builder
	sb.WriteString(`[{"arn":"arn:aws:s3:::x","tags":{`)
	for i := 0; i < MaxTags+10; i++ {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString(`"k` + strings.Repeat("0", 3) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `":"v"`)
	}
	sb.WriteString("}}]")
	if _, err := Parse(context.Background(), strings.NewReader(sb.String()), "t_x", func(r cadomain.Record) error { got = r; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got.Tags) != MaxTags {
		t.Fatalf("%d tags kept", len(got.Tags))
	}
}

func TestDetect(t *testing.T) {
	for in, want := range map[string]bool{
		`{"columns":[],"rows":[]}`: true,
		` {"rows":[]}`:             true,
		"\ufeff{\"metadata\":{}}":  true,
		`[{"arn":"x"}]`:            false, // the plain array: name the format
		`{"Findings":[]}`:          false,
		``:                         false,
	} {
		if Detect([]byte(in)) != want {
			t.Errorf("Detect(%q) != %v", in, want)
		}
	}
}

func TestEmitErrorStops(t *testing.T) {
	stop := errors.New("stop")
	_, err := Parse(context.Background(), strings.NewReader(`[{"arn":"arn:aws:s3:::a"},{"arn":"arn:aws:s3:::b"}]`), "", func(cadomain.Record) error { return stop })
	if !errors.Is(err, stop) {
		t.Fatal(err)
	}
}
