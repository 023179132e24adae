package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaV1 is the committed JSON Schema of report v1.
//
//go:embed schema/v1.json
var schemaV1 []byte

// SchemaV1 returns a copy of the JSON Schema (draft 2020-12) of report v1.
func SchemaV1() []byte { return bytes.Clone(schemaV1) }

// schemaURL is the name the schema is compiled under; it appears in errors.
const schemaURL = "gpt2bench-report-v1.json"

// compiledV1 compiles the embedded schema once; the result is never mutated.
var compiledV1 = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaV1))
	if err != nil {
		return nil, fmt.Errorf("report: parse embedded schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("report: load embedded schema: %w", err)
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		return nil, fmt.Errorf("report: compile embedded schema: %w", err)
	}
	return sch, nil
})

// ErrUnsupportedVersion is wrapped by VersionError; test with errors.Is.
var ErrUnsupportedVersion = errors.New("unsupported report schema version")

// VersionError reports a schema_version this build cannot read.
type VersionError struct {
	Got string // schema_version found in the report, "" when missing
}

// Error implements error.
func (e *VersionError) Error() string {
	if e.Got == "" {
		return "report has no schema_version; it is not a gpt2bench report (or predates v1)"
	}
	return fmt.Sprintf("report schema_version %q is not supported: this build reads version %s; use a gpt2bench release that writes version %s",
		e.Got, majorOf(SchemaVersion), majorOf(e.Got))
}

// Unwrap makes errors.Is(err, ErrUnsupportedVersion) true.
func (e *VersionError) Unwrap() error { return ErrUnsupportedVersion }

// majorOf returns the part of v before the first dot.
func majorOf(v string) string {
	major, _, _ := strings.Cut(v, ".")
	return major
}

// SyntaxError is a report that is not well-formed JSON (malformed or truncated).
type SyntaxError struct {
	Offset int64  // byte offset of the problem; the length of the input when truncated
	Msg    string // what is wrong, from encoding/json
}

// Error implements error.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("report is not valid JSON at byte %d: %s", e.Offset, e.Msg)
}

// checkJSON checks data is one well-formed JSON value and returns its schema_version.
func checkJSON(data []byte) (version string, err error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return "", &SyntaxError{Offset: 0, Msg: "empty input"}
	}
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			msg := se.Error()
			if strings.Contains(msg, "unexpected end of JSON input") {
				msg = "unexpected end of input (truncated file?)"
			}
			return "", &SyntaxError{Offset: se.Offset, Msg: msg}
		case err != nil:
			return "", &SyntaxError{Offset: int64(len(data)), Msg: "unexpected end of input (truncated file?)"}
		}
		return "", &SyntaxError{Offset: 0, Msg: "invalid JSON"}
	}
	var head struct {
		SchemaVersion *json.RawMessage `json:"schema_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return "", fmt.Errorf("report: top level must be a JSON object: %w", err)
	}
	if head.SchemaVersion == nil {
		return "", &VersionError{}
	}
	var s string
	if err := json.Unmarshal(*head.SchemaVersion, &s); err != nil {
		return "", &VersionError{Got: string(*head.SchemaVersion)}
	}
	if majorOf(s) != majorOf(SchemaVersion) {
		return "", &VersionError{Got: s}
	}
	return s, nil
}

// Validate checks that data is a report this build can read: well-formed
// JSON (*SyntaxError otherwise), a schema_version with major 1
// (*VersionError otherwise), and valid against the embedded JSON Schema
// (the error lists each violation with its JSON pointer).
func Validate(data []byte) error {
	if _, err := checkJSON(data); err != nil {
		return err
	}
	sch, err := compiledV1()
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("report: decode for validation: %w", err)
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("report does not match schema v1: %w", err)
	}
	return nil
}
