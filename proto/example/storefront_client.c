/*
 * storefront_client.c - the smallest useful dropnet storefront: submit one
 * order, retry with the same key until the coordinator answers, print the
 * answer. Read it next to proto/STOREFRONT.md. Built as `storefront_example`.
 *
 *   storefront_example URL KEY CUSTOMER SKU QTY LAT LON
 *
 * It uses nng and protobuf-c directly (not dropnet's internal libraries) so a
 * storefront developer can lift it as-is.
 */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "proto/dropnet.pb-c.h"

/* Attempts before giving up; every retry reuses the key, so a retry can
 * never buy twice. */
#define EXAMPLE_ATTEMPTS 5
#define EXAMPLE_TIMEOUT_MS 3000

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		printf("usage: storefront_example URL KEY CUSTOMER SKU QTY LAT LON\n"
		    "Submits one order to the coordinator's ingest socket URL and prints\n"
		    "the answer, retrying with the same key (see proto/STOREFRONT.md).\n");
		return 0;
	}
	if (argc != 8) {
		fprintf(stderr, "usage: storefront_example URL KEY CUSTOMER SKU QTY LAT LON\n");
		return 2;
	}
	Dropnet__OrderLine line = DROPNET__ORDER_LINE__INIT;
	line.sku = argv[4];
	line.qty = (uint32_t)strtoul(argv[5], NULL, 10);
	Dropnet__OrderLine *lines[] = {&line};
	Dropnet__SubmitOrder order = DROPNET__SUBMIT_ORDER__INIT;
	order.version = 1;
	order.storefront = "example-shop";
	order.order_key = argv[2];
	order.customer = argv[3];
	order.n_lines = 1;
	order.lines = lines;
	order.lat = strtod(argv[6], NULL);
	order.lon = strtod(argv[7], NULL);
	size_t len = dropnet__submit_order__get_packed_size(&order);
	uint8_t *buf = malloc(len);
	if (buf == NULL) {
		return 1;
	}
	dropnet__submit_order__pack(&order, buf);

	nng_socket sock;
	if (nng_req0_open(&sock) != 0 || nng_dial(sock, argv[1], NULL, NNG_FLAG_NONBLOCK) != 0) {
		fprintf(stderr, "cannot dial %s\n", argv[1]);
		return 1;
	}
	nng_setopt_ms(sock, NNG_OPT_SENDTIMEO, EXAMPLE_TIMEOUT_MS);
	nng_setopt_ms(sock, NNG_OPT_RECVTIMEO, EXAMPLE_TIMEOUT_MS);
	for (int attempt = 1; attempt <= EXAMPLE_ATTEMPTS; attempt++) {
		void *reply = NULL;
		size_t rlen = 0;
		if (nng_send(sock, buf, len, 0) != 0 ||
		    nng_recv(sock, &reply, &rlen, NNG_FLAG_ALLOC) != 0) {
			fprintf(stderr, "attempt %d: no answer, retrying with the same key\n", attempt);
			continue;
		}
		Dropnet__OrderAck *ack = dropnet__order_ack__unpack(NULL, rlen, reply);
		nng_free(reply, rlen);
		if (ack == NULL) {
			fprintf(stderr, "reply did not decode\n");
			break;
		}
		const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
		    &dropnet__status__descriptor, ack->status);
		const char *name = v ? v->name : "UNKNOWN";
		if (ack->status == DROPNET__STATUS__UNAVAILABLE) {
			fprintf(stderr, "attempt %d: UNAVAILABLE, retrying with the same key\n", attempt);
			dropnet__order_ack__free_unpacked(ack, NULL);
			continue;
		}
		printf("%s hub=%s order_id=%llu duplicate=%d field=%s message=%s\n", name,
		    ack->hub, (unsigned long long)ack->order_id, ack->duplicate, ack->field,
		    ack->message);
		dropnet__order_ack__free_unpacked(ack, NULL);
		nng_close(sock);
		free(buf);
		return 0;
	}
	nng_close(sock);
	free(buf);
	return 1;
}
