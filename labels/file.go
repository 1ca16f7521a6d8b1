package labels

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"catd/dataset"
)

// rejectError is a file that cannot be used, with the reason written to
// rejected/NAME.txt.
type rejectError struct{ reason string }

func (e *rejectError) Error() string { return e.reason }

func rejectf(format string, args ...any) error {
	return &rejectError{fmt.Sprintf(format, args...)}
}

// step looks at one due pending file and does what its state calls for:
// observe it, wait, read and take it, or reject it.
func (in *Inbox) step(e *entry, take func(Example) error) {
	now := time.Now()
	st, err := in.tree.lstat(e.rel)
	if errors.Is(err, fs.ErrNotExist) {
		in.forget(e) // moved away or deleted
		return
	}
	if classGone(err) {
		in.refuse(e, err)
		return
	}
	if err != nil {
		in.fail(e, now, err, "labels: cannot look at file")
		return
	}
	switch {
	case st.Mode()&fs.ModeSymlink != 0:
		in.reject(e, in.symlinkReason(e.rel))
		return
	case st.IsDir():
		in.forget(e) // folders inside class folders are left alone
		return
	case !st.Mode().IsRegular():
		in.reject(e, fmt.Sprintf("not a regular file but a %s", typeName(st.Mode())))
		return
	}
	if !e.observed || st.Size() != e.size || !st.ModTime().Equal(e.mtime) {
		e.observed, e.size, e.mtime, e.since, e.bad = true, st.Size(), st.ModTime(), now, ""
		e.due = now.Add(in.opt.Settle)
		return
	}
	if e.bad != "" {
		if at := e.since.Add(in.opt.RejectAfter); now.Before(at) {
			e.due = at
			return
		}
		in.reject(e, e.bad)
		return
	}
	if at := e.since.Add(in.opt.Settle); now.Before(at) {
		e.due = at
		return
	}
	if now.Before(e.retryAt) {
		e.due = e.retryAt
		return
	}
	in.takeFile(e, now, take)
}

// takeFile reads, checks and decodes a settled file and hands it to take.
func (in *Inbox) takeFile(e *entry, now time.Time, take func(Example) error) {
	data, st, err := in.readFile(e.rel, in.opt.MaxBytes)
	var rej *rejectError
	switch {
	case errors.As(err, &rej):
		in.reject(e, rej.reason)
		return
	case errors.Is(err, fs.ErrNotExist):
		in.forget(e)
		return
	case classGone(err):
		in.refuse(e, err)
		return
	case errors.Is(err, fs.ErrPermission):
		in.reject(e, fmt.Sprintf("cannot be read: %v", errors.Unwrap(err)))
		return
	case err != nil:
		in.fail(e, now, err, "labels: cannot read file")
		return
	}
	if st.Size() != e.size || !st.ModTime().Equal(e.mtime) {
		e.observed, e.due = false, time.Time{} // written to while read: settle again
		return
	}
	hash := sha256.Sum256(data)
	if in.seen(hash, e.class) {
		in.duplicates.Add(1)
		in.moveDone(e, hash, "labels: duplicate moved to done")
		return
	}
	// Recorded while it decodes: if catd is killed meanwhile (out of
	// memory), the next start sets the file aside (recoverIntake) rather
	// than take it again, and again.
	in.markIntake(e.rel)
	img, err := dataset.DecodeImage(bytes.NewReader(data), in.opt.MaxPixels)
	var pix []uint8
	var rzErr error
	if err == nil {
		pix = make([]uint8, in.rz.OutLen())
		rzErr = in.rz.Image(pix, img)
	}
	in.markIntake("")
	if err != nil {
		reason := decodeReason(err, len(data))
		if errors.Is(err, dataset.ErrTooLarge) {
			in.reject(e, reason)
			return
		}
		// The writer may only have paused: reject the file if it stays
		// like this.
		e.bad = reason
		e.due = e.since.Add(in.opt.RejectAfter)
		in.log.Debug().Str("file", e.rel).Str("reason", reason).Msg("labels: cannot decode yet")
		return
	}
	if rzErr != nil {
		in.reject(e, strings.TrimPrefix(rzErr.Error(), "preprocess: "))
		return
	}
	ex := Example{Class: e.class, Pixels: pix, Name: e.name, Hash: hash, Time: e.mtime}
	if err := take(ex); err != nil {
		in.fail(e, time.Now(), err, "labels: could not store label; will retry")
		return
	}
	in.taken.Add(1)
	in.moveDone(e, hash, "labels: took label")
}

