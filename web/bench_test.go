package web_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"catd/daemon"
)

// benchConfig runs the pipeline as fast as it goes on 640x480 frames,
// without review frames or snapshots, so that the frame rate measures
// what the live view costs it.
const benchConfig = `source: "test:?w=640&h=480&fps=100000"
stats_every: 0
snapshots: {enabled: false}
review: {enabled: false}
learn: {enabled: false}
http:
  listen: "127.0.0.1:0"
  password_file: web-password.txt
`

// BenchmarkLiveViewers measures the time per frame judged by the running
// daemon (ns/op, and frames/s) with no page open and with viewers pages
// showing the live view: each asks for the figures every 500 ms and for
// the frame when it changed, as the page does. The bound: two
// viewers lower the frame rate by at most 10%.
//
//	go test -run XXX -bench LiveViewers -benchtime 3000x ./web
func BenchmarkLiveViewers(b *testing.B) {
	// One daemon for both: the same warm pipeline, measured with and
	// without viewers one after the other (run with -count to alternate
	// them on a loaded machine).
	ctl := &daemon.Control{}
	d := startDaemon(b, benchConfig, ctl)
	for _, viewers := range []int{0, 2} {
		b.Run(fmt.Sprintf("viewers=%d", viewers), func(b *testing.B) {
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var frames, bytes int64
			var mu sync.Mutex
			for range viewers {
				c := viewer(b, d.url)
				wg.Add(1)
				go func() {
					defer wg.Done()
					n, sz := watch(c, d.url, stop)
					mu.Lock()
					frames, bytes = frames+n, bytes+sz
					mu.Unlock()
				}()
			}
			time.Sleep(time.Second) // the viewers' first frames; without viewers, the last ones' copies stop
			b.ResetTimer()
			t0, start := time.Now(), ctl.Snapshot().Frames
			for ctl.Snapshot().Frames < start+uint64(b.N) {
				time.Sleep(time.Millisecond)
			}
			elapsed := time.Since(t0)
			b.StopTimer()
			close(stop)
			wg.Wait()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "frames/s")
			if viewers > 0 {
				if frames == 0 {
					b.Fatal("the viewers got no frame")
				}
				b.ReportMetric(float64(frames)/float64(viewers)/(elapsed.Seconds()+1), "live_frames/s/viewer")
				b.ReportMetric(float64(bytes)/float64(frames), "bytes/live_frame")
			}
			time.Sleep(6 * time.Second) // LiveIdle: the next run starts without copies
		})
	}
}

// viewer is a logged-in HTTP client.
func viewer(b *testing.B, base string) *http.Client {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := c.PostForm(base+"/login", url.Values{"password": {e2ePassword}})
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	u, _ := url.Parse(base)
	if len(jar.Cookies(u)) == 0 {
		b.Fatal("not logged in")
	}
	return c
}

// watch does what the page's live view does until stop: the figures every
// 500 ms, the frame when its number changed. It returns the frames and
// bytes it got.
func watch(c *http.Client, base string, stop <-chan struct{}) (frames, bytes int64) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	last := ""
	for {
		select {
		case <-stop:
			return frames, bytes
		case <-t.C:
		}
		resp, err := c.Get(base + "/api/live")
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		i := strings.Index(string(body), `"seq":`)
		if i < 0 {
			continue
		}
		seq := string(body[i : i+16])
		if seq == last {
			continue
		}
		last = seq
		if resp, err = c.Get(base + "/api/frame.jpg?" + url.QueryEscape(seq)); err == nil {
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			frames++
			bytes += n
		}
	}
}
