#!/usr/bin/env bash
# Goal: the batching client (libdropnet through loadgen --batch) against a
# real coordinator over TLS sells exactly the stock, never more: 800 buyers
# in SubmitBatch messages of up to 16 orders for 500 units accept exactly
# 500; every order got its own answer. The same 800 keys again (the same
# batches resent) are all answered duplicate with nothing new allocated:
# each order in a batch keeps its own exactly-once retry. A bare
# SubmitOrder storefront (dropctl order submit) still gets its bare answer.
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
LOADGEN=$(net_prog loadgen)
net_start "london"

SKU=batch-tee
receive_and_wait london "$SKU" 500
[[ $(stock_sum "$SKU" sellable) == 500 ]] || fail "sellable is not 500 before the drop"

run_lg() {
	as_storefront "$LOADGEN" --ingest "$DROPNET_INGEST" --buyers 800 --concurrency 32 \
		--sku "$SKU" --seed 3 --key-prefix bat --ship-to 51.5,-0.12 --batch 16 --inflight 2 --json
}
lg=$(run_lg) || fail "loadgen failed: $lg"
log "loadgen: $lg"
[[ $(jget "$lg" 'j["sent"]') == 800 ]] || fail "sent $(jget "$lg" 'j["sent"]')"
[[ $(jget "$lg" 'j["errors"]') == 0 ]] || fail "errors: $lg"
[[ $(jget "$lg" 'j["accepted"]') == 500 ]] || fail "accepted $(jget "$lg" 'j["accepted"]'), want 500"
[[ $(jget "$lg" 'j["accepted"] + j["rejected"].get("SOLD_OUT", 0)') == 800 ]] || fail "not every order answered: $lg"
[[ $(stock_sum "$SKU" allocated) == 500 ]] || fail "allocated $(stock_sum "$SKU" allocated), want 500"
ok "batches of 16: exactly 500 of 800 accepted, each order answered"

lg2=$(run_lg) || fail "loadgen (again) failed: $lg2"
[[ $(jget "$lg2" 'j["duplicates"]') == 800 ]] || fail "resent batches: $(jget "$lg2" 'j["duplicates"]') duplicates, want 800: $lg2"
[[ $(jget "$lg2" 'j["accepted"]') == 500 ]] || fail "resent batches changed answers: $lg2"
[[ $(stock_sum "$SKU" allocated) == 500 ]] || fail "allocated moved on resend: $(stock_sum "$SKU" allocated)"
ok "the same batches again: 800 first answers, duplicate, nothing allocated twice"

a=$(dc --json order submit --key bare-1 --customer zed --sku "$SKU" --qty 1 --lat 51.5 --lon -0.12)
[[ $(jget "$a" 'j["status"]') == SOLD_OUT && $(jget "$a" 'j["duplicate"]') == false ]] || fail "bare order: $a"
ok "a bare SubmitOrder still gets a bare OrderAck"
audit_clean || fail "audit not clean"
ok "audit clean"
