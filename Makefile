# catd: build, test, benchmark and cross-compile.
#
#   make run         run the daemon on its embedded defaults
#   make test        the test suite (what CI runs), -race included
#   make test-race   the packages that run goroutines, under the race detector
#   make lint        go vet and the pinned staticcheck on amd64, arm64 and armv6
#   make check-generate  fail if go generate leaves a diff
#   make test-arm64  the suite again as linux/arm64 binaries under qemu-aarch64-static
#   make bench       Go benchmarks and "catd bench"
#   make bench-learning  on-device learning over data sets, label orders and seeds
#   make bench-torch catd next to PyTorch (catnet64, catsep64), with ratios
#   make bench-pipeline  catd's frame path next to ffmpeg's decode+resize, one core
#   make bench-ort   catd's batch-1 inference next to ONNX Runtime's, one core
#   make cross       static binaries for Raspberry Pi boards in dist/
#   make golden      regenerate the PyTorch golden files (needs python3-torch)

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
PKGS     := ./...
QEMU_AARCH64 ?= qemu-aarch64-static

.PHONY: all build run test test-short test-arm64 test-learning bench-learning bench bench-torch bench-pipeline bench-ort cross fmt vet lint staticcheck check-generate test-race golden clean default-model default-int8 default-importance pretrain

# staticcheck, pinned (the newest release that builds with our Go); its
# settings, and why any finding is silenced, are in staticcheck.conf.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := build/tools/staticcheck-$(STATICCHECK_VERSION)/staticcheck
LINT_PKGS = ./...

# The default model (model/default.safetensors, built into catd): a soup of
# catsep64 cat detectors. catsep64 is pretrained as a 200-class classifier on
# Tiny ImageNet's train split seen as camera frames (--camera-augment: JPEG
# re-compression, blur, noise, exposure and white balance, grey and
# night-vision tints, crops); then fine-tuned on cat / no cat once per seed in
# SOUP_SEEDS, on clean images, keeping the class outputs (--aux-classes 0.5)
# and weighting six dog breeds as hard negatives, the best epoch by ROC AUC
# on the val split kept; the fine-tunes' weights are then averaged (catd soup)
# and the threshold fitted on val. Needs the shared data set (not shipped with
# catd). About 40 minutes for the pretraining and 15 per fine-tune on 2 idle
# cores; "make -j2 default-model" runs two fine-tunes at a time.
DATA       ?= ../shared/data/tinyimagenet-cat64.tar
PRETRAIN   ?= build/catsep64-pretrain-camera.safetensors
SOUP_SEEDS ?= 1 2 3 4 5
FINETUNES  := $(SOUP_SEEDS:%=build/default-ft-%.safetensors)
# Six dog breeds among Tiny ImageNet's classes: the hardest non-cats in a home.
HARD_NEGATIVES := n02085620,n02094433,n02099601,n02099712,n02106662,n02113799

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/catd ./cmd/catd

run: build
	./bin/catd run --source 'file:demo/samples.mjpeg?fps=4' --stats-every 10s --state-dir build/run-state $(ARGS)

test: vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) test -count=1 -timeout 20m $(PKGS)
	$(MAKE) test-race
	$(GO) test -count=1 -tags purego ./internal/... ./conv/...
	$(GO) test -count=1 -short -tags purego ./fixedpoint/
	$(MAKE) cross

# The packages with goroutines of their own, under the race detector
# (which needs cgo: a C compiler). Part of "make test": on two shared cores
# it takes about 3 min 15 s, the rest of the suite about 1 min 20 s.
RACE_PKGS := ./daemon/ ./web/ ./camera/... ./learn/ ./labels/ ./fswatch/ ./serialctl/ ./hook/ ./state/ ./train/ ./systemd/ ./mqtt/...
test-race:
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 30m $(RACE_PKGS)

# go generate must reproduce the generated files as committed, each marked
# "Code generated ... DO NOT EDIT." (scripts/check-generate.sh).
check-generate:
	GO=$(GO) ./scripts/check-generate.sh

# The whole suite as arm64 binaries under user-mode qemu (no binfmt needed);
# -short skips only the tests that decode the whole shared data set.
test-arm64:
	CGO_ENABLED=0 GOARCH=arm64 $(GO) test -short -count=1 -timeout 30m -exec $(QEMU_AARCH64) $(PKGS)

