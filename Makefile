# mybak: see README.md. `make build` needs Go only (scripts/deps.sh go: no
# Debian package, a Go toolchain fetched only when none is recent enough);
# demo, test and bench* install the servers and tools they run
# (scripts/deps.sh demo|test|bench).
SHELL := /bin/bash
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X github.com/mybak/mybak/cli.Version=$(VERSION) -X github.com/mybak/mybak/cli.Commit=$(COMMIT)
GOENV = PATH="$$(scripts/deps.sh go):$$PATH"

.PHONY: all build test demo bench bench-mysql bench-pitr bench-logical fuzz deps clean

all: build

# What make test needs (servers included); make build needs none of it.
deps:
	scripts/deps.sh test >/dev/null

build:
	$(GOENV) CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o mybak .

test:
	scripts/test.sh

demo:
	scripts/demo.sh

bench:
	scripts/bench.sh

# MariaDB physical backup/restore against the Trove pipeline (~1 GiB sysbench
# database; a few minutes). Also run by `BENCH_MYSQL=1 make bench`.
bench-mysql:
	scripts/bench-mysql.sh

# Point-in-time recovery: archive lag under a sysbench write load, replay
# against mariadb-binlog | mariadb by hand, stored vs raw bytes (~3 min).
bench-pitr:
	scripts/bench-pitr.sh

# mybak's logical engine against Trove's mariadb-dump | gzip | openssl and
# mydumper/myloader (~1 GiB sysbench database; BENCH_LOGICAL_GB to change).
bench-logical:
	scripts/bench-logical.sh

# A short run of every fuzz target (FUZZTIME=30s make fuzz for longer).
fuzz:
	scripts/fuzz.sh

clean:
	rm -f mybak
