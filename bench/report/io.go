package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
)

// maxReportBytes bounds what Read loads; real reports are well under 10 MiB.
const maxReportBytes = 256 << 20

// Read reads and validates the report at path (see Validate for the errors
// it can return, wrapped with the path) and decodes it.
func Read(path string) (*Report, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("report: %s is a directory; pass a report .json file", path)
	}
	if fi.Size() > maxReportBytes {
		return nil, fmt.Errorf("report: %s is %d bytes, more than the %d a report can be; is it a report?", path, fi.Size(), maxReportBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	r, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("report: read %s: %w", path, err)
	}
	return r, nil
}

// Decode validates data (see Validate) and decodes it into a Report.
func Decode(data []byte) (*Report, error) {
	if err := Validate(data); err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("decode report: %w", err)
	}
	return &r, nil
}

// Marshal encodes r as indented JSON with a final newline, setting nothing:
// the caller fills SchemaVersion (WriteNew does when it is empty).
func Marshal(r *Report) ([]byte, error) {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("report: encode: %w", err)
	}
	return append(data, '\n'), nil
}

// FileBase returns the base file name (no extension) WriteNew first tries for
// r: {model}_{YYYYMMDD_HHMMSS}, the model name sanitized for file names and
// the timestamp in UTC.
func FileBase(r *Report) string {
	return SanitizeName(r.ModelName) + "_" + r.Timestamp.UTC().Format("20060102_150405")
}

// SanitizeName maps a model name to a portable file-name part: letters,
// digits, '-', '_' and '.' are kept, anything else (such as the '/' of
// "openai-community/gpt2") becomes '_'. An empty result becomes "model".
func SanitizeName(name string) string {
	var b strings.Builder
	for _, c := range name {
		switch {
		case c < unicode.MaxASCII && (unicode.IsLetter(c) || unicode.IsDigit(c)), c == '-', c == '_', c == '.':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	s := strings.Trim(b.String(), "._")
	if s == "" {
		return "model"
	}
	return s
}

// maxSuffix bounds the _2, _3... suffixes WriteNew tries.
const maxSuffix = 1000

// WriteNew writes r as {dir}/{model}_{YYYYMMDD_HHMMSS}.json and a Markdown
// summary beside it with the same base name and ".md", and returns the JSON
// path. It never overwrites: when the name is taken it tries _2, _3, ...
// Each file is written to a temporary file in dir, synced, then hard-linked
// to its final name (which fails if the name exists, so concurrent writers
// cannot clobber each other) and the temporary file removed; on any error
// nothing is left behind. An empty SchemaVersion is set to SchemaVersion and
// an empty ReportName to the chosen base name; r is otherwise unchanged.
func WriteNew(dir string, r *Report) (path string, err error) {
	if r == nil {
		return "", errors.New("report: write: nil report")
	}
	if r.SchemaVersion == "" {
		r.SchemaVersion = SchemaVersion
	}
	base := FileBase(r)
	if r.ReportName == "" {
		r.ReportName = base
	}
	data, err := Marshal(r)
	if err != nil {
		return "", err
	}
	if err := Validate(data); err != nil {
		return "", fmt.Errorf("report: refusing to write an invalid report: %w", err)
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, r); err != nil {
		return "", err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("report: output directory: %w; create it or pass another --out", err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("report: output %s is not a directory; pass a directory", dir)
	}
	jsonTmp, err := writeTemp(dir, data)
	if err != nil {
		return "", err
	}
	defer os.Remove(jsonTmp)
	mdTmp, err := writeTemp(dir, md.Bytes())
	if err != nil {
		return "", err
	}
	defer os.Remove(mdTmp)

	for i := 1; i <= maxSuffix; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s_%d", base, i)
		}
		jsonPath := filepath.Join(dir, name+".json")
		mdPath := filepath.Join(dir, name+".md")
		if _, err := os.Lstat(mdPath); err == nil {
			continue // keep the pair together: an earlier .md owns this name
		}
		if err := publish(jsonTmp, jsonPath, data); err != nil {
			if errors.Is(err, fs.ErrExist) {
				continue
			}
			return "", fmt.Errorf("report: write %s: %w", jsonPath, err)
		}
		if err := publish(mdTmp, mdPath, md.Bytes()); err != nil {
			os.Remove(jsonPath)
			if errors.Is(err, fs.ErrExist) {
				continue
			}
			return "", fmt.Errorf("report: write %s: %w", mdPath, err)
		}
		syncDir(dir)
		return jsonPath, nil
	}
	return "", fmt.Errorf("report: %s already has %d reports named %s*; clean it up or pass another directory", dir, maxSuffix, base)
}

// publish gives the synced temporary file tmp the name dst, failing with
// fs.ErrExist when dst exists. It hard-links; where the file system has no
// hard links it creates dst with O_EXCL and writes data (still never
// overwriting, but a crash can leave dst short).
func publish(tmp, dst string, data []byte) error {
	err := os.Link(tmp, dst)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	f, cerr := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if cerr != nil {
		if errors.Is(cerr, fs.ErrExist) {
			return cerr
		}
		return fmt.Errorf("%w (hard link: %v)", cerr, err)
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(dst)
	}
	return werr
}

// writeTemp writes data to a new temporary file in dir and syncs it.
func writeTemp(dir string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, ".gpt2bench-report-*.tmp")
	if err != nil {
		return "", fmt.Errorf("report: cannot write in %s: %w; check it is writable or pass another directory", dir, err)
	}
	name := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(name)
		return "", fmt.Errorf("report: write temporary file in %s: %w", dir, werr)
	}
	return name, nil
}

// syncDir flushes the directory entry of new links; best effort, since some
// file systems do not support syncing directories.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
