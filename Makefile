# shipit — see README.md. `make demo` and `make test` are the two commands a newcomer needs.
SHELL := /bin/bash
N ?= 3

.PHONY: all deps build lint format release dist install uninstall test test-faults test-install demo demo-image images hosts-up hosts-down hosts-status bench clean
PREFIX ?= /usr/local
DESTDIR ?=

all: build

deps:
	@scripts/install-deps.sh

build: deps
	swift build

release: deps
	swift build -c release

# A self-contained binary (static Swift runtime and Foundation, stripped) with its checksum,
# completions and man pages, in dist/.
dist: deps
	scripts/dist.sh

# The binary, bash/zsh/fish completions and man pages under $(PREFIX); `make uninstall` removes them.
install: dist
	scripts/install.sh install "$(DESTDIR)$(PREFIX)"

uninstall:
	scripts/install.sh uninstall "$(DESTDIR)$(PREFIX)"

# Every test: unit and integration, the installed binary, then the fault-injection suite.
test: deps
	N=$(N) scripts/test.sh all

# The fault-injection suite alone (docs/reliability.md).
test-faults: deps
	N=$(N) scripts/test.sh faults

# swift-format (shipped with the toolchain), configured by .swift-format: `make format` rewrites,
# `make lint` only checks (CI runs it).
lint:
	swift format lint --strict -r Sources Tests Package.swift

format:
	swift format format -i -r Sources Tests Package.swift

hosts-up: deps
	scripts/testhosts.sh up $(N)

hosts-down:
	scripts/testhosts.sh down

hosts-status:
	scripts/testhosts.sh status

demo: build
	scripts/demo.sh

# The image strategy: registry, images built with podman import, deploys with rootless podman.
demo-image: build
	scripts/demo-image.sh

images: deps
	scripts/podman-setup.sh && scripts/registry.sh up && scripts/images.sh

bench:
	scripts/install-deps.sh --bench
	bench/run.sh

# The installed binary alone (needs the test hosts: make hosts-up).
test-install: deps
	scripts/test-install.sh

clean:
	rm -rf .build .build-dist .build-tools dist
