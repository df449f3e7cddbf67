# ibex build. Needs make, a JDK 25 and (for the first fetch only) Maven.
#   make            fetch pinned jars, compile module ibex, link the runtime image, bin/ibex
#   make test       build, then run every test; last line: "tests: N passed, M failed"
#   make run        server on the embedded store + one local agent (Ctrl-C stops both)
#   make dist       dist/ibex-$(VERSION)-linux-amd64.tar.gz
#   make clean      remove what the build made (the fetched jars stay in .deps/)

VERSION    := 0.1.0
JAVA_HOME  ?= /usr/lib/jvm/temurin-25-jdk-amd64
JAVA       := $(JAVA_HOME)/bin/java
JAVAC      := $(JAVA_HOME)/bin/javac
JAR        := $(JAVA_HOME)/bin/jar
JDEPS      := $(JAVA_HOME)/bin/jdeps
JLINK      := $(JAVA_HOME)/bin/jlink
MVN        ?= mvn

MYSQL_VER  := 9.7.0
JSON_VER   := 0.9.5
H2_VER     := 2.3.232
JUNIT_VER  := 6.1.3

DEPS       := .deps
JARS       := $(DEPS)/jars
B          := build
MODS       := $(B)/mods
IMAGE      := $(B)/image

MYSQL_JAR  := $(JARS)/mysql-connector-j-$(MYSQL_VER).jar
JSON_JAR   := $(JARS)/minimal-json-$(JSON_VER).jar
H2_JAR     := $(JARS)/h2-$(H2_VER).jar
JUNIT_JAR  := $(JARS)/junit-platform-console-standalone-$(JUNIT_VER).jar
RUNTIME_JARS := $(JSON_JAR) $(MYSQL_JAR) $(H2_JAR)
PATCHED    := $(MODS)/minimal.json.jar $(MODS)/mysql.connector.j.jar $(MODS)/com.h2database.jar

# src/bench is the benchmark's own small tree (build/bench, class path), never part of module ibex.
SRC        := $(shell find src -name '*.java' -not -path 'src/bench/*')
TEST_SRC   := $(shell find test -name '*.java' 2>/dev/null)
RESOURCES  := sql/ibex.sql

# The JDK modules the image needs: java.naming for Connector/J, the rest is what the drivers use.
JDK_MODS   := java.base,java.sql,java.naming,java.management,java.security.sasl,jdk.httpserver

.PHONY: all deps test run dist clean distclean check-deps bench fuzz
.DELETE_ON_ERROR:

all: bin/ibex

deps: $(RUNTIME_JARS) $(JUNIT_JAR)

# One artifact per call: dependency:copy without a pom takes a single -Dartifact.
$(JARS)/%.jar:
	@mkdir -p $(JARS)
	$(MVN) -B -q -Dmaven.repo.local=$(abspath $(DEPS))/m2 dependency:copy \
	  -Dartifact=$(call coord,$*) -DoutputDirectory=$(abspath $(JARS))
	@test -s $@

coord = $(strip \
  $(if $(filter mysql-connector-j-%,$1),com.mysql:mysql-connector-j:$(MYSQL_VER),\
  $(if $(filter minimal-json-%,$1),com.eclipsesource.minimal-json:minimal-json:$(JSON_VER),\
  $(if $(filter h2-%,$1),com.h2database:h2:$(H2_VER),\
  $(if $(filter junit-platform-console-standalone-%,$1),org.junit.platform:junit-platform-console-standalone:$(JUNIT_VER),\
  $(error no coordinate for $1))))))

# jlink refuses automatic modules and none of the three runtime jars has a module-info.
# Generate one with jdeps, compile it against the jar, and add it to a copy of the jar.
# build/patch-module.sh documents the one edit (H2's optional JDK modules become 'static').
$(MODS)/%.jar: src/build/patch-module.sh
	@mkdir -p $(MODS)
	JAVA_HOME=$(JAVA_HOME) sh src/build/patch-module.sh $* $(JARS) $@

$(MODS)/minimal.json.jar: $(JSON_JAR)
$(MODS)/mysql.connector.j.jar: $(MYSQL_JAR)
$(MODS)/com.h2database.jar: $(H2_JAR)

$(B)/classes.stamp: $(SRC) $(RESOURCES) $(MODS)/minimal.json.jar $(MODS)/com.h2database.jar
	@rm -rf $(B)/classes && mkdir -p $(B)/classes/ibex/store
	@echo "javac: module ibex ($(words $(SRC)) files)"
	@$(JAVAC) --release 25 -Xlint:all,-serial -Werror -d $(B)/classes \
	  --module-path $(MODS)/minimal.json.jar:$(MODS)/com.h2database.jar $(SRC)
	cp sql/ibex.sql $(B)/classes/ibex/store/ibex.sql
	@touch $@

$(MODS)/ibex.jar: $(B)/classes.stamp
	@rm -f $@
	$(JAR) --create --file $@ --module-version $(VERSION) --main-class ibex.cli.Main -C $(B)/classes .

