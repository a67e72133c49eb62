#!/usr/bin/env bash
# Goal: the full-screen pickterm, driven through tmux like a picker with a
# scanner, against a real network (coordinator + hub london): the live queue
# shows new orders without a keypress; `n` claims the oldest; a wrong scan
# (SKU before the bin) beeps and says what was expected and changes nothing
# at the hub; bin then SKU scans count up; pack confirms the line; ship takes
# a typed tracking number; `s` shorts the rest of a line (the short reaches
# the coordinator's ledger); a batch of 5 small orders is one walk whose
# lines are sorted by bin (A-01, B-02, then MAIN). Afterwards the hub's own
# socket (pickterm --json queue/status/stock) shows every order shipped with
# the right stock. Every screen is captured (README).
source "$(dirname "$0")/lib/net.sh"
source "$(dirname "$0")/lib/tmux.sh"
net_setup "$1"
tmux_setup
net_start "london"

pt london receive tee 20 --bin A-01 >/dev/null || fail "receive tee"
pt london receive cap 20 --bin B-02 >/dev/null || fail "receive cap"
receive_and_wait london mug 20
wait_until 20 "coordinator sees tee" stock_is london tee on_hand 20
wait_until 20 "coordinator sees cap" stock_is london cap on_hand 20

term_start a alice
wait_screen 10 a 'london \| hubd UP'
wait_screen 5 a 'no open orders'
shot a 01-queue-empty

# The queue updates by itself (no key pressed) when orders arrive.
submit flow-tee tee 2
submit flow-cap cap 2
wait_screen 10 a 'flow-tee'
wait_screen 10 a 'flow-cap'
wait_screen 5 a 'queued 2 '
shot a 02-queue
ok "live queue shows both orders without a keypress"

tee_id=$(order_id_of flow-tee)
cap_id=$(order_id_of flow-cap)

# Claim the next order by priority: the oldest, flow-tee.
key a n
wait_screen 5 a "order $tee_id: scan bin A-01"
[[ $(jget "$(hubq)" '[o["claimed_by"] for o in j["orders"] if o["order_id"] == '"$tee_id"'][0]') == alice ]] || fail "hub does not show the claim"
shot a 03-pick-scan-bin
ok "n claimed order $tee_id for alice; screen asks for bin A-01"

# Wrong: the SKU before the bin. Refused on screen, nothing at the hub.
scan a tee
wait_screen 5 a '! wrong scan tee: expected bin A-01'
shot a 04-pick-wrong-scan
[[ $(jget "$(hubq)" '[o["lines"][0]["picked"] for o in j["orders"] if o["order_id"] == '"$tee_id"'][0]') == 0 ]] || fail "wrong scan counted"
# Right: bin, then the SKU twice; the count goes up per scan.
scan a A-01
wait_screen 5 a 'bin A-01 ok; scan sku tee'
scan a cap
wait_screen 5 a '! wrong scan cap: expected sku tee'
scan a tee
wait_screen 5 a 'tee +1/2 +'"$tee_id"
shot a 05-pick-counting
scan a tee
wait_screen 5 a "order $tee_id: scan each line into the parcel"
shot a 06-pack
[[ $(jget "$(hubq)" '[o["state"] for o in j["orders"] if o["order_id"] == '"$tee_id"'][0]') == picked ]] || fail "not picked at the hub"
ok "wrong scans refused with the expected bin/sku; right scans picked the order"

# Pack: scanning the line's SKU confirms it; the order packs itself.
scan a tee
wait_screen 5 a "order $tee_id: scan or type the tracking number"
shot a 07-ship
[[ $(jget "$(hubq)" '[o["state"] for o in j["orders"] if o["order_id"] == '"$tee_id"'][0]') == packed ]] || fail "not packed at the hub"
scan a TRK-TEE-1
wait_screen 5 a "ship order $tee_id with TRK-TEE-1: order $tee_id shipped"
wait_screen 5 a 'packed today 1'
ok "packed and shipped with a typed tracking number"