// classGone reports whether err, from a look at a file in a class folder,
// says that the class folder is no longer a real folder: a link (ELOOP,
// since links are not followed) or a file (ENOTDIR) was put in its place.
func classGone(err error) bool {
	return isLinkErr(err) || errors.Is(err, syscall.ENOTDIR)
}

// refuse drops e, whose class folder was replaced (classGone(err)): what
// is behind the replacement is not looked at. The next look at the class
// folders (a rescan, or the event of the swap) moves the replacement aside.
func (in *Inbox) refuse(e *entry, err error) {
	in.forget(e)
	in.log.Error().Err(err).Str("file", e.rel).Str("class", e.class).
		Msg("labels: refused a file whose class folder is not a real folder (not followed)")
}

// seen reports whether an image with this hash was taken already with
// this class.
func (in *Inbox) seen(hash [32]byte, class string) bool {
	if _, ok := in.takenNotMoved[hash]; ok {
		return true
	}
	return in.opt.Seen != nil && in.opt.Seen(hash, class)
}

// fail logs err for e and puts the next attempt off, doubling the wait
// with each failure in a row.
func (in *Inbox) fail(e *entry, now time.Time, err error, msg string) {
	wait := in.retryMin << min(e.failures, 20)
	wait = min(wait, retryMax)
	e.failures++
	e.retryAt = now.Add(wait)
	e.due = e.retryAt
	in.log.Warn().Err(err).Str("file", e.rel).Str("class", e.class).
		Int("attempt", e.failures).Dur("retry_in", wait).Msg(msg)
}

// moveDone moves a taken (or already known) file to done/<class>/ and logs
// msg.
func (in *Inbox) moveDone(e *entry, hash [32]byte, msg string) {
	// take may have run long: if the file was rewritten meanwhile, what is
	// there now was not taken.
	st, err := in.tree.lstat(e.rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		in.forget(e)
		in.log.Info().Str("file", e.rel).Str("class", e.class).Msg(msg + " (the file was gone already)")
		return
	case err == nil && (st.Size() != e.size || !st.ModTime().Equal(e.mtime) || !st.Mode().IsRegular()):
		in.log.Info().Str("file", e.rel).Msg("labels: file changed while it was taken; looking at it again")
		e.observed, e.due = false, time.Time{}
		return
	}
	to, err := in.move(e, DoneDir+"/"+e.class, false)
	if err != nil {
		in.takenNotMoved[hash] = struct{}{}
		in.fail(e, time.Now(), err, "labels: cannot move file to done")
		return
	}
	delete(in.takenNotMoved, hash)
	in.forget(e)
	in.log.Info().Str("file", e.rel).Str("class", e.class).Str("to", to).Msg(msg)
}

// reject moves e's file to rejected/ and writes the reason beside it.
func (in *Inbox) reject(e *entry, reason string) {
	now := time.Now()
	to, err := in.move(e, RejectedDir, true)
	if err != nil {
		in.fail(e, now, err, "labels: cannot move file to rejected")
		return
	}
	in.forget(e)
	in.rejected.Add(1)
	in.log.Warn().Str("file", e.rel).Str("class", e.class).Str("to", to).Str("reason", reason).
		Msg("labels: rejected")
	line := now.Format(time.RFC3339) + " " + oneLine(reason) + "\n"
	if err := in.tree.writeFile(to+".txt", []byte(line), reasonPerm, in.opt.Meter); err != nil {
		in.log.Error().Err(err).Str("file", to+".txt").Msg("labels: cannot write the reason for a rejected file")
	}
}

