# Thin wrapper around CMake. `make run` and `make test` each set up a fresh machine.
SAN ?= 0
JOBS ?= $(shell nproc)
# The test builds carry line tables only (-g1): backtraces and sanitizer reports still name
# file and line, and the build takes about a quarter less time than with full -g (variables
# for gdb: configure a build directory of your own with -DCMAKE_BUILD_TYPE=Debug).
# The library as a unity build (see CMakeLists.txt): in CI, where the clone is fresh, and in the
# sanitized build; a build directory keeps the choice it was configured with.
UNITY ?= $(if $(filter true 1,$(CI)),1,$(if $(filter 1,$(SAN)),1,0))
ifeq ($(UNITY),1)
  CMAKE_ARGS += -DBERTH_UNITY=ON
endif
ifeq ($(SAN),1)
  BUILD_DIR ?= build-san
  CMAKE_ARGS += -DBERTH_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1
  # The package test packs whatever binary the build made; the shipped one is the Release
  # build's (`make package`), so packing the sanitized one proves nothing.
  CTEST_ARGS += -E '^Package\.'
else ifeq ($(SAN),thread)
  # ThreadSanitizer on the tests whose code crosses threads: the install cache (its protocol
  # thread and lease heartbeat), extraction offloaded to its pool, deploys through both, the
  # cluster's shared cache. A race stops the process that found it (daemon or test), which
  # fails the test.
  BUILD_DIR ?= build-tsan
  CMAKE_ARGS += -DBERTH_TSAN=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
  CTEST_ARGS += -R '^(CacheFixture|ShareFixture|ExtractTest|PackTest|DeployerTest|Cache\.|Deploy\.|DeployCrash|ClusterCache)'
  export TSAN_OPTIONS ?= halt_on_error=1 second_deadlock_stack=1
else
  BUILD_DIR ?= build
  CMAKE_ARGS += -DCMAKE_BUILD_TYPE=RelWithDebInfo '-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG'
endif

.PHONY: all bootstrap configure build test run bench package chaos fuzz soak clean format

all: build

bootstrap:
	@scripts/bootstrap

$(BUILD_DIR)/build.ninja:
	@cmake -S . -B $(BUILD_DIR) -G Ninja $(CMAKE_ARGS) >/dev/null

configure: bootstrap $(BUILD_DIR)/build.ninja

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

CTEST = ctest --output-on-failure -j $(JOBS) --timeout 600
ifeq ($(SAN),1)
# The sanitized build runs the library's own tests (unit, fuzz replays) itself; the normal
# build's integration and chaos drivers then run against its berth, daemon and CLI alike
# (with the cluster race test's 1,000 races cut to 50: each is many times slower there).
test: build
	@$(MAKE) --no-print-directory build SAN=0
	@cd $(BUILD_DIR) && $(CTEST)
	@cd build && BERTH_TEST_BINARY=$(CURDIR)/$(BUILD_DIR)/berth BERTH_RACES=50 \
	  $(CTEST) -L '^(integration|chaos)$$' $(CTEST_ARGS)
else
test: build
	@cd $(BUILD_DIR) && $(CTEST) $(CTEST_ARGS)
endif

run: build
	@BERTH=$(BUILD_DIR)/berth scripts/run-example

bench: build
	@BERTH=$(BUILD_DIR)/berth BUILD_DIR=$(BUILD_DIR) bench/run

KILLS ?= 500
chaos: build
	@KILLS=$(KILLS) $(BUILD_DIR)/tests/berth_chaos_tests

# Minutes of mixed work with the daemon's RSS, fds and threads sampled once a second.
SOAK_MINUTES ?= 10
soak: build
	@SOAK_MINUTES=$(SOAK_MINUTES) $(BUILD_DIR)/tests/berth_soak

# libFuzzer on every target in tests/fuzz for FUZZ_SECONDS each (clang 16, ASan + UBSan).
FUZZ_SECONDS ?= 60
fuzz:
	@scripts/bootstrap fuzz
	@[ -f build-fuzz/build.ninja ] || cmake -S . -B build-fuzz -G Ninja -DBERTH_FUZZ=ON \
	  -DCMAKE_CXX_COMPILER=clang++-16 -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target fuzz_targets
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz build-fuzz

# A Release build of its own (no failpoints compiled in), packaged in build-release/package/.
package: bootstrap
	@[ -f build-release/build.ninja ] || cmake -S . -B build-release -G Ninja \
	  -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build-release -j $(JOBS) --target berth berth_package_files
	@cd build-release && cpack -G DEB >/dev/null && ls package/*.deb

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf build build-san build-fuzz build-release