# Short: claim flow-cap, find one of two, `s` declares the other missing.
key a n
wait_screen 5 a "order $cap_id: scan bin B-02"
scan a B-02
scan a cap
wait_screen 5 a 'cap +1/2 +'"$cap_id"
key a s
wait_screen 5 a "short 1 x cap \(found 1\) on order $cap_id"
shot a 08-short
wait_screen 5 a "order $cap_id: scan each line"
scan a cap
wait_screen 5 a "order $cap_id: scan or type the tracking number"
scan a TRK-CAP-1
wait_screen 5 a 'packed today 2'
ok "s shorted the missing unit; the rest packed and shipped"

# The short and both shipments reach the coordinator's ledger.
wait_until 15 "coordinator: cap on_hand 18 (1 shipped, 1 short)" stock_is london cap on_hand 18
wait_until 15 "coordinator: tee on_hand 18" stock_is london tee on_hand 18
[[ $(stock_field london cap allocated) == 0 ]] || fail "cap still allocated"

# A batch of 5 small orders: one walk, lines sorted by bin.
submit b1 mug 1
submit b2 tee 1
submit b3 cap 1
submit b4 mug 1
submit b5 tee 1
wait_screen 10 a 'queued 5 '
key a b
wait_screen 5 a 'orders \[5\]:'
shot a 09-batch-form
scan a ""
wait_screen 5 a 'PICK +5 orders, 5 lines along the pick path'
shot a 10-batch-walk
# The walk on screen is in bin order: A-01 twice, B-02, MAIN twice.
bins=$(screen a | grep -E '^[> ] (A-01|B-02|MAIN) ' | cut -c3-12 | tr -d ' ' | tr '\n' ' ')
[[ $bins == "A-01 A-01 B-02 MAIN MAIN " ]] || fail "walk not in bin order: '$bins'"
ok "batch of 5 claimed as one walk, sorted A-01, B-02, MAIN"

# Walk it by the screen's own prompt, as a picker would.
for i in $(seq 1 40); do
	p=$(screen a | sed -n '21p')
	if [[ $p =~ scan\ bin\ ([A-Z0-9-]+) ]]; then scan a "${BASH_REMATCH[1]}"
	elif [[ $p =~ scan\ sku\ ([a-z]+) ]]; then scan a "${BASH_REMATCH[1]}"
	elif [[ $p =~ scan\ each\ line ]]; then
		s=$(screen a | awk '/^  \[ \] /{print $3; exit}'); scan a "$s"
	elif [[ $p =~ tracking ]]; then scan a "TRK-B-$i"
	elif [[ $p =~ ^n\ next ]]; then break
	fi
	# Let the answer land before reading the next prompt (a pack of a
	# several-line order keeps its prompt: then just go on after 3 s).
	for _ in $(seq 1 30); do
		[[ $(screen a | sed -n '21p') != "$p" ]] && break
		sleep 0.1
	done
done
wait_screen 10 a 'packed today 7'
shot a 11-after-batch
ok "batch walked, packed and shipped"

# The hub's own books, through its socket.
q=$(hubq)
[[ $(jget "$q" 'len(j["orders"])') == 0 ]] || fail "orders left open: $q"
st=$(pt london --json status)
[[ $(jget "$st" 'j["packed_today"]') == 7 ]] || fail "status packed_today: $st"
[[ $(jget "$st" 'j["queued"]') == 0 && $(jget "$st" 'j["in_progress"]') == 0 ]] || fail "status counts: $st"
hs=$(pt london --json stock)
[[ $(jget "$hs" '{s["sku"]: s["on_hand"] for s in j["stock"]}') == '{"cap": 17, "mug": 18, "tee": 16}' ]] || fail "hub stock: $hs"
wait_until 15 "coordinator agrees: tee 16" stock_is london tee on_hand 16
audit_clean || fail "audit"
ok "hub: nothing open, packed_today 7, stock tee 16 cap 17 mug 18; audit clean"
