package systemd

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestJournalStream(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stream"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	match := fmt.Sprintf("%d:%d", uint64(st.Dev), uint64(st.Ino))
	other := fmt.Sprintf("%d:%d", uint64(st.Dev), uint64(st.Ino)+1)
	for _, tc := range []struct {
		name, env string
		want      bool
	}{
		{"matches", match, true},
		{"another stream", other, false},
		{"unset", "", false},
		{"garbage", "journal", false},
		{"no inode", fmt.Sprintf("%d:", uint64(st.Dev)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("JOURNAL_STREAM", tc.env)
			if got := JournalStream(f); got != tc.want {
				t.Errorf("JournalStream with JOURNAL_STREAM=%q = %v, want %v", tc.env, got, tc.want)
			}
		})
	}
}

func TestPriorityWriter(t *testing.T) {
	var b bytes.Buffer
	w := NewPriorityWriter(&b)
	for _, tc := range []struct {
		prio int
		in   string
	}{
		{PriWarning, "{\"level\":\"warn\"}\n"},
		{PriInfo, "two\nlines\n"},
		{42, "clamped\n"},
		{-1, "no newline"},
	} {
		n, err := w.WritePriority(tc.prio, []byte(tc.in))
		if err != nil || n != len(tc.in) {
			t.Fatalf("WritePriority(%d, %q) = %d, %v", tc.prio, tc.in, n, err)
		}
	}
	want := "<4>{\"level\":\"warn\"}\n<6>two\n<6>lines\n<7>clamped\n<0>no newline"
	if b.String() != want {
		t.Errorf("wrote %q, want %q", b.String(), want)
	}
	line := []byte("{\"level\":\"info\",\"message\":\"frame\"}\n")
	if a := testing.AllocsPerRun(100, func() { w.WritePriority(PriInfo, line) }); a != 0 {
		t.Errorf("%v allocations per line, want 0", a)
	}
}

// FuzzPriorityWriter: every line of any input comes out once, in order,
// behind one prefix.
func FuzzPriorityWriter(f *testing.F) {
	f.Add(4, []byte("{\"level\":\"warn\"}\n"))
	f.Add(6, []byte("a\n\nb"))
	f.Add(99, []byte("\n"))
	f.Fuzz(func(t *testing.T, prio int, in []byte) {
		var b bytes.Buffer
		n, err := NewPriorityWriter(&b).WritePriority(prio, in)
		if err != nil || n != len(in) {
			t.Fatalf("WritePriority = %d, %v", n, err)
		}
		want := min(max(prio, PriEmerg), PriDebug)
		out := b.Bytes()
		var back []byte
		for len(out) > 0 {
			if len(out) < 3 || out[0] != '<' || int(out[1]-'0') != want || out[2] != '>' {
				t.Fatalf("a line without the prefix <%d>: %q", want, out)
			}
			out = out[3:]
			i := bytes.IndexByte(out, '\n')
			if i < 0 {
				i = len(out) - 1
			}
			back, out = append(back, out[:i+1]...), out[i+1:]
		}
		if !bytes.Equal(back, in) {
			t.Fatalf("lines %q, want %q", back, in)
		}
	})
}
