/*
 * limits.h - every bound in dropnet, each with its reason.
 *
 * A queue, batch, retry, message size or loop without a bound here is a bug.
 */
#ifndef DN_LIMITS_H
#define DN_LIMITS_H

/* Wire protocol version spoken by this build (proto/dropnet.proto). */
#define DN_PROTO_VERSION 1u

/* Largest message any socket accepts (NNG_OPT_RECVMAXSZ). A 2,000-line
 * order is ~60 KiB; 1 MiB leaves room for a sync batch and stops one peer
 * from making a server allocate hundreds of MiB. */
#define DN_MSG_MAX_BYTES (1024u * 1024u)

/* Longest Raft log entry of a coordinator group (coordinator/replica/):
 * the leader packs a machine batch into entries of at most this many bytes
 * (one request is at most DN_MSG_MAX_BYTES, so one always fits); the store
 * image of a genesis entry is far smaller. Bounds what a follower unpacks. */
#define DN_REPLICA_ENTRY_MAX_BYTES (4u * 1024u * 1024u)

/* Largest image of the coordinator machine's memory (memory.c) a snapshot
 * carries at DN_HUBS_DEFAULT hubs: every hub's last stock report
 * (hubs * DN_STOCK_REPORT_MAX rows of ~80 B, ~42 MiB) dominates; the rest is a
 * few hundred KiB. memory.c scales it by hubs_max / DN_HUBS_DEFAULT. */
#define DN_COORD_MEMORY_MAX_BYTES (64u * 1024u * 1024u)

/* Per-socket receive caps (NNG_OPT_RECVMAXSZ), each sized from the largest
 * valid message that socket takes; a bigger message closes the connection
 * before anything is unpacked.
 * Ingest: one SubmitOrder is at most DN_ORDER_LINES_MAX lines of a
 * DN_ID_MAX sku (~75 B each with framing) plus six DN_ID_MAX strings and two
 * doubles: under 3 KiB. A SubmitBatch carries up to DN_INGEST_BATCH_MAX
 * orders; a storefront's typical order is ~100 B, so 256 KiB carries a full
 * batch of orders up to ~1 KiB each (a client splits bigger ones by bytes),
 * and 128 contexts hold at most 32 MiB of requests in flight. The socket
 * takes this plus DN_AUTH_ENVELOPE_MAX: the Signed envelope around it. */
#define DN_INGEST_MSG_MAX (256u * 1024u)
/* Orders in one SubmitBatch: enough to fill a commit (the batching client
 * coalesces up to this many), small enough that one batch's acks wait on
 * one bounded piece of work. More is answered INVALID (field "batch"). */
#define DN_INGEST_BATCH_MAX 256u
/* Hub sync: DN_STREAM_BATCH_MAX events of < 2 KiB plus a stock report of
 * DN_STOCK_REPORT_MAX levels (~75 B each): ~670 KiB, under the global cap. */
#define DN_HUBSYNC_MSG_MAX DN_MSG_MAX_BYTES
/* Ops: a drop spec with its insider list is the largest request. */
#define DN_OPS_MSG_MAX DN_MSG_MAX_BYTES
/* Hub terminal: DN_SCANS_MAX scans of a DN_ID_MAX code: ~68 KiB. */
#define DN_TERM_MSG_MAX (256u * 1024u)

/* Bytes protobuf-c may allocate to unpack one message. Unpacked structs are
 * bigger than their wire form (an empty sub-message is 2 wire bytes and a
 * ~100-byte struct), so without this a 1 MiB message could unpack into
 * ~80 MiB. The largest valid message, a full hub sync batch (256 events of
 * 32 lines, 2048 stock levels), unpacks into ~1.5 MiB. */
#define DN_UNPACK_MAX_BYTES (4u * 1024u * 1024u)

/* Bytes one reply from our own (authenticated) server, or one of the
 * process's own stored messages, may unpack into: a sanity bound only -
 * a 1 MiB ops reply of short rows unpacks into ~5 MiB. */
#define DN_UNPACK_TRUSTED_MAX_BYTES (64u * 1024u * 1024u)

/* Bytes of unpacked peer requests alive at once in one process, over every
 * socket and thread: a batch of 32 hub syncs may hold 32 messages while it
 * is served. Beyond this an unpack fails (the peer gets MALFORMED and
 * retries) instead of the process growing. Replies and stored messages
 * count towards it but are never refused by it. */
#define DN_UNPACK_LIVE_MAX (16u * 1024u * 1024u)

/* Largest PEM file (CA chain, CRL, certificate, key) read for TLS. */
#define DN_TLS_FILE_MAX (1024u * 1024u)

/* Identity (io/auth.h, SEMANTICS.md "Transport and identity"). A peer's
 * secret: 32 random bytes, the HMAC-SHA256 block's natural key size. */
#define DN_AUTH_KEY_BYTES 32u
/* Bytes a Signed envelope adds around a request's body at most: version,
 * the body's tag and length, a DN_ID_MAX peer name, the counter and the
 * 32-byte MAC, each with its tag (~120 B). */
#define DN_AUTH_ENVELOPE_MAX 128u
/* Peers in one network's table (hubs, storefronts, operators): the
 * coordinator holds it in memory and looks names up linearly per request. */
#define DN_PEERS_MAX 4096u
/* An operator request whose counter (the sender's UTC microseconds) is
 * further than this from the coordinator's wall clock is refused: a
 * request held back cannot be played later. Clocks agree to well under
 * a second (NTP); a minute leaves room for a slow network. */
#define DN_AUTH_WINDOW_MS 60000

/* Latest wall time the test clock may be set to (`dropctl clock set`),
 * UTC ms: 9999-12-31. Far enough for any test, and the clock arithmetic
 * (offsets, durations) stays well inside int64. */
