# CRM platform - one entry point. `make run` and `make test` are all a new
# user needs; see README.md.

CC       ?= cc
PKGS      = json-c libmicrohttpd libcurl libargon2
CFLAGS_W  = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wno-format-nonliteral
CFLAGS   ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -Ishared -Ibuild/gen $(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
            $(shell mariadb_config --include 2>/dev/null || mysql_config --include 2>/dev/null)
LDLIBS   += -lfcgi $(shell mariadb_config --libs 2>/dev/null || mysql_config --libs 2>/dev/null) \
            $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcrypto -lm
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

ifeq ($(SANITIZE),1)
BUILD    ?= build/asan
CFLAGS   += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
else
BUILD    ?= build/release
endif

ALL_CFLAGS = -std=c11 $(CFLAGS_W) $(CFLAGS) -MMD -MP

# The scripts run what this build made.
export CRM_BIN := $(BUILD)
export CRM_SERVICES := $(SERVICES)

SERVICES  = customers sales marketing identity
LIB       = $(BUILD)/libcrm.a
LIB_SRC   = $(wildcard shared/*.c)
LIB_OBJ   = $(LIB_SRC:%.c=$(BUILD)/%.o)
BINS      = $(SERVICES:%=$(BUILD)/crm-%)

UNIT_SRC  = $(wildcard tests/unit/shared/test_*.c tests/unit/*/test_*.c)
UNIT_BINS = $(sort $(UNIT_SRC:%.c=$(BUILD)/%))
IT_SRC    = $(wildcard tests/integration/test_*.c)
IT_BINS   = $(IT_SRC:%.c=$(BUILD)/%)
IT_LIB    = $(BUILD)/tests/integration/itest.o
TOOLS     = $(BUILD)/tests/tools/pagewalk
# The in-memory request transport unit tests share (not a suite: no test_ prefix).
FAKE_REQ  = $(BUILD)/tests/unit/fake_req.o
# The live-database set-up the DB suites share (not a suite either).
DB_FIXTURE = $(BUILD)/tests/unit/db_fixture.o

.PHONY: all build deps run stop test unit bench lint format clean tests images up down k8s-check ui

# The browser UI (nginx/html): fingerprinted assets and pages in build/html
# for NGINX, and their names in build/gen/crm_assets.h for the pages the
# services render (scripts/ui-build.sh).
UI_SRC    = $(wildcard nginx/html/*.html nginx/html/assets/*)
UI_HEADER = build/gen/crm_assets.h
# Keep test objects: they are intermediate files, and make would delete them.
.SECONDARY:
all: build
build: $(UI_HEADER) $(BINS)
ui: $(UI_HEADER)

tests: $(UNIT_BINS) $(IT_BINS)

$(UI_HEADER): $(UI_SRC) scripts/ui-build.sh
	@scripts/ui-build.sh nginx/html build/html $@

# Any object may name the UI's assets: the header is made first (order
# only; the .d files then track who includes it).
$(BUILD)/%.o: %.c | $(UI_HEADER)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

# A service is its folder's objects and libcrm.
define service_rules
$(1)_SRC := $$(wildcard fcgi/$(1)/*.c)
$(1)_OBJ := $$($(1)_SRC:%.c=$(BUILD)/%.o)
$(BUILD)/crm-$(1): $$($(1)_OBJ) $(LIB)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
# Unit tests of a service see its headers and link everything but its main.o.
$(BUILD)/tests/unit/$(1)/%.o: CPPFLAGS += -Ifcgi/$(1)
$(BUILD)/tests/unit/$(1)/%: $(BUILD)/tests/unit/$(1)/%.o $(FAKE_REQ) $(DB_FIXTURE) $$(filter-out %/main.o,$$($(1)_OBJ)) $(LIB)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(CHECK_LIBS) $$(LDLIBS)
endef
$(foreach s,$(SERVICES),$(eval $(call service_rules,$(s))))

$(BUILD)/tests/unit/shared/%: $(BUILD)/tests/unit/shared/%.o $(FAKE_REQ) $(DB_FIXTURE) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

$(BUILD)/tests/integration/%: $(BUILD)/tests/integration/%.o $(IT_LIB) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS) -lpthread

# make bench's baseline: crm-customers without access checks
# (tests/bench/noauth_customers.c), in a folder of its own.
BENCH_NOAUTH = $(BUILD)/bench/crm-customers
$(BUILD)/tests/bench/%.o: CPPFLAGS += -Ifcgi/customers
$(BENCH_NOAUTH): $(BUILD)/tests/bench/noauth_customers.o $(filter-out %/main.o,$(customers_OBJ)) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

deps:
	@scripts/deps.sh

run: deps build
	@scripts/stack.sh run

stop:
	@scripts/stack.sh stop

# Unit suites only (no services needed): `make unit`.
unit: build tests
	@scripts/test.sh unit

test: deps build tests
	@scripts/test.sh all

bench: deps build $(BENCH_NOAUTH)
	@scripts/bench.sh

# Containers (containers/): podman or docker, whichever is here.
images:
	@scripts/containers.sh images

up: images
	@scripts/containers.sh up

down:
	@scripts/containers.sh down

# The Kubernetes manifests, checked without a cluster (tests/k8s): render,
# schemas, policies, and the Deployments under podman kube play.
k8s-check: deps build tests
	@scripts/test.sh k8s

lint:
	@scripts/lint.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	@scripts/stack.sh stop >/dev/null 2>&1 || true
	rm -rf build state

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