// move renames e's file into the folder sub under a name not taken there
// (nor, with txt, with ".txt" added), and returns its new path inside the
// labels folder.
func (in *Inbox) move(e *entry, sub string, txt bool) (string, error) {
	for try := 0; ; try++ {
		name, err := in.freeName(sub, e.name, txt)
		if err == nil {
			err = in.tree.rename(e.rel, sub+"/"+name)
		}
		if err == nil {
			return sub + "/" + name, nil
		}
		if try > 0 || !(errors.Is(err, fs.ErrNotExist) || classGone(err)) {
			return "", err
		}
		// done/, done/<class>/ or rejected/ was removed, or replaced by a
		// link: make it again, from the top (the file itself being gone,
		// or its class folder being replaced, is found out by the next
		// look).
		dir := ""
		for _, part := range strings.Split(sub, "/") {
			dir = path.Join(dir, part)
			if err := in.ensureDir(dir); err != nil {
				return "", err
			}
		}
	}
}

// nameMax is the longest file name most Linux file systems take, in bytes.
const nameMax = 255

// freeName returns name, or name with "-1", "-2", … before its extension,
// whichever is the first not to exist in the folder sub of the labels
// folder ("" for the labels folder itself), and, with txt, whose ".txt"
// does not exist either, shortened to fit nameMax.
func (in *Inbox) freeName(sub, name string, txt bool) (string, error) {
	limit := nameMax
	if txt {
		limit -= len(".txt")
	}
	for i := 0; i < 1_000_000; i++ {
		cand := numbered(name, i, limit)
		free, err := in.absent(path.Join(sub, cand))
		if err == nil && free && txt {
			free, err = in.absent(path.Join(sub, cand+".txt"))
		}
		if err != nil {
			return "", err
		}
		if free {
			return cand, nil
		}
	}
	return "", fmt.Errorf("labels: no free name for %s in %s", name, filepath.Join(in.dir, sub))
}

// absent reports whether nothing exists at rel (not even a dangling link).
func (in *Inbox) absent(rel string) (bool, error) {
	_, err := in.tree.lstat(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	return false, err
}

// numbered returns name with "-i" inserted before its extension (name
// itself for i == 0), cut to at most limit bytes without splitting a
// UTF-8 character.
func numbered(name string, i, limit int) string {
	ext := filepath.Ext(name)
	if ext == name || len(ext) > limit/2 {
		ext = ""
	}
	stem := strings.TrimSuffix(name, ext)
	suffix := ""
	if i > 0 {
		suffix = "-" + strconv.Itoa(i)
	}
	for len(stem)+len(suffix)+len(ext) > limit && stem != "" {
		_, size := utf8.DecodeLastRuneInString(stem)
		stem = stem[:len(stem)-size]
	}
	return stem + suffix + ext
}

// readFile reads the regular file rel, of at most maxBytes bytes, without
// following a symbolic link and without blocking on a named pipe. Files
// that cannot be used give a *rejectError. A link in place of the class
// folder gives an error for which isLinkErr is true.
func (in *Inbox) readFile(rel string, maxBytes int64) ([]byte, os.FileInfo, error) {
	f, err := in.tree.openRead(rel)
	if err != nil {
		if isLinkErr(err) {
			if st, lerr := in.tree.lstat(rel); lerr == nil && st.Mode()&fs.ModeSymlink != 0 {
				return nil, nil, &rejectError{in.symlinkReason(rel)}
			}
		}
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, nil, rejectf("not a regular file but a %s", typeName(st.Mode()))
	}
	if n := hardLinks(st); n > 1 {
		return nil, nil, rejectf("the file has %d hard links; labels are only taken from files that are not linked elsewhere (copy or move the image here instead)", n)
	}
	if st.Size() > maxBytes {
		return nil, nil, rejectf("file of %d bytes is over the limit of %d bytes", st.Size(), maxBytes)
	}
	var buf bytes.Buffer
	buf.Grow(int(min(st.Size(), 1<<30)) + bytes.MinRead)
	n, err := buf.ReadFrom(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read: %w", err)
	}
	if n > maxBytes {
		return nil, nil, rejectf("file of more than %d bytes is over the limit of %d bytes", maxBytes, maxBytes)
	}
	data := buf.Bytes()
	// Stat again: size and modification time as they are after the read,
	// which the caller compares with what settled.
	if st, err = f.Stat(); err != nil {
		return nil, nil, err
	}
	return data, st, nil
}

// symlinkReason says why the symbolic link rel is rejected.
func (in *Inbox) symlinkReason(rel string) string {
	to := "somewhere"
	if t, err := in.tree.readlink(rel); err == nil {
		to = strconv.Quote(t)
	}
	return "a symbolic link (to " + to + "), not a file: labels are only taken from files in the folder itself (copy or move the image here instead)"
}

// typeName names a non-regular file type.
func typeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeDir != 0:
		return "folder"
	}
	return "special file (" + m.Type().String() + ")"
}