#define DN_TEST_CLOCK_MS_MAX 253402300799999LL

/* A demand bucket a request may ask for (ops demand, rebalance), ms: the
 * config's bounds for rebalance.bucket_ms (1 s .. 1 day); beyond them the
 * history arithmetic (buckets x width) could leave int64. */
#define DN_BUCKET_MS_MIN 1000
#define DN_BUCKET_MS_MAX 86400000

/* Lines per order: creators' carts are small; bounds routing work. */
#define DN_ORDER_LINES_MAX 32u

/* Units of one line: no drop sells more than this to one buyer. */
#define DN_LINE_QTY_MAX 10000u

/* Transfers one planned van trip is split into. A hub takes no command
 * line over DN_LINE_QTY_MAX units, so a hub-to-hub transfer is at most
 * that many units and a trip carrying more becomes several transfers;
 * this bounds the transfers (rows and commands) one rebalance action
 * writes. 16 x 10,000 units is far above any micro-drop's van. */
#define DN_TRIP_TRANSFERS_MAX 16u

/* Units one van trip may carry: what its transfers can hold. */
#define DN_TRIP_UNITS_MAX ((int64_t)DN_TRIP_TRANSFERS_MAX * DN_LINE_QTY_MAX)

/* Longest id-like string (sku, key, customer, hub id, bin, tracking). */
#define DN_ID_MAX 64u

/* Hubs in one network: coordinator.hubs_max (config; the registry and the
 * per-hub working arrays are sized from it at coord_open). DN_HUBS_DEFAULT
 * is its default (the fixed bound of earlier builds); DN_HUBS_CAP its
 * largest value: every hub speaks with its own name from the peers table,
 * which holds at most DN_PEERS_MAX names, so a larger registry could not be
 * filled by authenticated hubs; and at this many hubs the memory the
 * coordinator reserves per hub (registry, routing scratch, the spatial
 * index's worst case of 4 KB) stays near 20 MB and one rebalance plan's
 * pair table (planner.c, destinations x sources <= n^2/4 of 2.1 B) under
 * 9 MB. Routing itself finds the hubs in range through core/hubindex.h,
 * which holds up to HUBINDEX_HUBS_MAX. */
#define DN_HUBS_DEFAULT 256u
#define DN_HUBS_CAP DN_PEERS_MAX

/* Service radius bounds, km: below 1 km is a typo, above 1000 is not local. */
#define DN_RADIUS_KM_MIN 1.0
#define DN_RADIUS_KM_MAX 1000.0

/* Hubs one split order may be spread over (split policy `allowed`):
 * more parcels than this is worse for the buyer than a SOLD_OUT. */
#define DN_SPLIT_HUBS_MAX 4u

/* nng contexts per server socket: requests in flight at once per socket. */
#define DN_SERVER_CTX_MAX 256u

/* Requests waiting for the loop thread; beyond this a request is answered
 * UNAVAILABLE at once (backpressure) rather than queued without bound. */
#define DN_LOOP_QUEUE_MAX 4096u

/* Orders in one group commit: bounds the time an ack waits on the batch. */
#define DN_GROUP_COMMIT_MAX 512u

/* Commands or events in one stream batch: bounds a sync message's size
 * (an order command is < 2 KiB, so 256 of them stay far below the cap). */
#define DN_STREAM_BATCH_MAX 256u

/* Events a hub keeps in its outbox below the coordinator's ack: how far
 * back a coordinator restored from an older copy can be given them again
 * (at ~100 bytes each, a few MiB). */
#define DN_OUTBOX_KEEP 65536u

/* SKUs reported in one stock snapshot from a hub. */
#define DN_STOCK_REPORT_MAX 2048u

/* Units one hub event may carry (a receipt, a return, a count's delta): a
 * whole drop is at most 10,000,000 units (OPS_DROP_CREATE), so a larger
 * event is forged or a bug; the coordinator rejects it (logged, counted). */
#define DN_EVENT_UNITS_MAX 10000000LL

/* Units of one (hub, sku) ledger row: far above any hub's shelves, far
 * below int64 overflow when every hub's rows and counters are summed. An
 * event that would take on_hand past it is rejected. */
#define DN_STOCK_ROW_UNITS_MAX 1000000000LL

/* SKUs one hub's ledger rows may cover: a hub with more could not send a
 * consistent stock snapshot (DN_STOCK_REPORT_MAX), and every row costs the
 * coordinator memory. An event naming one SKU more is rejected. */
#define DN_HUB_SKUS_MAX DN_STOCK_REPORT_MAX

/* Scans in one pick request. */
#define DN_SCANS_MAX 1024u

/* Orders returned by one queue listing. */
#define DN_QUEUE_LIST_MAX 500u

/* Hub health and the claim lease (proto/SEMANTICS.md "Hub health").
 * DN_COORD_STALL_MS: the coordinator's shell calls the machine at least
 * every 250 ms (its tick), so a longer gap in the machine's clock is time it
 * did not run (a stall): hub silence is not counted for the part of a gap
 * beyond this bound. DN_LEASE_MAX_MS: the longest claim lease a hub accepts,
 * so a wrong coordinator config cannot fence re-brokering for hours.
 * DN_LEASE_SKEW_MS: what the coordinator waits beyond a lease before it
 * counts it as surely run out - the hub's and the coordinator's monotonic
 * clocks may differ in rate (NTP slews up to 0.05%, far less than this over
 * DN_LEASE_MAX_MS) and the hub starts its lease before the reply left. */
#define DN_COORD_STALL_MS 1000u
#define DN_LEASE_MAX_MS 60000u
#define DN_LEASE_SKEW_MS 2000u

#endif
