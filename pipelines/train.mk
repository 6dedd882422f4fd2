# The training step shared by the experiment makefiles (included; not run alone).
# Needs: BIN, OUT, RUN, TRAIN_ARGS (options that define the run), TRAIN_SHARDS,
# DEVICE, THREADS.
#
# $(OUT)/train.args holds TRAIN_ARGS; it is rewritten only when they change, so
# changing one (e.g. ITERS) retrains and nothing else does. The stamp
# $(OUT)/train.done is written only when sg-train finished every iteration. An
# interrupted run (RUN/latest present, same options, shards older than the run) is
# resumed by the next make; anything else starts over (--force).

$(OUT)/train.args: FORCE
	@mkdir -p $(@D)
	@echo '$(strip $(TRAIN_ARGS)) $(TRAIN_SHARDS)' | cmp -s - $@ || echo '$(strip $(TRAIN_ARGS)) $(TRAIN_SHARDS)' > $@

$(OUT)/train.done: $(OUT)/train.args $(TRAIN_SHARDS)
	@mode=--force; \
	if test -e $(RUN)/latest && cmp -s $(OUT)/train.args $(OUT)/run.args; then \
	    mode=--resume; \
	    for s in $(TRAIN_SHARDS); do test $(RUN)/config.json -nt $$s || mode=--force; done; \
	fi; \
	cp $(OUT)/train.args $(OUT)/run.args; \
	echo "$(BIN)/sg-train -o $(RUN) $$mode $(strip $(TRAIN_ARGS)) --device $(DEVICE) --threads $(THREADS) $(TRAIN_SHARDS)"; \
	$(BIN)/sg-train -q -o $(RUN) $$mode $(TRAIN_ARGS) --device $(DEVICE) --threads $(THREADS) $(TRAIN_SHARDS)
	touch $@