// decodeReason says why data of n bytes did not decode, for a user.
func decodeReason(err error, n int) string {
	msg := strings.TrimPrefix(err.Error(), "dataset: ")
	var jf jpeg.FormatError
	var ju jpeg.UnsupportedError
	var pf png.FormatError
	var pu png.UnsupportedError
	switch {
	case n == 0:
		return "empty file"
	case errors.Is(err, dataset.ErrNotImage), errors.Is(err, dataset.ErrTooLarge):
		return msg
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "cut short (the image ends early): " + msg
	case errors.As(err, &ju), errors.As(err, &pu):
		return "unsupported image: " + msg
	case errors.As(err, &jf), errors.As(err, &pf):
		return "corrupt or cut short: " + msg
	}
	return "cannot decode: " + msg
}

// oneLine makes s fit on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// intakeFile, in the labels folder, names the file being decoded, if any.
const intakeFile = ".intake"

// markIntake records rel as the file being decoded ("": none).
func (in *Inbox) markIntake(rel string) {
	var b []byte
	if rel != "" {
		b = []byte(rel + "\n")
	}
	if err := in.tree.overwrite(intakeFile, b); err != nil && !in.intakeErr {
		in.intakeErr = true // said once
		in.log.Warn().Err(err).Msg("labels: cannot record the file being taken; a file that crashes catd would be taken again after a restart")
	}
}

// recoverIntake moves to rejected/ the file catd was decoding when it
// last stopped without finishing it: decoding it killed catd (out of
// memory, most likely), and would again on every start.
func (in *Inbox) recoverIntake() {
	f, err := in.tree.openRead(intakeFile)
	if err != nil {
		return // none: the usual case
	}
	b, _ := io.ReadAll(io.LimitReader(f, 4096))
	f.Close()
	rel := strings.TrimSpace(string(b))
	if rel == "" {
		return
	}
	defer in.markIntake("")
	class, name, ok := strings.Cut(rel, "/")
	if !ok || (class != Cat && class != NonCat) || name == "" || strings.Contains(name, "/") || ignored(name) {
		in.log.Warn().Str("record", oneLine(rel)).Msg("labels: the record of the file being taken names no label file; ignored")
		return
	}
	if st, err := in.tree.lstat(rel); err != nil || !st.Mode().IsRegular() {
		return // gone since, or no longer a file: nothing to set aside
	}
	in.reject(&entry{class: class, name: name, rel: rel},
		"catd stopped while decoding this file (killed, most likely for want of memory): set aside so that it cannot stop catd again")
}
