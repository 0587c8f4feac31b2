# shipit — see README.md. `make demo` and `make test` are the two commands a newcomer needs.
SHELL := /bin/bash
N ?= 3

.PHONY: all deps build release test test-faults demo demo-image images hosts-up hosts-down hosts-status bench clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	swift build

release: deps
	swift build -c release

# Every test: unit and integration, then the fault-injection suite.
test: deps
	N=$(N) scripts/test.sh all

# The fault-injection suite alone (docs/reliability.md).
test-faults: deps
	N=$(N) scripts/test.sh faults

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

clean:
	rm -rf .build
