package report

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestWriteHTML(t *testing.T) {
	r := readGolden(t)
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{"<!DOCTYPE html>", "@media print", "Benchmark report: gpt2_20260128_170152",
		"AMD EPYC 7B13", "Latency", "Throughput", "Roofline", `class="fail"`, "data:image/png;base64,"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := strings.Count(page, "<img "); n != 10 {
		t.Errorf("page has %d images, want 10", n)
	}
	// Self-contained: no scripts, no external fetches.
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`(?i)<script`),
		regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:)?//`),
		regexp.MustCompile(`(?i)@import|url\(`),
		regexp.MustCompile(`(?i)<link`),
	} {
		if loc := re.FindStringIndex(page); loc != nil {
			t.Errorf("page is not self-contained: %q", page[loc[0]:min(loc[1]+40, len(page))])
		}
	}
	if plotDir != "" {
		if err := os.WriteFile(filepath.Join(plotDir, "report.html"), buf.Bytes(), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// TestHTMLChromium renders the page in headless Chromium when Debian's
// chromium is installed, and checks it loads with no console errors.
func TestHTMLChromium(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Skip("no " + chromium + "; install Debian's chromium to run this test")
	}
	if testing.Short() {
		t.Skip("short mode")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	var buf bytes.Buffer
	if err := WriteHTML(&buf, readGolden(t)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu",
		"--enable-logging=stderr", "--v=0", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--dump-dom", "file://"+path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "Benchmark report: gpt2_20260128_170152") {
		t.Errorf("dumped DOM lacks the title; stderr:\n%s", stderr.String())
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, "CONSOLE") && (strings.Contains(line, "ERROR") || strings.Contains(line, "Uncaught")) {
			t.Errorf("console error: %s", line)
		}
	}
}
