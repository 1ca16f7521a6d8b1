// Package mqtttest runs a real MQTT broker (Debian's mosquitto) for tests,
// on 127.0.0.1 and a free port, with a generated config: anonymous or with
// a password file, plain or TLS with a generated CA. Tests skip, saying
// why, when mosquitto is not installed (apt-get install mosquitto).
package mqtttest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Opts configure a broker.
type Opts struct {
	// Username and Password, if set, are the only account: anonymous
	// clients are refused (needs mosquitto_passwd).
	Username, Password string
	// TLS serves MQTT over TLS with a certificate for 127.0.0.1 signed by
	// a CA made for the test (Broker.CAFile, Broker.CertPin).
	TLS bool
}

// Broker is a running mosquitto.
type Broker struct {
	URL     string // tcp://127.0.0.1:PORT or ssl://127.0.0.1:PORT
	Port    int
	CAFile  string // with TLS: the CA's certificate, PEM
	CertPin string // with TLS: sha256:HEX of the broker's certificate
	// OtherCAFile is a CA that did not sign the broker's certificate.
	OtherCAFile string

	t    testing.TB
	bin  string
	conf string
	mu   sync.Mutex
	cmd  *exec.Cmd
	log  *bytes.Buffer
	done chan struct{}
}

// Binary returns the path of mosquitto, or "" if it is not installed.
func Binary() string {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// Start starts a broker for the test and stops it when the test ends. It
// skips the test if mosquitto (or, for a password, mosquitto_passwd) is
// not installed.
func Start(t testing.TB, o Opts) *Broker {
	t.Helper()
	bin := Binary()
	if bin == "" {
		t.Skip("mosquitto is not installed (apt-get install mosquitto): skipping the tests against a real broker")
	}
	dir := t.TempDir()
	b := &Broker{t: t, bin: bin, Port: freePort(t)}
	conf := fmt.Sprintf("listener %d 127.0.0.1\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n", b.Port)
	if os.Geteuid() == 0 {
		conf += "user root\n" // keep the rights to read the test's files
	}
	scheme := "tcp"
	if o.Username != "" {
		pw, err := exec.LookPath("mosquitto_passwd")
		if err != nil {
			t.Skip("mosquitto_passwd is not installed (apt-get install mosquitto): skipping")
		}
		file := filepath.Join(dir, "passwd")
		if out, err := exec.Command(pw, "-c", "-b", file, o.Username, o.Password).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd: %v: %s", err, out)
		}
		conf += "allow_anonymous false\npassword_file " + file + "\n"
	} else {
		conf += "allow_anonymous true\n"
	}
	if o.TLS {
		scheme = "ssl"
		ca, caKey := makeCA(t, "catd test CA")
		b.CAFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", ca.Raw)
		other, _ := makeCA(t, "another CA")
		b.OtherCAFile = writePEM(t, dir, "other-ca.pem", "CERTIFICATE", other.Raw)
		certDER, key := makeServerCert(t, ca, caKey)
		sum := sha256.Sum256(certDER)
		b.CertPin = fmt.Sprintf("sha256:%x", sum)
		certFile := writePEM(t, dir, "server.pem", "CERTIFICATE", certDER)
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		keyFile := writePEM(t, dir, "server.key", "EC PRIVATE KEY", keyDER)
		conf += "cafile " + b.CAFile + "\ncertfile " + certFile + "\nkeyfile " + keyFile + "\n"
	}
	b.URL = scheme + "://127.0.0.1:" + strconv.Itoa(b.Port)
	b.conf = filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(b.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	b.start()
	t.Cleanup(b.Stop)
	return b
}

// start runs mosquitto and waits until it accepts connections.
func (b *Broker) start() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var log bytes.Buffer
	cmd := exec.Command(b.bin, "-c", b.conf)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("mosquitto: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	b.cmd, b.log, b.done = cmd, &log, done
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(b.Port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			b.t.Fatalf("mosquitto exited at start: %s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("mosquitto not listening on port %d after 10 s: %s", b.Port, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops the broker (SIGTERM), if it runs.
func (b *Broker) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGCONT) // if paused
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		b.cmd.Process.Kill()
		<-b.done
	}
	b.cmd = nil
}

// Pause stops the broker's process (SIGSTOP) without closing anything:
// connections stay open and nobody answers, as with a hung broker or a
// network that drops packets. Resume lets it go on.
func (b *Broker) Pause() { b.signal(syscall.SIGSTOP) }

// Resume undoes Pause (SIGCONT).
func (b *Broker) Resume() { b.signal(syscall.SIGCONT) }

func (b *Broker) signal(sig syscall.Signal) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		b.cmd.Process.Signal(sig)
	}
}

// Restart stops the broker and starts it again on the same port. It keeps
// nothing: retained messages are gone (persistence is off), so whatever a
// subscriber finds retained afterwards was published again.
func (b *Broker) Restart() {
	b.t.Helper()
	b.Stop()
	b.start()
}

// Log returns what mosquitto has logged so far.
func (b *Broker) Log() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.log == nil {
		return ""
	}
	return b.log.String()
}

// freePort returns a TCP port free on 127.0.0.1 a moment ago.
func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func makeCA(t testing.TB, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func makeServerCert(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey) ([]byte, *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

func writePEM(t testing.TB, dir, name, typ string, der []byte) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
