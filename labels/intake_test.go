package labels

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"catd/internal/testwait"
)

// TestIntakeCrashSetsFileAside: catd was killed while decoding
// cat/bomb.jpg (the record says so and the file is still there). The next
// start moves it to rejected/ with the reason instead of decoding it
// again, takes the other files as usual, and clears the record.
func TestIntakeCrashSetsFileAside(t *testing.T) {
	dir := t.TempDir()
	opt := testOptions(t, dir)
	if _, err := New(opt); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "cat", "bomb.jpg"), makeJPEG(t, 64, 48, 1))
	writeFile(t, filepath.Join(dir, "cat", "fine.png"), makePNG(t, 40, 30, 2))
	writeFile(t, filepath.Join(dir, intakeFile), []byte("cat/bomb.jpg\n"))
	rec := newRecorder()
	r := start(t, opt, rec.take, nil)
	testwait.For(t, "one file taken", func() bool { return len(doneFiles(t, dir)) == 1 })
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if got := rec.names(); !slices.Equal(got, []string{"cat/fine.png"}) {
		t.Errorf("took %v, want only cat/fine.png", got)
	}
	reason, err := os.ReadFile(filepath.Join(dir, RejectedDir, "bomb.jpg.txt"))
	if err != nil || !strings.Contains(string(reason), "catd stopped while decoding this file") {
		t.Errorf("rejected/bomb.jpg.txt: %q, %v", reason, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, intakeFile)); err != nil || len(b) != 0 {
		t.Errorf("the intake record after the start: %q, %v; want it empty", b, err)
	}
}

// TestIntakeRecord: markIntake writes the record; a record that names no
// label file (edited by hand, or naming a file already gone) sets nothing
// aside.
func TestIntakeRecord(t *testing.T) {
	dir := t.TempDir()
	opt := testOptions(t, dir)
	in, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	in.markIntake("noncat/x.jpg")
	if b, _ := os.ReadFile(filepath.Join(dir, intakeFile)); string(b) != "noncat/x.jpg\n" {
		t.Errorf("record %q", b)
	}
	for _, rec := range []string{"noncat/x.jpg", "../../etc/passwd", "cat/", "done/a.jpg", "cat/.hidden"} {
		writeFile(t, filepath.Join(dir, "done", "a.jpg"), []byte("x"))
		writeFile(t, filepath.Join(dir, intakeFile), []byte(rec+"\n"))
		in.recoverIntake()
		if n := len(listDir(t, filepath.Join(dir, RejectedDir))); n != 0 {
			t.Errorf("record %q: %d files rejected", rec, n)
		}
		if !exists(filepath.Join(dir, "done", "a.jpg")) {
			t.Errorf("record %q: done/a.jpg moved", rec)
		}
	}
}
