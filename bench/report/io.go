package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/gpt2bench/gpt2bench/internal/atomicfile"
)

// maxReportBytes bounds what Read loads: real reports are well under 1 MiB,
// and validating one takes about 14 times its size (a 220 MB report took
// 3 GB and a minute).
const maxReportBytes = 16 << 20

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
	if !fi.Mode().IsRegular() { // a FIFO would block, a device read without end
		return nil, fmt.Errorf("report: %s is not a regular file (%v); pass a report .json file", path, fi.Mode().Type())
	}
	if fi.Size() > maxReportBytes {
		return nil, fmt.Errorf("report: %s is %d bytes, more than the %d a report can be; is it a report?", path, fi.Size(), maxReportBytes)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxReportBytes+1))
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if len(data) > maxReportBytes {
		return nil, fmt.Errorf("report: %s grew past %d bytes while it was read", path, maxReportBytes)
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
// Each file is written through internal/atomicfile.Create (a synced
// temporary file hard-linked to its name, mode 0644, failing if the name
// exists, so concurrent writers cannot clobber each other); on any error
// nothing is left behind. An empty SchemaVersion is set to SchemaVersion;
// an empty ReportName is set to the base name chosen, suffix included, so
// that report_name always names the file. r is otherwise unchanged.
func WriteNew(dir string, r *Report) (path string, err error) {
	if r == nil {
		return "", errors.New("report: write: nil report")
	}
	if r.SchemaVersion == "" {
		r.SchemaVersion = SchemaVersion
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("report: output directory: %w; create it or pass another --out", err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("report: output %s is not a directory; pass a directory", dir)
	}
	base := FileBase(r)
	named := r.ReportName != ""
	for i := 1; i <= maxSuffix; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s_%d", base, i)
		}
		jsonPath := filepath.Join(dir, name+".json")
		mdPath := filepath.Join(dir, name+".md")
		if exists(jsonPath) || exists(mdPath) {
			continue // keep the pair together: an earlier report owns this name
		}
		if !named {
			r.ReportName = name
		}
		data, md, err := encode(r)
		if err != nil {
			if !named {
				r.ReportName = ""
			}
			return "", err
		}
		if err := atomicfile.Create(jsonPath, data); err != nil {
			if errors.Is(err, fs.ErrExist) {
				continue
			}
			return "", fmt.Errorf("report: cannot write in %s: %w; check it is writable or pass another directory", dir, err)
		}
		if err := atomicfile.Create(mdPath, md); err != nil {
			os.Remove(jsonPath)
			if errors.Is(err, fs.ErrExist) {
				continue
			}
			return "", fmt.Errorf("report: cannot write in %s: %w; check it is writable or pass another directory", dir, err)
		}
		syncDir(dir)
		return jsonPath, nil
	}
	if !named {
		r.ReportName = ""
	}
	return "", fmt.Errorf("report: %s already has %d reports named %s*; clean it up or pass another directory", dir, maxSuffix, base)
}

// encode returns r as validated JSON and as its Markdown summary.
func encode(r *Report) (data, md []byte, err error) {
	if data, err = Marshal(r); err != nil {
		return nil, nil, err
	}
	if err := Validate(data); err != nil {
		return nil, nil, fmt.Errorf("report: refusing to write an invalid report: %w", err)
	}
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, r); err != nil {
		return nil, nil, err
	}
	return data, buf.Bytes(), nil
}

// exists reports whether anything (a file, link or directory) has name p.
func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// syncDir flushes the directory entry of new links; best effort, since some
// file systems do not support syncing directories.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
