package main

import (
	"bytes"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// TestFlagsConsistent checks one idea has one flag name and type across
// every command: a name used by several commands has the same type in all
// of them, the shared ideas use the names below, and the old names are
// hidden aliases.
func TestFlagsConsistent(t *testing.T) {
	root := newRootCmd(&app{stdout: io.Discard, stderr: io.Discard, getenv: os.Getenv})
	types := map[string]map[string]string{} // flag -> type -> first command
	for _, c := range root.Commands() {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if types[f.Name] == nil {
				types[f.Name] = map[string]string{}
			}
			if _, ok := types[f.Name][f.Value.Type()]; !ok {
				types[f.Name][f.Value.Type()] = c.Name()
			}
		})
	}
	for name, ts := range types {
		if len(ts) > 1 {
			t.Errorf("--%s has several types across commands: %v", name, ts)
		}
	}
	want := []struct{ cmd, flag, typ string }{
		{"bench", "input-len", "intSlice"}, {"profile", "input-len", "intSlice"},
		{"bench", "output-len", "int"}, {"profile", "output-len", "int"}, {"generate", "output-len", "int"},
		{"bench", "seed", "uint64"}, {"profile", "seed", "uint64"}, {"generate", "seed", "uint64"},
		{"bench", "runs", "int"}, {"calibrate", "repeats", "int"},
	}
	for _, w := range want {
		c, _, err := root.Find([]string{w.cmd})
		if err != nil {
			t.Fatal(err)
		}
		f := c.Flags().Lookup(w.flag)
		if f == nil || f.Value.Type() != w.typ {
			t.Errorf("%s --%s: %v, want type %s", w.cmd, w.flag, f, w.typ)
		}
	}
	aliases := []struct{ cmd, old, now string }{
		{"bench", "input-lengths", "input-len"}, {"generate", "max-new-tokens", "output-len"}, {"calibrate", "runs", "repeats"},
	}
	for _, a := range aliases {
		c, _, _ := root.Find([]string{a.cmd})
		if f := c.Flags().Lookup(a.old); f == nil || f.Name != a.now {
			t.Errorf("%s --%s is not an alias of --%s", a.cmd, a.old, a.now)
		}
		var help bytes.Buffer
		c.SetOut(&help)
		_ = c.Usage()
		if strings.Contains(help.String(), "--"+a.old+" ") {
			t.Errorf("%s --help shows the old name --%s", a.cmd, a.old)
		}
	}
}

// TestLineProgress checks the plain progress of logs: a line when a task
// has run a while since the last one, and one when it ends.
func TestLineProgress(t *testing.T) {
	now := time.Unix(0, 0)
	var out bytes.Buffer
	p := &lineProgress{w: &out, every: 5 * time.Second, now: func() time.Time { return now }}
	p.Start("latency  input 32", 4)
	for _, dt := range []time.Duration{2, 2, 2, 1} {
		now = now.Add(dt * time.Second)
		p.Add(1)
	}
	p.Finish()
	p.Start("through. batch 4", 3)
	now = now.Add(time.Second)
	p.Add(1)
	p.Finish()
	want := "latency  input 32: 3/4 (6 s)\nlatency  input 32: done, 4/4 in 7.0 s\nthrough. batch 4: stopped, 1/3 in 1.0 s\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

// TestIntList checks the int-list flag: the first value replaces the
// default, later ones append, and an empty value or "none" is the empty
// list (so that `bench --continuous=` turns the continuous mode off).
func TestIntList(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    []int
		wantErr string
	}{
		{"default", nil, []int{4, 8}, ""},
		{"replace", []string{"--continuous", "2,16"}, []int{2, 16}, ""},
		{"repeat-appends", []string{"--continuous", "2", "--continuous", "3"}, []int{2, 3}, ""},
		{"empty", []string{"--continuous="}, nil, ""},
		{"none", []string{"--continuous", "none"}, nil, ""},
		{"spaces", []string{"--continuous", " 1, 2 "}, []int{1, 2}, ""},
		{"bad", []string{"--continuous", "4,x"}, nil, `"x" is not an integer`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []int
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			fs.SetOutput(io.Discard)
			fs.Var(newIntList(&got, []int{4, 8}), "continuous", "")
			err := fs.Parse(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse(%q) = %v, want an error with %q", tc.args, err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("Parse(%q) = %v, %v; want %v", tc.args, got, err, tc.want)
			}
		})
	}
	// bench's own flag: the empty list reaches the options as no continuous mode.
	root := newRootCmd(&app{stdout: io.Discard, stderr: io.Discard, getenv: os.Getenv})
	c, _, err := root.Find([]string{"bench"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Flags().Parse([]string{"--continuous="}); err != nil {
		t.Fatal(err)
	}
	if v := c.Flags().Lookup("continuous").Value.String(); v != "[]" {
		t.Fatalf("bench --continuous= reads %s, want []", v)
	}
}