# The "virtual Pi": the arm64 binary as "catd run --source v4l2:/dev/video0"
# in qemu-system-aarch64 on Debian's arm64 kernel with the vivid virtual
# camera; checks frames, a checkpoint and a clean exit on SIGTERM. Installs
# qemu-system-arm, cpio and kmod if missing (root or sudo); caches the arm64
# kernel and busybox in build/vm/arm64/. See scripts/vm-smoke.sh.
.PHONY: test-vm
test-vm:
	GO=$(GO) ./scripts/vm-smoke.sh

# catd's v4l2: source against the real vivid driver, in the same kind of VM
# on arm64 (qemu-system-aarch64) and on amd64 (qemu-system-x86_64, Debian's
# amd64 kernel): camera/internal/v4l2/vividcheck captures 30 frames in each
# of YUYV, I420, NV12, RGB24 and GREY, and at sizes vivid adjusts, and checks
# size, stride, frame length, sequence numbers and vivid's 75% colour bars
# after catd's preprocessing. Installs qemu-system-arm, qemu-system-x86, cpio
# and kmod if missing; caches kernels and busybox in build/vm/<arch>/. See
# scripts/vm-v4l2.sh.
.PHONY: test-v4l2
test-v4l2:
	GO=$(GO) ./scripts/vm-v4l2.sh arm64 amd64

# The on-device learning proof: the running daemon learns a new domain
# (night-vision images from the shared data) from its label folders; the
# held-out balanced accuracy must rise. A few minutes; needs ../shared.
test-learning:
	CATD_PROOF=1 $(GO) test -count=1 -run TestDaemonLearnsANewDomain -v -timeout 30m ./daemon/

# The learning benchmark: catd's learner as the daemon runs it, on the
# shared pets photos and two sets made from Tiny ImageNet, labels given
# class by class, interleaved and as a trickle, 3 seeds each; writes
# docs/learning-bench.{md,json,png}. About 40 minutes on 2 cores.
PETS ?= ../shared/data/oxford-pets-sample
bench-learning: build
	./bin/catd bench-learning --pets $(PETS) --tinyimagenet $(DATA) --seeds 3 --out docs $(ARGS)

bench: build
	$(GO) test -run='^$$' -bench=. -benchtime=300ms $(PKGS)
	./bin/catd bench

# Rounds of the side-by-side benchmarks below (the best or the median is kept).
ROUNDS ?= 3

# catnet64 and catsep64, inference and training steps, in catd and in
# PyTorch (python3-torch), ROUNDS times; see scripts/bench_vs_torch.sh.
bench-torch: build
	./scripts/bench_vs_torch.sh ./bin/catd $(ROUNDS)

# catd bench --pipeline (float32 and int8) and ffmpeg -lowres 3 + area
# resize on the same 640x480 MJPEG stream, interleaved, ROUNDS times.
bench-pipeline: build
	./scripts/bench-pipeline.sh ./bin/catd $(ROUNDS)

# catnet64 and the built-in catsep64 exported to ONNX (python3-torch) and
# timed in ONNX Runtime (onnxruntime-node, in build/ort/) and catd bench,
# float32 and int8, interleaved on one CPU, ROUNDS times. Installs what it
# needs if missing. See scripts/bench-ort.sh.
bench-ort: build
	./scripts/bench-ort.sh ./bin/catd $(ROUNDS)

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

lint: vet staticcheck

# Each architecture sees its own files (assembly glue on amd64 and arm64,
# the portable kernels on arm).
staticcheck: $(STATICCHECK)
	$(STATICCHECK) $(LINT_PKGS)
	CGO_ENABLED=0 GOARCH=arm64 $(STATICCHECK) $(LINT_PKGS)
	CGO_ENABLED=0 GOARCH=arm GOARM=6 $(STATICCHECK) $(LINT_PKGS)

$(STATICCHECK):
	GOBIN=$(CURDIR)/$(dir $(STATICCHECK)) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

pretrain: $(PRETRAIN)

$(PRETRAIN):
	$(MAKE) build
	mkdir -p $(dir $(PRETRAIN))
	./bin/catd train --data $(DATA)/train --val $(DATA)/val --arch catsep64 --pretrain --camera-augment \
		--epochs 30 --batch 64 --optimizer momentum --lr 0.1 --schedule exp:0.000394 --weight-decay 5e-4 --seed 1 \
		--out $(PRETRAIN) --plot build/pretrain.png --log-json

build/default-ft-%.safetensors: $(PRETRAIN)
	$(MAKE) build
	./bin/catd train --data $(DATA)/train --val $(DATA)/val --arch catsep64 --init-backbone $(PRETRAIN) --aux-classes 0.5 \
		--hard-negatives $(HARD_NEGATIVES) --epochs 12 --batch 64 --optimizer momentum --lr 0.02 --schedule exp:0.00075 \
		--balance weight --weight-decay 5e-4 --seed $* --out $@ --plot build/default-ft-$*.png --log-json

