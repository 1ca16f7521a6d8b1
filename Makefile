# catd: build, test, benchmark and cross-compile.
#
#   make run         run the daemon on its embedded defaults
#   make test        the test suite (what CI runs)
#   make test-arm64  the suite again as linux/arm64 binaries under qemu-aarch64-static
#   make bench       Go benchmarks and "catd bench"
#   make bench-torch catd next to the PyTorch reference, with ratios
#   make cross       static binaries for Raspberry Pi boards in dist/
#   make golden      regenerate the PyTorch golden files (needs python3-torch)

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
PKGS     := ./...
QEMU_AARCH64 ?= qemu-aarch64-static

.PHONY: all build run test test-short test-arm64 bench bench-torch cross fmt vet golden clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/catd ./cmd/catd

run: build
	./bin/catd run $(ARGS)

test: vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) test -count=1 $(PKGS)
	$(GO) test -count=1 -tags purego ./internal/... ./conv/...
	$(MAKE) cross

# The whole suite as arm64 binaries under user-mode qemu (no binfmt needed).
test-arm64:
	CGO_ENABLED=0 GOARCH=arm64 $(GO) test -count=1 -exec $(QEMU_AARCH64) $(PKGS)

bench: build
	$(GO) test -run='^$$' -bench=. -benchtime=300ms $(PKGS)
	./bin/catd bench

bench-torch: build
	./scripts/bench_vs_torch.sh ./bin/catd

cross:
	mkdir -p dist
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/catd-linux-arm64 ./cmd/catd
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/catd-linux-armv7 ./cmd/catd
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=6 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/catd-linux-armv6 ./cmd/catd
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/catd-linux-amd64 ./cmd/catd

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	$(GO) vet $(PKGS)
	CGO_ENABLED=0 GOARCH=arm64 $(GO) vet $(PKGS)
	CGO_ENABLED=0 GOARCH=arm GOARM=6 $(GO) vet $(PKGS)

golden:
	/usr/bin/python3 scripts/torch_golden.py
	/usr/bin/python3 scripts/torch_golden_layers2.py
	/usr/bin/python3 optim/testdata/torch_golden.py --update

clean:
	rm -rf bin dist