$(IMAGE)/release: $(MODS)/ibex.jar $(PATCHED) src/launcher/ibex
	rm -rf $(IMAGE)
	$(JLINK) --module-path $(MODS) --add-modules ibex,mysql.connector.j,com.h2database,$(JDK_MODS) \
	  --strip-debug --no-header-files --no-man-pages --compress zip-6 --output $(IMAGE)
	install -m 0755 src/launcher/ibex $(IMAGE)/bin/ibex

# The agent's AOT cache: one training run of agentd against a scratch server (about 10 s).
$(IMAGE)/lib/agentd.aot: $(IMAGE)/release src/build/train-agent.sh
	sh src/build/train-agent.sh $(IMAGE) $@

bin/ibex: $(IMAGE)/release $(IMAGE)/lib/agentd.aot
	@mkdir -p bin
	ln -sfn ../$(IMAGE)/bin/ibex bin/ibex
	@touch $(IMAGE)/bin/ibex   # make follows the link: newer than the AOT cache, so an unchanged tree does nothing
	@touch -h bin/ibex

# The benchmark (issue 6): its own small tree, compiled next to build/classes and run on the class
# path (the agent simulator speaks the protocol through ibex.wire); never part of the image.
#   make bench            all figures, BENCHMARKS.md (about 12 minutes)
#   make bench QUICK=1    fewer sizes, shorter windows (under 2 minutes)
BENCH_SRC := $(shell find src/bench -name '*.java' 2>/dev/null)

$(B)/bench.stamp: $(BENCH_SRC) $(B)/classes.stamp
	@rm -rf $(B)/bench && mkdir -p $(B)/bench
	@echo "javac: bench ($(words $(BENCH_SRC)) files)"
	@$(JAVAC) --release 25 -Xlint:all,-serial,-try -Werror -d $(B)/bench -cp $(B)/classes $(BENCH_SRC)
	@touch $@

bench: bin/ibex $(B)/bench.stamp
	@JAVA=$(JAVA) sh src/bench/bench.sh $(if $(QUICK),--quick) $(BENCH_ARGS)

check-deps: $(B)/classes.stamp
	JAVA_HOME=$(JAVA_HOME) sh src/build/check-deps.sh $(B)/classes $(MODS)/minimal.json.jar:$(MODS)/com.h2database.jar

# Tests run on the class path (same packages, package-private access) and drive the built image
# for the end-to-end cases, so the image comes first.
$(B)/test.stamp: $(TEST_SRC) $(B)/classes.stamp $(JUNIT_JAR)
	@rm -rf $(B)/test-classes && mkdir -p $(B)/test-classes
	@echo "javac: tests ($(words $(TEST_SRC)) files)"
	@$(JAVAC) --release 25 -Xlint:all,-serial,-try -d $(B)/test-classes \
	  -cp $(B)/classes:$(JUNIT_JAR):$(JSON_JAR):$(H2_JAR) $(TEST_SRC)
	@touch $@

TEST_CP := $(B)/test-classes:$(B)/classes:$(JUNIT_JAR):$(JSON_JAR):$(H2_JAR):$(MYSQL_JAR)

test: bin/ibex $(B)/test.stamp check-deps
	@JAVA=$(JAVA) sh src/build/run-tests.sh "$(TEST_CP)" $(abspath bin/ibex) $(TESTS)

# The fuzz tests with many more iterations than in `make test` (FUZZ_ITERATIONS each; the wire codec
# fuzz gets 50 times that): wire codec, TOML reader, handshake against a real agent port, the API.
# FUZZ_SEED=N varies the seed (default: each test's fixed seed); a failure prints the seed it used.
FUZZ_ITERATIONS ?= 20000
FUZZ_SEED ?=

fuzz: bin/ibex $(B)/test.stamp
	$(JAVA) -cp "$(TEST_CP)" ibex.wire.WireFuzzTest $(or $(FUZZ_SEED),20260125) $$(( $(FUZZ_ITERATIONS) * 50 ))
	@IBEX_TEST_OPTS="-Dibex.fuzz.iterations=$(FUZZ_ITERATIONS) $(if $(FUZZ_SEED),-Dibex.fuzz.seed=$(FUZZ_SEED))" \
	  JAVA=$(JAVA) sh src/build/run-tests.sh "$(TEST_CP)" $(abspath bin/ibex) Fuzz

run: bin/ibex
	@sh src/build/run-local.sh

dist: bin/ibex
	@rm -rf $(B)/dist && mkdir -p $(B)/dist/ibex-$(VERSION) dist
	cp -a $(IMAGE)/. $(B)/dist/ibex-$(VERSION)/
	cp -a etc sql service README.md $(B)/dist/ibex-$(VERSION)/
	tar -C $(B)/dist -czf dist/ibex-$(VERSION)-linux-amd64.tar.gz ibex-$(VERSION)
	@echo dist/ibex-$(VERSION)-linux-amd64.tar.gz

clean:
	rm -rf $(B) bin dist

distclean: clean
	rm -rf $(DEPS)