default-model: build $(FINETUNES)
	./bin/catd soup --val $(DATA)/val --out model/default.safetensors $(FINETUNES)

# The built-in int8 model (model/default-int8.safetensors, also built into
# catd): the default model quantized on 500 images of the train split
# (250 cats, 250 non-cats), its decisions compared with float32's on val.
default-int8: build
	./bin/catd quantize --model model/default.safetensors --calib $(DATA)/train --calib-limit 500 \
		--val $(DATA)/val --out model/default-int8.safetensors

# The built-in model's importance (model/default-importance.safetensors,
# built in): the Fisher information of each parameter of the default model
# on 1,000 cats and 1,000 non-cats of the train split. On-device learning
# holds the important parameters near their built-in values. Remake it
# whenever the default model changes (a test checks they match).
default-importance: build
	./bin/catd importance --model model/default.safetensors --data $(DATA)/train --per-class 1000 \
		--out model/default-importance.safetensors

golden:
	/usr/bin/python3 scripts/torch_golden.py
	/usr/bin/python3 scripts/torch_golden_layers2.py
	/usr/bin/python3 optim/testdata/torch_golden.py --update

clean:
	rm -rf bin dist

# Install the daemon, its system user and group (sysusers.d, made at once
# by systemd-sysusers unless DESTDIR is set), its systemd unit and (once)
# an example config:
#   make build && sudo make install
#   sudo systemctl daemon-reload && sudo systemctl enable --now catd
# install does not build, so that sudo needs no Go toolchain and leaves no
# root-owned files in the tree; it installs bin/catd as it is.
# DESTDIR stages the files elsewhere (packaging); PREFIX moves the binary,
# and the unit's ExecStart= follows it. An existing config is never
# overwritten; uninstall keeps the config and the state in /var/lib/catd.
PREFIX   ?= /usr/local
DESTDIR  ?=
UNITDIR  := $(DESTDIR)/etc/systemd/system
CONFDIR  := $(DESTDIR)/etc/catd
SYSUSERS := $(DESTDIR)/etc/sysusers.d/catd.conf

.PHONY: install uninstall

install:
	@test -f bin/catd || { echo "bin/catd missing: run 'make build' first"; exit 1; }
	install -D -m 0755 bin/catd '$(DESTDIR)$(PREFIX)/bin/catd'
	mkdir -p '$(UNITDIR)'
	sed 's|^ExecStart=/usr/local/bin/catd |ExecStart=$(PREFIX)/bin/catd |' systemd/catd.service > '$(UNITDIR)/catd.service.tmp'
	chmod 0644 '$(UNITDIR)/catd.service.tmp'
	mv -f '$(UNITDIR)/catd.service.tmp' '$(UNITDIR)/catd.service'
	install -D -m 0644 systemd/catd.sysusers '$(SYSUSERS)'
	@if [ -z '$(DESTDIR)' ] && command -v systemd-sysusers >/dev/null; then \
		systemd-sysusers '$(SYSUSERS)' && echo "user and group catd ready; add yourself: sudo usermod -aG catd \$$USER"; \
	fi
	@if [ -e '$(CONFDIR)/catd.yaml' ]; then \
		echo "keeping existing $(CONFDIR)/catd.yaml"; \
	elif [ ! -f systemd/catd.yaml ]; then \
		echo "no example config (systemd/catd.yaml) yet: skipping $(CONFDIR)/catd.yaml"; \
	else \
		install -D -m 0644 systemd/catd.yaml '$(CONFDIR)/catd.yaml' && echo "installed example config $(CONFDIR)/catd.yaml"; \
	fi
	@# The web page's "Save region" writes the config: the group catd may.
	@if [ -z '$(DESTDIR)' ] && getent group catd >/dev/null; then \
		chgrp catd '$(CONFDIR)' '$(CONFDIR)/catd.yaml' && chmod 2775 '$(CONFDIR)' && chmod 0664 '$(CONFDIR)/catd.yaml'; \
	fi

uninstall:
	rm -f '$(DESTDIR)$(PREFIX)/bin/catd' '$(UNITDIR)/catd.service' '$(SYSUSERS)'
	@echo "kept $(CONFDIR), /var/lib/catd and the user catd; run 'systemctl disable --now catd' first if catd was enabled"
