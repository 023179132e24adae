package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestVersionRule checks the versioning rule at SchemaVersion: a 1.x
// reader reads a report of a future minor (new fields anywhere, which the
// published schema must let through), and a report of the first release
// (1.0); it refuses another major with a *VersionError.
func TestVersionRule(t *testing.T) {
	golden, err := os.ReadFile(goldenReport)
	if err != nil {
		t.Fatal(err)
	}
	// A 1.9 report: new fields at the top level, in a section, in a
	// summary and in a new section, as a future minor may add.
	var doc map[string]any
	if err := json.Unmarshal(golden, &doc); err != nil {
		t.Fatal(err)
	}
	doc["schema_version"] = "1.9"
	doc["energy"] = map[string]any{"joules": 812.5, "meter": "rapl"}
	doc["system_info"].(map[string]any)["numa_nodes"] = 2
	lat := doc["latency"].([]any)[0].(map[string]any)
	lat["ttft_ms"].(map[string]any)["ci95"] = []any{1.0, 2.0}
	lat["queue_ms"] = map[string]any{"n": 1}
	future, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	oldV1, err := os.ReadFile("testdata/v1.0_report.json") // written by schema 1 (1.0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    []byte
		wantErr error
	}{
		{"current", golden, nil},
		{"future minor 1.9 with new fields", future, nil},
		{"first release 1", oldV1, nil},
		{"major 2", bytes.Replace(golden, []byte(`"schema_version": "1.5"`), []byte(`"schema_version": "2.0"`), 1), ErrUnsupportedVersion},
		{"major 0", bytes.Replace(golden, []byte(`"schema_version": "1.5"`), []byte(`"schema_version": "0.9"`), 1), ErrUnsupportedVersion},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "r.json")
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := Read(path)
			if tc.wantErr != nil {
				var ve *VersionError
				if !errors.Is(err, tc.wantErr) || !errors.As(err, &ve) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("a 1.x reader refused it: %v", err)
			}
			// The fields it knows are all there, and it compares with the golden report.
			if r.ModelName != "gpt2" || len(r.Latency) != 3 || r.Latency[0].TTFT.N != 10 {
				t.Errorf("decoded %q, %d latency entries, ttft n %d", r.ModelName, len(r.Latency), r.Latency[0].TTFT.N)
			}
			base, err := Read(goldenReport)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Compare(base, r, CompareOptions{}); err != nil {
				t.Errorf("compare with the golden report: %v", err)
			}
		})
	}
}

// TestWriterMatchesStrictSchema validates what this build writes against
// the published schema with every object closed (additionalProperties
// false): the published schema is open for future minors, so this is
// where a Go field the schema does not declare is caught.
func TestWriterMatchesStrictSchema(t *testing.T) {
	var schema map[string]any
	if err := json.Unmarshal(schemaV1, &schema); err != nil {
		t.Fatal(err)
	}
	closeObjects(schema)
	c := jsonschema.NewCompiler()
	if err := c.AddResource("strict.json", schema); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("strict.json")
	if err != nil {
		t.Fatal(err)
	}
	data, err := Marshal(fakeReport(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("a field this build writes is not in schema/v1.json: %v", err)
	}
}

// closeObjects sets additionalProperties false on every schema object
// that lists properties.
func closeObjects(v any) {
	switch v := v.(type) {
	case map[string]any:
		if _, ok := v["properties"]; ok {
			if _, set := v["additionalProperties"]; !set {
				v["additionalProperties"] = false
			}
		}
		for _, e := range v {
			closeObjects(e)
		}
	case []any:
		for _, e := range v {
			closeObjects(e)
		}
	}
}
