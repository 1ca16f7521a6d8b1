package web_test

import (
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

// BenchmarkLiveViewers measures the frame rate of the running daemon
// (frames judged per second) with no page open and with two pages showing
// the live view: each asks for the figures every 500 ms and for the frame
// when it changed, as the page does. The two are measured in alternating
// phases of phaseFrames frames on one warm daemon, so that a machine whose
// load changes (other work, thermal limits) weighs on both alike; ns/op is
// the time per frame over both. The bound: two viewers lower the
// frame rate by at most 10% (slowdown_%).
//
//	go test -run XXX -bench LiveViewers -benchtime 2000x ./web
func BenchmarkLiveViewers(b *testing.B) {
	const viewers, phaseFrames = 2, 250
	ctl := &daemon.Control{}
	d := startDaemon(b, benchConfig, ctl)
	clients := make([]*http.Client, viewers)
	for i := range clients {
		clients[i] = viewer(b, d.url)
	}
	var took [2]time.Duration // without, with viewers
	var counted [2]int
	var liveFrames, liveBytes int64
	measure := func(n int) time.Duration {
		t0, start := time.Now(), ctl.Snapshot().Frames
		for ctl.Snapshot().Frames < start+uint64(n) {
			time.Sleep(time.Millisecond)
		}
		return time.Since(t0)
	}
	time.Sleep(time.Second) // warm
	b.ResetTimer()
	for done := 0; done < b.N; {
		for w := range 2 {
			n := min(phaseFrames, b.N-done)
			if n <= 0 {
				break
			}
			if w == 0 {
				took[0] += measure(n)
				counted[0] += n
				done += n
				continue
			}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var mu sync.Mutex
			for _, c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					f, sz := watch(c, d.url, stop)
					mu.Lock()
					liveFrames, liveBytes = liveFrames+f, liveBytes+sz
					mu.Unlock()
				}()
			}
			b.StopTimer()
			time.Sleep(time.Second) // the viewers' first frames
			b.StartTimer()
			took[1] += measure(n)
			counted[1] += n
			done += n
			close(stop)
			wg.Wait()
			b.StopTimer()
			time.Sleep(6 * time.Second) // LiveIdle passes: copies stop before the next phase without viewers
			b.StartTimer()
		}
	}
	b.StopTimer()
	if counted[1] == 0 {
		return // b.N too small for a phase with viewers (the first, probing run)
	}
	if liveFrames == 0 {
		b.Fatal("the viewers got no live frame")
	}
	without := float64(counted[0]) / took[0].Seconds()
	with := float64(counted[1]) / took[1].Seconds()
	b.ReportMetric(without, "frames/s_0_viewers")
	b.ReportMetric(with, "frames/s_2_viewers")
	b.ReportMetric(100*(1-with/without), "slowdown_%")
	b.ReportMetric(float64(liveBytes)/float64(liveFrames), "bytes/live_frame")
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
