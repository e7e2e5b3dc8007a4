package eventstore

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

var validJSONCases = []string{
	``, ` `, `{}`, `[]`, ` {"a":1} `, `{"a":1,}`, `[1,]`, `[,1]`, `{,}`, `{"a" 1}`, `{"a":}`, `{1:2}`,
	`"x"`, `"\u00e9\ud800"`, `"\u00G0"`, `"\x"`, `"a` + "\x01" + `"`, "\"\xff\xfe\"", `"\"`, `"\\"`, `"\/\b\f\n\r\t"`,
	`0`, `-0`, `01`, `-`, `1.`, `.5`, `1.5e`, `1e+`, `1E-7`, `-12.50e+03`, `1e5.5`, `+1`, `2 3`,
	`true`, `tru`, `false`, `nul`, `null x`, `nulll`, `[true,false,null]`, `{"a":[{"b":{}}],"c":"d"}`,
	`[[[]]]`, `[[[]]`, `[]]`, `{"a":{"b":[1,2,{"c":null}]}}`, "{\n\t\"a\" : [ 1 , 2 ]\r\n}", `{}{}`, `[}`, `{]`,
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000),
	strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001),
}

func TestValidJSONAgreesWithEncodingJSON(t *testing.T) {
	for _, c := range validJSONCases {
		assert.Equal(t, json.Valid([]byte(c)), validJSON([]byte(c)), "%.60q", c)
	}
}

// FuzzValidJSONIsJSONValid also checks isCompact (the same string
// scanner) against json.Compact on the valid inputs.
func FuzzValidJSONIsJSONValid(f *testing.F) {
	for _, c := range validJSONCases {
		if len(c) < 200 {
			f.Add([]byte(c))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, want := validJSON(b), json.Valid(b)
		if got != want {
			t.Fatalf("validJSON(%q) = %t, json.Valid says %t", b, got, want)
		}
		if !want {
			return
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, b); err != nil {
			t.Fatal(err)
		}
		if isCompact(b) != bytes.Equal(compact.Bytes(), b) {
			t.Fatalf("isCompact(%q) = %t, json.Compact gives %q", b, isCompact(b), compact.Bytes())
		}
	})
}

func BenchmarkValidJSON(b *testing.B) {
	data := []byte(`{"finding_id":"0193a5e2-7c1f-7d2e-9b1a-2f4c6d8e0a11","account_id":"123456789012","provider":"aws","region":"eu-west-1","resource_type":"aws_s3_bucket","resource_id":"arn:aws:s3:::acme-logs-prod-eu-west-1","rule_id":"CKV_AWS_18","title":"Ensure the S3 bucket has access logging enabled","severity":"medium","n":[1,2.5,-3e2,true,null]}`)
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			json.Valid(data)
		}
	})
	b.Run("validJSON", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			validJSON(data)
		}
	})
}
